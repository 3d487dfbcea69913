"""Before a long run: is everything there (data, packages, models), and how much work is it?

The estimate is derived from the same :func:`~evalkit.book.plan.plan` that ``evalkit book`` computes.
"""
from __future__ import annotations

from ..config import EvalkitError
from ..data.datasets import PAPER_TASK_IDS, check_task
from ..embed.registry import get_extractor


def check_profile(profile) -> list[str]:
    """Everything a profile's build needs that is missing or wrong, as one message per problem (empty: ready).

    Checks each paper task's data (:func:`~evalkit.data.datasets.check_task`), builds every embedding extractor
    (which fails without its package or weights) and loads the models that the extractors load lazily (e.g. VGGish
    from TensorFlow Hub); the models are released again.
    """
    problems = []
    for task_id in profile.tasks:
        if str(task_id).upper() in PAPER_TASK_IDS:
            report = check_task(task_id)
            if report["status"] != "present":
                problems.append(f"data {report['task']} ({report['status']}): {report['message']}")
    specs = [profile.spec(label) for label in profile.embeddings]
    specs += [entry["embedding"] for entry in (profile.baseline or {}).values()]
    for spec in dict.fromkeys(specs):
        try:
            with get_extractor(spec) as extractor:
                if callable(getattr(extractor, "model", None)):  # models loaded lazily: load them now
                    extractor.model()
        except (EvalkitError, OSError) as error:
            problems.append(f"embedding {spec}: {error}")
    return problems


def estimate(profile, runs) -> dict:
    """How much work ``runs`` (a :func:`~evalkit.book.plan.plan`) are: files and hours of audio per task,
    embedding passes (task × embedding over all files) and classifier fits (configurations × repetitions).
    Tasks whose data are missing are left out (``missing`` lists them)."""
    import soundfile as sf

    out = {"tasks": {}, "missing": [], "extractions": 0, "fits": 0, "cnn_fits": 0}
    for task_id in dict.fromkeys(run.task for run in runs) or profile.tasks:
        try:
            task = profile.task(task_id)
            if not task.is_prepared:
                raise FileNotFoundError("not generated yet")
            files = task.files()
        except (EvalkitError, FileNotFoundError):
            out["missing"].append(str(task_id))
            continue
        seconds = sum(sf.info(str(f.path)).duration for f in files)
        out["tasks"][str(task_id)] = {"files": len(files), "hours": seconds / 3600}
    out["extractions"] = len({(run.task, run.embedding) for run in runs})
    out["fits"] = sum(run.repetitions for run in runs)
    out["cnn_fits"] = sum(run.repetitions for run in runs if run.label == "baseline")
    if not profile.is_demo:  # worth importing TensorFlow for: a long run should know whether it has a GPU
        try:
            import tensorflow as tf

            out["gpus"] = len(tf.config.list_physical_devices("GPU"))
        except ImportError:
            pass
    return out


def describe_estimate(estimate: dict) -> str:
    """The estimate as a few lines for the console."""
    lines = [f"  {t}: {v['files']} files, {v['hours']:.1f} h of audio" for t, v in estimate["tasks"].items()]
    if estimate["missing"]:
        lines.append(f"  (no data yet for {', '.join(estimate['missing'])})")
    lines.append(f"  {estimate['extractions']} embedding passes (task × embedding, cached after the first build), "
                 f"{estimate['fits']} classifier fits of which {estimate['cnn_fits']} CNN trainings from scratch. "
                 "Embedding extraction and CNN training use a GPU when TensorFlow sees one"
                 + (f" (it sees {estimate['gpus']})." if "gpus" in estimate else "."))
    return "\n".join(lines)
