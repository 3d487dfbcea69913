"""What configurations will cost on this machine: the work they have left, in units, times the unit costs of
:class:`~evalkit.learn.calibration.Calibration`.

Only unfinished work counts: repetitions already in the result store cost nothing, and only files whose
embeddings are not in the cache are extracted (an extractor's model load counts once, when it has files to do).
The units of a configuration's fits come from its splits, computed as the run computes them: the training frames of
each repetition (from the files' durations and the embedding's window and hop), and for a CNN its epochs (all of
them, with validation recordings or without: :func:`expected_cnn_epochs`), its steps per epoch, and the patches it
scores.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data.audio import file_hash
from ..embed.cache import EmbeddingCache
from .classifiers import _validation_split
from .experiments import experiment_key
from .registry import get_classifier
from .splits import split_files
from .store import ResultStore

#: Stages of the estimate, in the order a configuration meets them.
STAGES = ("embedding extraction", "classifier fits", "CNN training")
#: Patches of each validation file a CNN scores per epoch (``_EpochMonitor.PATCHES_PER_FILE``).
VALIDATION_PATCHES = 4


@dataclass
class ConfigurationCost:
    """The estimated seconds of one configuration's unfinished work, per stage, and its units."""

    label: str
    seconds: dict = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    audio_seconds: float = 0.0
    fits: int = 0
    cnn_fits: int = 0
    cnn_epochs: float = 0.0

    @property
    def total(self) -> float:
        return float(sum(self.seconds.values()))


def expected_cnn_epochs(cnn) -> float:
    """Epochs a CNN is expected to train: all ``epochs``, with validation recordings too. Its patience counts the
    validation loss too, which keeps falling on the demo data: in the demo's cold build of 2026-12-07 (6e6a7c8) 35
    of its 36 fits ran all 50 epochs, one stopped at 44; the middle of ``min_epochs + patience`` and ``epochs``
    underestimated that stage by 17 %."""
    return float(int(cnn.epochs))


#: Epochs a network that stops early is expected to train, as a multiple of the fewest it can (``min_epochs +
#: patience``): the dense classifiers of the demo's cold build of 2026-12-07 (c1dc558, 504 fits, at most 200 epochs)
#: ran 35–41 epochs on average per classifier and fusion against their least, 25 (medians 25–28).
EARLY_STOP_EPOCHS = 1.5


def expected_epochs(model) -> float:
    """Epochs a classifier that trains by epochs is expected to run (1 for one that does not, e.g. the SVM): a
    network that stops early, :data:`EARLY_STOP_EPOCHS` × ``min_epochs + patience``, at most ``epochs``."""
    if not hasattr(model, "epochs"):
        return 1.0
    least = int(getattr(model, "min_epochs", 0) or 0) + int(getattr(model, "patience", 0) or 0)
    return float(min(int(model.epochs), EARLY_STOP_EPOCHS * least)) if least else float(int(model.epochs))


