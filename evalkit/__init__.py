"""evalkit: re-running "Analyzing the potential of pre-trained embeddings for audio classification tasks"
(Grollmisch, Cano, Kehling, Taenzer, EUSIPCO 2020) on any task and any embedding.

The package is the pipeline, one sub-package per stage, each importing only the stages below it::

    data  → embed  → learn  → book          (config at the bottom)

The building blocks, in the order an experiment uses them::

    task = get_task("D2").prepare()                        # labelled files with recording groups
    with get_extractor("musicnn-msd") as extractor:        # frame-wise embeddings (the model is released after)
        embeddings = extract_embeddings(paths, extractor)  # cached on disk
    results = run_experiment("D2", "musicnn-msd", "svm", fusion="late", train_fraction=0.1)
    balanced_file_accuracy(y_true, y_pred)                 # the paper's metric
"""
from .config import (EvalkitError, EvalkitWarning, MissingDataError, MissingPackageError, ParameterError,
                     UnknownNameError, WorkerError, __version__)
from .data import AudioError, AudioFile, FolderTask, Task, get_task, list_tasks, load_audio
from .embed import (EmbeddingCache, ExtractionCost, Extractor, available_extractors, extract_embeddings,
                    extraction_cost, get_extractor)
from .learn import (DenseClassifier, LinearSVM, ResultStore, balanced_file_accuracy, confusion_matrix_percent,
                    get_classifier, late_fusion, pool_embeddings, run_experiment, split_files)
from .learn.cnn import BaselineCNN


def notebook(profile=None, *, page: str, **params):
    """Set up a book notebook and return its profile, with the results of its sections computed (or loaded).

    The one setup call of every notebook: ``P = ek.notebook(profile, page="detailed_results", task=task, ...)``.
    See :func:`evalkit.book.pages.setup`.
    """
    from .book.pages import setup

    return setup(profile, page=page, **params)


__all__ = [
    "AudioError", "AudioFile", "BaselineCNN", "DenseClassifier", "EmbeddingCache", "EvalkitError", "EvalkitWarning",
    "ExtractionCost", "Extractor", "FolderTask", "LinearSVM", "MissingDataError", "MissingPackageError",
    "ParameterError", "ResultStore", "Task", "UnknownNameError", "WorkerError", "__version__",
    "available_extractors", "balanced_file_accuracy", "confusion_matrix_percent", "extract_embeddings",
    "extraction_cost", "get_classifier", "get_extractor", "get_task", "late_fusion", "list_tasks", "load_audio",
    "notebook", "pool_embeddings", "run_experiment", "split_files",
]
