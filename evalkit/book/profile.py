"""A profile: which tasks, embeddings, classifiers and tables a book build computes (see :mod:`evalkit.book.profiles`
for the YAML schema, loading and validation)."""
from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..config import EvalkitError

NAMED_PROFILES = ("demo", "paper", "test")
TABLE_IDS = ("I", "II", "III", "IV", "V")
TABLE_TITLES = {
    "I": "80 % training data",
    "II": "10 % training data",
    "III": "early vs. late fusion",
    "IV": "same embedding, different training content",
    "V": "small vs. large embedding",
}
FUSIONS = ("late", "early")
POOLINGS = ("mean", "mean+std")
STANDARD_FRACTIONS = [0.05, 0.1, 0.2, 0.4, 0.8]

#: The baseline CNNs when a profile does not say otherwise: the authors' T3 baseline and its input, with the input of
#: their T1 model for T1 / D1, and Han et al.'s architecture on its mel patches for T2 / D2.
DEFAULT_BASELINE = {
    "default": {"embedding": "cnn-input-t3", "classifier": "cnn"},
    "D1": {"embedding": "cnn-input-t1", "classifier": "cnn"},
    "T1": {"embedding": "cnn-input-t1", "classifier": "cnn"},
    "D2": {"embedding": "cnn-input-han", "classifier": "cnn-han"},
    "T2": {"embedding": "cnn-input-han", "classifier": "cnn-han"},
}

#: Keys of the YAML schema (checked by :func:`evalkit.book.profiles.validate`).
_TOP_KEYS = {"name", "description", "tasks", "task_params", "repetitions", "seed", "embeddings", "classifiers",
             "baseline", "baseline_repetitions", "tables", "learning_curve", "paper_rows", "teaching", "test_size",
             "claims"}
_TABLE_KEYS = {"embeddings", "train_fraction", "fusion", "pooling", "baseline", "classifiers"}
_CURVE_KEYS = {"embeddings", "classifier", "train_fractions", "repetitions", "baseline"}
_TEACHING_KEYS = {"task", "embedding", "classifier", "train_fractions", "repetitions", "examples_per_class", "baseline"}
#: The teaching chapter's training shares unless its profile names others.
TEACHING_FRACTIONS = [0.1, 0.4, 0.8]
_PAPER_ROW_KEYS = {"embedding", "content", "emb_size"}
#: Roles of the claims: the embedding label and classifier that play the authors' "OpenL3 + SVM" (named before any
#: result exists, so that no claim compares a configuration chosen as the best on the same runs).
_CLAIMS_KEYS = {"embedding", "classifier"}


class ProfileError(EvalkitError, ValueError):
    """A profile that cannot be used; the message names the file, the key and what is valid."""



