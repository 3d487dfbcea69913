"""Stage 1, data: labelled audio files with recording groups.

``audio`` (validated loading), ``tasks`` (:class:`Task`, folder and demo tasks), ``sounds`` and ``synth`` (the demo
data D1–D6), ``datasets`` (the paper's data sets T1–T6: manifests, fetch, link, check) and ``registry`` (task ids).
Imports ``config`` only.
"""
from .audio import AudioError, load_audio
from .registry import get_task, list_tasks
from .tasks import AudioFile, FolderTask, Task

__all__ = ["AudioError", "AudioFile", "FolderTask", "Task", "get_task", "list_tasks", "load_audio"]
