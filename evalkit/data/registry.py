"""The tasks evalkit knows by id: the demo tasks D1–D6, the paper's tasks T1–T6, and any folder of class sub-folders."""
from __future__ import annotations

import os
from pathlib import Path

from ..config import ParameterError, UnknownNameError, data_dir
from .datasets import PAPER_TASK_IDS, paper_task, paper_task_names
from .synth import DEMO_CLASSES, DEMO_DEFAULTS, demo_folder_name, demo_params
from .tasks import DemoTask, FolderTask, Task

DEMO_TASK_NAMES = {
    "D1": "Ensemble size (1–5 plucked-string instruments), demo of T1",
    "D2": "Musical instrument family, demo of T2",
    "D3": "Speech / choir / solo singing / instrumental, demo of T3",
    "D4": "Operational states of electric engines, demo of T4",
    "D5": "Metal surface roughness, demo of T5",
    "D6": "Plastic material of impacting pucks, demo of T6",
}


def demo_task(task_id: str, *, root=None, seed: int = DEMO_DEFAULTS["seed"],
              files_per_class: int = DEMO_DEFAULTS["files_per_class"],
              files_per_group: int = DEMO_DEFAULTS["files_per_group"],
              duration: float = DEMO_DEFAULTS["duration"]) -> DemoTask:
    """The demo task ``task_id`` (``"D1"`` … ``"D6"``) with its generation parameters.

    The defaults give 40 recordings of one 3-s file per class, so that a 10 % training share still holds 4
    recordings per class (and a 20 % test share 8). Each version of the generators and each parameter set is generated into its own folder,
    ``<data>/demo/v4-s20-n40-g1-d3/<task>`` (:func:`~evalkit.data.synth.demo_folder_name`): a reduced test profile
    never overwrites the full demo data, and data of an older generator are never reused nor in the way. Nothing is
    generated here: :meth:`DemoTask.prepare` does that.

    Parameters
    ----------
    root : path-like, optional
        Parent folder of the task folder instead of the default one.
    seed : int
    files_per_class : int
        Files per class (rounded up to whole groups).
    files_per_group : int
        Files cut from one simulated recording (a group: splits keep it on one side).
    duration : float
        Seconds per file.
    """
    if task_id not in DEMO_CLASSES:
        raise UnknownNameError("task", task_id, list(DEMO_CLASSES))
    parameters = {"seed": seed, "files_per_class": files_per_class, "files_per_group": files_per_group,
                  "duration": duration}
    demo_params(task_id, **parameters)  # one line naming a bad value, before anything else
    root = Path(root) if root is not None else data_dir() / "demo" / demo_folder_name(**parameters)
    return DemoTask(id=task_id, name=DEMO_TASK_NAMES[task_id], classes=list(DEMO_CLASSES[task_id]), kind="demo",
                    root=root / task_id, group_pattern="^(.*)__", **parameters)


#: What :func:`get_task` passes on to :func:`demo_task` and to :meth:`FolderTask.from_folder`.
DEMO_PARAMETERS = ("root", "seed", "files_per_class", "files_per_group", "duration")
FOLDER_PARAMETERS = ("group_pattern", "groups_span_classes", "classes", "id", "name")
#: The folder tasks' parameters that say how files make recording groups (a registered task defines its own).
GROUPING_PARAMETERS = ("group_pattern", "groups_span_classes")


def _check_params(task_id: str, params: dict, valid) -> None:
    """A one-line :class:`~evalkit.config.ParameterError` for a parameter the task does not take."""
    for name in GROUPING_PARAMETERS:
        if name in params and name not in valid:
            raise ParameterError(f"task {task_id}: {name} (--{name.replace('_', '-')}) is for folder tasks; the "
                                 f"recording groups of {task_id} are defined by the task itself")
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ParameterError(f"task {task_id}: unexpected parameter(s) {', '.join(unknown)}; valid: {', '.join(valid)}")


def list_tasks() -> dict[str, str]:
    """Registered task ids and their names: the demo tasks and the paper's tasks."""
    return {**DEMO_TASK_NAMES, **paper_task_names()}


def get_task(spec: str | os.PathLike | Task, **params) -> Task:
    """Resolve a task by id (``"D3"``, ``"T1"``) or a folder path (a folder task).

    Parameters
    ----------
    spec : str, path-like or Task
        A registered id, or a folder with one sub-folder per class.
    **params
        Passed to the task's constructor (e.g. ``files_per_class`` for demo tasks, ``group_pattern`` and
        ``groups_span_classes`` for folder tasks: :class:`~evalkit.data.tasks.FolderTask`).
    """
    if isinstance(spec, Task):
        return spec
    text = str(spec)
    if text in DEMO_TASK_NAMES:
        _check_params(text, params, DEMO_PARAMETERS)
        return demo_task(text, **params)
    if text in PAPER_TASK_IDS:
        _check_params(text, params, ("root",))
        return paper_task(text, **params)
    if text.strip() and (os.sep in text or Path(text).is_dir()):  # "" would be the current folder
        _check_params(text, params, FOLDER_PARAMETERS)
        return FolderTask.from_folder(text, **params)
    raise UnknownNameError("task", text, list(list_tasks()) + ["<path to a folder with one sub-folder per class>"])
