"""evalkit: re-running "Analyzing the potential of pre-trained embeddings for audio classification tasks"
(Grollmisch, Cano, Kehling, Taenzer, EUSIPCO 2020) on any task and any embedding.

The building blocks, in the order an experiment uses them::

    task = get_task("D2")                                  # labelled files with recording groups
    extractor = get_extractor("musicnn-msd")               # frame-wise embeddings
    embeddings = extract_embeddings(paths, extractor)      # cached on disk
    results = run_experiment("D2", "musicnn-msd", "svm", fusion="late", train_fraction=0.1)
    balanced_file_accuracy(y_true, y_pred)                 # the paper's metric
"""
from .audio import AudioError, load_audio
from .cache import EmbeddingCache, extract_embeddings
from .classifiers import BaselineCNN, DenseClassifier, LinearSVM, get_classifier
from .embeddings import Extractor, get_extractor
from .experiments import run_experiment, split_files
from .fusion import late_fusion, pool_embeddings
from .metrics import balanced_file_accuracy, confusion_matrix_percent
from .tasks import AudioFile, FolderTask, Task, get_task, list_tasks

__version__ = "0.1.0"

__all__ = [
    "AudioError", "AudioFile", "BaselineCNN", "DenseClassifier", "EmbeddingCache", "Extractor", "FolderTask",
    "LinearSVM", "Task", "balanced_file_accuracy", "confusion_matrix_percent", "extract_embeddings",
    "get_classifier", "get_extractor", "get_task", "late_fusion", "list_tasks", "load_audio", "pool_embeddings",
    "run_experiment", "split_files",
]
