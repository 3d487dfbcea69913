"""Stage 3, learn: classifiers on frame-wise embeddings, fusion, the paper's metric, splits, experiments and the
result store.

``classifiers`` (linear SVM, one-hidden-layer dense networks), ``cnn`` (baseline CNNs), ``registry`` (names →
lazy factories), ``fusion`` (late / early), ``metrics`` (balanced file-wise accuracy, confusion matrices),
``splits``, ``experiments`` (:func:`run_experiment`) and ``store`` (:class:`ResultStore`). Imports ``embed``,
``data`` and ``config``.
"""
from .classifiers import DenseClassifier, LinearSVM
from .experiments import run_experiment
from .fusion import late_fusion, pool_embeddings
from .metrics import balanced_file_accuracy, confusion_matrix_percent
from .registry import get_classifier
from .splits import split_files
from .store import ResultStore

__all__ = ["DenseClassifier", "LinearSVM", "ResultStore", "balanced_file_accuracy", "confusion_matrix_percent",
           "get_classifier", "late_fusion", "pool_embeddings", "run_experiment", "split_files"]