def samples_per_epoch(model, n: int) -> int:
    """Samples a classifier's epoch goes through on ``n`` training samples: a network that makes at least
    ``min_batches`` batches per epoch passes a small training set several times; others once."""
    n = int(n)
    least = int(getattr(model, "min_batches", 0) or 0) * int(getattr(model, "batch_size", 0) or 0)
    return n * max(1, -(-least // max(n, 1)))


def frames_per_file(durations, extractor) -> np.ndarray:
    """Frames each file gives (whole windows every hop, at least one), from its duration in seconds."""
    durations = np.asarray(durations, dtype=float)
    return np.maximum(1, np.floor((durations - float(extractor.window)) / float(extractor.hop) + 1e-9) + 1)


class Workload:
    """Estimates configurations' costs, sharing what they have in common (durations, cached files, extractions).

    Parameters
    ----------
    calibration : Calibration
    store : ResultStore, optional
        Where finished repetitions are found (default: the default store).
    cache : EmbeddingCache, optional
        Where cached embeddings are found (default: the default cache).
    models_stay_loaded : bool
        The work follows at once with the same extractors: a model the calibration loaded to measure it costs no
        load any more (an estimate alone, whose models are released, counts every load).
    """

    def __init__(self, calibration, *, store: ResultStore | None = None, cache: EmbeddingCache | None = None,
                 models_stay_loaded: bool = False):
        self.calibration, self.store, self.cache = calibration, store or ResultStore(), cache or EmbeddingCache()
        self.models_stay_loaded = models_stay_loaded
        self._durations: dict = {}
        self._extracted: set = set()
        self._loaded: set = set()

    def durations(self, task) -> np.ndarray:
        """Seconds of each file of a task (read from the headers once)."""
        import soundfile as sf

        if task.id not in self._durations:
            self._durations[task.id] = np.array([sf.info(str(f.path)).duration for f in task.files()])
        return self._durations[task.id]

    def configuration(self, config, *, label: str | None = None, fingerprint: str | None = None) -> ConfigurationCost:
        """The cost of a :class:`~evalkit.learn.distributed.Configuration`'s unfinished repetitions (and of the
        extraction they need, unless an earlier configuration of this workload extracts it)."""
        task, extractor = config.task, config.extractor
        key = experiment_key(task, extractor, config.classifier, config.fusion, config.pooling, config.train_fraction,
                             config.test_size, config.seed, fingerprint=fingerprint)
        stored = set(self.store.stored(key, config.repetitions))
        todo = [rep for rep in range(int(config.repetitions)) if rep not in stored]
        cost = ConfigurationCost(label or f"{task.id} · {extractor.spec} · {config.classifier}")
        if not todo:
            return cost
        self._add_extraction(cost, task, extractor)
        files = task.files()
        labels = np.array([f.label for f in files])
        groups = np.array([f.group for f in files])
        frames = frames_per_file(self.durations(task), extractor)
        for rep in todo:
            train, test = split_files(labels, groups, seed=config.seed + rep, test_size=config.test_size,
                                      train_fraction=config.train_fraction, classes=task.classes)
            model = get_classifier(config.classifier, random_state=config.seed + rep)
            if hasattr(model, "input_shape") and extractor.frame_shape is not None:
                self._add_cnn_fit(cost, config.classifier, model, extractor, labels[train], groups[train],
                                  frames[test], seed=config.seed + rep)
            else:
                samples = samples_per_epoch(model, len(train) if config.fusion == "early" else frames[train].sum())
                values = samples * extractor.dim * (2 if config.fusion == "early" and config.pooling == "mean+std" else 1)
                unit = self.calibration.classifier(config.classifier)
                cost.seconds["classifier fits"] += unit["fit"] + expected_epochs(model) * values * unit["per_value"]
                cost.fits += 1
        return cost

    def _add_extraction(self, cost: ConfigurationCost, task, extractor) -> None:
        """The files of ``task`` not in the cache, through ``extractor`` (once per workload)."""
        if (task.id, extractor.identity) in self._extracted:
            return
        self._extracted.add((task.id, extractor.identity))
        durations = self.durations(task)
        cacheable = getattr(extractor, "cacheable", True)
        missing = [i for i, f in enumerate(task.files())
                   if not cacheable or not self.cache.path(extractor, file_hash(f.path)).exists()]
        if not missing:
            return
        if cacheable:  # the pass that caches these files caches the related extractors' too (other layers of one net)
            self._extracted.update((task.id, other.identity) for other in extractor.related())
        unit = self.calibration.extractor(extractor)
        audio = float(durations[missing].sum())
        # a model loads once per build; one the calibration just measured on this very extractor is loaded already
        loaded = extractor.identity in self._loaded or (self.models_stay_loaded and id(extractor) in self.calibration.loaded)
        load = 0.0 if loaded else unit["load"]
        self._loaded.add(extractor.identity)
        cost.audio_seconds += audio
        cost.seconds["embedding extraction"] += load + audio * unit["per_audio_second"]

    def _add_cnn_fit(self, cost, spec: str, model, extractor, labels, groups, test_frames, *, seed: int) -> None:
        """One CNN fit: its fixed cost, ``epochs × (steps + validation patches)`` and the test patches it scores."""
        unit = self.calibration.cnn(spec, model, extractor.frame_shape)
        _, y_index = np.unique(labels, return_inverse=True)
        fit_files, val = _validation_split(y_index, groups, model.validation_fraction, seed,
                                           min_per_class=int(model.min_validation_recordings))
        epochs = expected_cnn_epochs(model)
        steps = -(-samples_per_epoch(model, len(fit_files)) // int(model.batch_size))
        val_patches = 0 if val is None else VALIDATION_PATCHES * len(val)
        per_epoch = steps * unit["step"] + val_patches * unit["patch"]
        cost.seconds["CNN training"] += unit["fit"] + epochs * per_epoch + float(test_frames.sum()) * unit["patch"]
        cost.cnn_fits += 1
        cost.cnn_epochs += epochs


def describe_costs(costs, calibration, *, finished: int = 0, total: int | None = None) -> str:
    """The estimate as one block for the console: the machine, each stage's units and time, and the total."""
    seconds = {stage: sum(c.seconds[stage] for c in costs) for stage in STAGES}
    audio = sum(c.audio_seconds for c in costs)
    fits, cnn_fits, epochs = (sum(getattr(c, name) for c in costs) for name in ("fits", "cnn_fits", "cnn_epochs"))
    units = {"embedding extraction": f"{audio / 3600:.2f} h of audio to embed (not cached)",
             "classifier fits": f"{fits} fits",
             "CNN training": f"{cnn_fits} fits, {epochs:.0f} epochs"}
    lines = [f"estimate on this machine ({calibration.describe()}):"]
    lines += [f"  {stage:22s} {units[stage]:38s} {duration(seconds[stage]):>10s}" for stage in STAGES]
    left = sum(1 for c in costs if c.total > 0)
    lines.append(f"  {'total':22s} {f'{left} configurations to compute':38s} {duration(sum(seconds.values())):>10s}")
    if total is not None and total > left:
        lines.append(f"  ({total - left} of {total} configurations are stored already and cost nothing)")
    return "\n".join(lines)


def duration(seconds: float) -> str:
    """``"1 h 05 min"``, ``"4 min 10 s"`` or ``"12 s"``."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"
