"""Classifiers with scikit-learn conventions: ``fit(X, y)``, ``predict``, class scores, ``random_state``.

- :class:`LinearSVM`: standardisation + linear support vector machine (the paper's SVM).
- :class:`DenseClassifier`: one dense hidden layer (the paper's D128 / D512) with dropout, softmax
  output and early stopping on a validation split of whole files.
- :class:`~evalkit.learn.cnn.BaselineCNN` (in ``cnn``): the CNNs trained from scratch on spectrogram patches.

Features are standardised with statistics of the training data only. Every network is seeded by
``random_state``; TensorFlow is imported only when a network is trained.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from ..config import check_choice, check_number, check_seed


def class_scores(classifier, X: np.ndarray) -> np.ndarray:
    """Per-class scores, shape (n_samples, n_classes): probabilities where the classifier has them,
    else decision values. Late fusion averages these per file."""
    if hasattr(classifier, "predict_proba"):
        return classifier.predict_proba(X)
    return classifier.decision_function(X)


class LinearSVM(ClassifierMixin, BaseEstimator):
    """Linear SVM on standardised features (one-vs-rest, squared hinge loss).

    Parameters
    ----------
    C : float
        Inverse regularisation strength.
    max_iter : int
    scale : bool
        Standardise every feature with the training data's mean and standard deviation first (default). False
        feeds the values as they are, as a plain ``LinearSVC`` does: ``svm(scale=false)`` tests whether feature
        scaling explains a result (e.g. VGGish's post-processed values of 0 … 255).
    random_state : int or None
    """

    def __init__(self, C: float = 1.0, max_iter: int = 5000, scale: bool = True, random_state=None):
        self.C, self.max_iter, self.scale, self.random_state = C, max_iter, scale, random_state
        self._check_params()

    def _check_params(self) -> None:
        """Each parameter in its range (kept as given: scikit-learn's ``clone`` needs them unchanged)."""
        check_number("svm", "C", self.C, low=0, low_open=True)
        check_number("svm", "max_iter", self.max_iter, low=1, whole=True)
        check_choice("svm", "scale", self.scale, (True, False))
        check_seed("svm", "random_state", self.random_state)

    def fit(self, X, y, groups=None):
        self._check_params()  # set_params does not pass through __init__
        svm = LinearSVC(C=self.C, dual="auto", max_iter=self.max_iter, random_state=self.random_state)
        self.pipeline_ = make_pipeline(StandardScaler(), svm) if self.scale else make_pipeline(svm)
        self.pipeline_.fit(np.asarray(X, dtype=np.float32), np.asarray(y))
        self.classes_ = self.pipeline_.classes_
        return self

    def decision_function(self, X) -> np.ndarray:
        scores = self.pipeline_.decision_function(np.asarray(X, dtype=np.float32))
        return np.column_stack([-scores, scores]) if scores.ndim == 1 else scores

    def predict(self, X):
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]


def _validation_split(y, groups, fraction, seed, *, min_per_class: int = 0):
    """Indices (train, validation): ``fraction`` of each class's groups (recordings) held out whole.

    A class with at least three groups gives ``round(fraction * n_groups)`` of them, at least one, and always keeps
    two for training; a class with fewer gives none. No validation set (``(all, None)``) when ``fraction`` is 0,
    when the held-out groups cover fewer than two classes, or when a class gives fewer than ``min_per_class``.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Class of each sample (frame).
    groups : np.ndarray, shape (n,) or None
        Recording (or file) of each sample; None: every sample is its own group.
    fraction : float
    seed : int
    min_per_class : int
        Fewest held-out groups of each class for a validation set.

    Returns
    -------
    train : np.ndarray of int
    validation : np.ndarray of int or None
    """
    y = np.asarray(y)
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    if fraction <= 0:
        return np.arange(len(y)), None
    rng = np.random.default_rng(seed)
    names, first = np.unique(groups, return_index=True)
    owner = y[first]  # a group counts for the class of its first sample (groups of a task hold one class)
    held_out = []
    for label in np.unique(y):
        class_groups = names[owner == label]
        n_val = min(len(class_groups) - 2, max(1, int(round(fraction * len(class_groups))))) if len(class_groups) >= 3 else 0
        if n_val < min_per_class:
            return np.arange(len(y)), None
        if n_val:
            held_out.extend(rng.choice(class_groups, n_val, replace=False))
    val = np.isin(groups, held_out)
    if len(np.unique(y[val])) < 2:
        return np.arange(len(y)), None
    return np.flatnonzero(~val), np.flatnonzero(val)


class DenseClassifier(ClassifierMixin, BaseEstimator):
    """One hidden dense layer (ReLU) with dropout and a softmax output: the paper's D128 / D512.

    Trained with Adam on the cross-entropy, with early stopping on the loss of a validation split of
    whole files (the weights of the best epoch from ``min_epochs`` on are kept). Implemented in NumPy, in float32:
    for networks this small it is faster than a deep-learning framework on a CPU and gives bit-identical results
    for the same ``random_state`` (float64 took 2-3.6 times as long for the same accuracy).

    Parameters
    ----------
    hidden_units : int
        Units of the hidden layer (128 or 512 in the paper), at least 1.
    dropout : float
        Dropout rate after the hidden layer, in [0, 1).
    epochs : int
        Most epochs to train, at least 1. An epoch is one pass over the training frames, or as many whole passes
        as ``min_batches`` batches need.
    batch_size : int
        At least 1.
    min_batches : int
        Least batches per epoch, at least 1: with few training files (10 % of a small data set gives one batch per
        pass) an epoch still means several updates.
    min_epochs : int
        The first epoch whose weights may be kept, at least 1: the validation loss of a few held-out files can be
        lowest for a barely trained network, which gives most files one class.
    learning_rate : float
        Adam step size, in (0, 1].
    patience : int
        Early stopping: epochs without improvement of the validation loss, at least 1.
    validation_fraction : float
        Share of training recordings held out for early stopping, in [0, 1).
    random_state : int or None
    """

    def __init__(self, hidden_units: int = 128, dropout: float = 0.5, epochs: int = 200, batch_size: int = 64,
                 min_batches: int = 8, min_epochs: int = 10, learning_rate: float = 1e-3, patience: int = 15,
                 validation_fraction: float = 0.15, random_state=None):
        self.hidden_units, self.dropout, self.epochs, self.batch_size = hidden_units, dropout, epochs, batch_size
        self.min_batches, self.min_epochs = min_batches, min_epochs
        self.learning_rate, self.patience, self.validation_fraction = learning_rate, patience, validation_fraction
        self.random_state = random_state
        self._check_params()

    def _check_params(self) -> None:
        """Each parameter in its range (kept as given: scikit-learn's ``clone`` needs them unchanged)."""
        name = "dense classifier (d128, d512)"
        for key in ("hidden_units", "epochs", "batch_size", "min_batches", "min_epochs", "patience"):
            check_number(name, key, getattr(self, key), low=1, whole=True)
        check_number(name, "dropout", self.dropout, low=0, high=1, high_open=True)
        check_number(name, "learning_rate", self.learning_rate, low=0, high=1, low_open=True)
        check_number(name, "validation_fraction", self.validation_fraction, low=0, high=1, high_open=True)
        check_seed(name, "random_state", self.random_state)

    def _forward(self, X, weights, rng=None):
        W1, b1, W2, b2 = weights
        hidden = np.maximum(X @ W1 + b1, 0.0)
        mask = None
        if rng is not None and self.dropout > 0:
            mask = (rng.random(hidden.shape, dtype=np.float32) >= self.dropout).astype(np.float32) / np.float32(1.0 - self.dropout)
            hidden = hidden * mask
        logits = hidden @ W2 + b2
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        proba /= proba.sum(axis=1, keepdims=True)
        return hidden, mask, proba

    def _loss(self, X, y, weights):
        proba = self._forward(X, weights)[2]
        return float(-np.mean(np.log(proba[np.arange(len(y)), y] + 1e-12))), float(np.mean(proba.argmax(1) == y))

    def fit(self, X, y, groups=None):
        """Train on ``X`` (n, dim) with labels ``y``; ``groups`` (e.g. file ids) keep validation
        frames out of the training files."""
        self._check_params()  # set_params does not pass through __init__
        X = np.asarray(X, dtype=np.float32)
        self.classes_, y_index = np.unique(np.asarray(y), return_inverse=True)
        seed = 0 if self.random_state is None else int(self.random_state)
        rng = np.random.default_rng(seed)
        train, val = _validation_split(y_index, groups, self.validation_fraction, seed)
        self.scaler_ = StandardScaler().fit(X[train])
        Xs = self.scaler_.transform(X)
        n_in, n_out, n_hidden = X.shape[1], len(self.classes_), int(self.hidden_units)
        weights = [w.astype(np.float32) for w in (rng.normal(0, np.sqrt(2.0 / n_in), (n_in, n_hidden)), np.zeros(n_hidden),
                                                  rng.normal(0, np.sqrt(1.0 / n_hidden), (n_hidden, n_out)), np.zeros(n_out))]
        moments = [[np.zeros_like(w), np.zeros_like(w)] for w in weights]
        beta1, beta2, step = 0.9, 0.999, 0
        best, best_loss, waited = [w.copy() for w in weights], np.inf, 0
        history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
        monitor_X, monitor_y = (Xs[val], y_index[val]) if val is not None else (Xs[train], y_index[train])
        passes = max(1, -(-int(self.min_batches) * int(self.batch_size) // len(train)))  # ceil: whole passes
        first = min(int(self.min_epochs), int(self.epochs))
        for epoch in range(self.epochs):
            order = np.concatenate([train[rng.permutation(len(train))] for _ in range(passes)])
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                xb, yb = Xs[batch], y_index[batch]
                hidden, mask, proba = self._forward(xb, weights, rng)
                d_logits = proba
                d_logits[np.arange(len(yb)), yb] -= 1.0
                d_logits /= len(yb)
                d_hidden = (d_logits @ weights[2].T) * (hidden > 0)
                if mask is not None:
                    d_hidden *= mask
                grads = [xb.T @ d_hidden, d_hidden.sum(0), hidden.T @ d_logits, d_logits.sum(0)]
                step += 1
                rate, unbias = self.learning_rate / (1 - beta1 ** step), 1 / (1 - beta2 ** step)
                for w, g, (m, v) in zip(weights, grads, moments):  # Adam, in place (the updates dominate the time)
                    m *= beta1
                    m += (1 - beta1) * g
                    v *= beta2
                    v += (1 - beta2) * g * g
                    w -= rate * m / (np.sqrt(v * unbias) + 1e-8)
            loss, accuracy = self._loss(Xs[train], y_index[train], weights)
            val_loss, val_accuracy = self._loss(monitor_X, monitor_y, weights)
            for name, value in zip(history, (loss, accuracy, val_loss, val_accuracy)):
                history[name].append(value)
            if epoch + 1 < first:
                continue
            if val_loss < best_loss - 1e-4:
                best, best_loss, waited = [w.copy() for w in weights], val_loss, 0
            else:
                waited += 1
                if waited >= self.patience:
                    break
        self.weights_ = best
        self.history_ = history if val is not None else {k: v for k, v in history.items() if not k.startswith("val")}
        return self

    def predict_proba(self, X) -> np.ndarray:
        return self._forward(self.scaler_.transform(np.asarray(X, dtype=np.float32)), self.weights_)[2]

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