@dataclass
class Profile:
    """A validated profile. Build it with :func:`load_profile` or :func:`single_run_profile`."""

    name: str
    tasks: list
    embeddings: dict
    description: str = ""
    task_params: dict = field(default_factory=dict)
    repetitions: int = 3
    seed: int = 0
    classifiers: list = field(default_factory=lambda: ["svm"])
    baseline: dict | None = None
    baseline_repetitions: int | None = None
    tables: dict = field(default_factory=dict)
    learning_curve: dict | None = None
    paper_rows: dict = field(default_factory=dict)
    teaching: dict | None = None
    test_size: float = 0.2
    claims: dict = field(default_factory=dict)
    path: Path | None = None
    single_run: bool = False
    _tasks: dict = field(default_factory=dict, repr=False, compare=False)
    _extractors: dict = field(default_factory=dict, repr=False, compare=False)
    _fingerprints: dict = field(default_factory=dict, repr=False, compare=False)

    # ----------------------------------------------------------------------------------- identity
    def as_dict(self) -> dict:
        """The profile's content (what determines its results), as plain data."""
        keys = ["name", "description", "tasks", "task_params", "repetitions", "seed", "embeddings", "classifiers",
                "baseline", "baseline_repetitions", "tables", "learning_curve", "paper_rows", "teaching", "test_size",
                "claims"]
        return {k: copy.deepcopy(getattr(self, k)) for k in keys}

    @property
    def fingerprint(self) -> str:
        """Hash of the profile's content (16 hex)."""
        text = json.dumps(self.as_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def is_demo(self) -> bool:
        """True when the tasks are the demo stand-ins D1–D6 (not the paper's T1–T6)."""
        return all(str(t).upper().startswith("D") and len(str(t)) == 2 for t in self.tasks)

    @property
    def task_ids(self) -> list[str]:
        """Short task ids (a folder task's id is its folder name)."""
        return [self.task(t).id for t in self.tasks]

    # ------------------------------------------------------------------------------------ lookups
    def task(self, task):
        """The :class:`~evalkit.tasks.Task` of a task entry or id (built once, with ``task_params``)."""
        from ..data.registry import get_task
        from ..data.tasks import Task

        if isinstance(task, Task):
            return task
        key = str(task)
        if key not in self._tasks:
            matches = [t for t in self._tasks.values() if t.id == key]  # a folder task asked for by its id
            if matches:
                return matches[0]
            self._tasks[key] = get_task(key, **self.task_params)
        return self._tasks[key]

    def extractor(self, embedding: str):
        """The extractor of a label or spec, built once per profile: a model loaded for one task serves the
        others (musicnn keeps its model in a worker process). :meth:`close` releases them."""
        from ..embed.registry import get_extractor

        spec = self.spec(embedding)
        if spec not in self._extractors:
            self._extractors[spec] = get_extractor(spec)
        return self._extractors[spec]

    def close(self) -> None:
        """Release the models of :meth:`extractor` (worker processes); they are rebuilt when needed again."""
        for extractor in self._extractors.values():
            extractor.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def fingerprint_of(self, task) -> str:
        """:func:`~evalkit.learn.experiments.task_fingerprint` of a task, computed once per profile."""
        from ..learn.experiments import task_fingerprint

        task = self.task(task)
        if task.id not in self._fingerprints:
            self._fingerprints[task.id] = task_fingerprint(task)
        return self._fingerprints[task.id]

    def spec(self, label: str) -> str:
        """Embedding spec of a label of ``embeddings`` (other strings are taken as specs themselves)."""
        return self.embeddings.get(label, label)

    @property
    def main_classifier(self) -> str:
        """The classifier of the overview figures: the linear SVM if the profile has it."""
        return "svm" if "svm" in self.classifiers else self.classifiers[0]

    def baseline_config(self, task) -> dict:
        """``{"embedding": spec, "classifier": spec}`` of the baseline CNN of a task."""
        if not self.baseline:
            raise ProfileError(f"profile {self.name}: no baseline configured")
        # by the task's entry or id (a folder task's id is its folder's name): no need to build the task
        entry = str(getattr(task, "id", task))
        config = self.baseline.get(entry) or self.baseline.get(Path(entry).name) or self.baseline.get("default")
        if config is None:
            raise ProfileError(f"profile {self.name}: baseline has no entry for task {entry} and no 'default'")
        return config

    def table(self, table_id: str) -> dict | None:
        """The normalised spec of table ``table_id`` (fusion as a list, classifiers filled in), or None."""
        spec = self.tables.get(table_id)
        if spec is None:
            return None
        out = dict(spec)
        fusion = out.get("fusion", "late")
        out["fusion"] = [fusion] if isinstance(fusion, str) else list(fusion)
        out.setdefault("pooling", "mean")
        out.setdefault("baseline", False)
        out.setdefault("train_fraction", 0.8)
        out["classifiers"] = list(out.get("classifiers") or self.classifiers)
        return out

    def curve(self) -> dict | None:
        """The normalised learning-curve spec, or None."""
        if not self.learning_curve:
            return None
        out = dict(self.learning_curve)
        out.setdefault("classifier", self.main_classifier)
        out.setdefault("train_fractions", list(STANDARD_FRACTIONS))
        out.setdefault("repetitions", self.repetitions)
        out.setdefault("baseline", bool(self.baseline))
        out.setdefault("embeddings", list(self.embeddings))
        return out

    def teaching_config(self) -> dict:
        """The teaching notebook's small example: one task, one embedding and classifier, a few training shares."""
        curve = self.curve() or {}
        labels = list(self.embeddings)
        default_embedding = next((e for e in reversed(curve.get("embeddings", [])) if e in labels), labels[-1])
        out = {"task": self.tasks[min(1, len(self.tasks) - 1)], "embedding": default_embedding,
               "classifier": self.main_classifier, "train_fractions": list(TEACHING_FRACTIONS), "repetitions": 1,
               "examples_per_class": 2, "baseline": True}
        out.update(self.teaching or {})
        return out

    # ------------------------------------------------------------------------------------ running
    def run(self, task, embedding: str, classifier: str, *, fusion: str = "late", train_fraction: float = 0.8,
            pooling: str = "mean", repetitions: int | None = None, label: str | None = None):
        """Load (or, when missing, compute) one configuration with the profile's seed and repetitions.

        Returns the frame of :func:`evalkit.learn.run_experiment` with two more columns: ``label`` (the
        embedding's label in this profile) and ``task`` (the task id). ``evalkit book`` computes every configuration
        of :func:`evalkit.book.plan.plan` first, so the notebooks only read here.
        """
        from ..learn.experiments import run_experiment

        frame = run_experiment(self.task(task), self.extractor(embedding), classifier, fusion=fusion, pooling=pooling,
                               train_fraction=train_fraction, test_size=self.test_size,
                               repetitions=self.repetitions if repetitions is None else int(repetitions),
                               seed=self.seed, progress=False)
        return frame.assign(label=label or embedding, task=self.task(task).id)
