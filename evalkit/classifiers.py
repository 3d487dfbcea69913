"""Classifiers with scikit-learn conventions: ``fit(X, y)``, ``predict``, class scores, ``random_state``.

- :class:`LinearSVM`: standardisation + linear support vector machine (the paper's SVM).
- :class:`DenseClassifier`: one dense hidden layer (the paper's D128 / D512) with dropout, softmax
  output and early stopping on a validation split of whole files.
- :class:`BaselineCNN`: the CNNs trained from scratch on spectrogram patches (the paper's baselines).

Features are standardised with statistics of the training data only. Every network is seeded by
``random_state``; TensorFlow is imported only when a network is trained.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GroupShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from .config import UnknownNameError, format_spec, parse_spec


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

    def fit(self, X, y, groups=None):
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


def _validation_split(y, groups, fraction, seed):
    """Indices (train, validation) with whole groups (files) held out; no validation set when too small."""
    y = np.asarray(y)
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    if fraction <= 0 or len(np.unique(groups)) < 4:
        return np.arange(len(y)), None
    split = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    train, val = next(split.split(np.zeros(len(y)), y, groups))
    return train, val


class DenseClassifier(ClassifierMixin, BaseEstimator):
    """One hidden dense layer (ReLU) with dropout and a softmax output: the paper's D128 / D512.

    Trained with Adam on the cross-entropy, with early stopping on the loss of a validation split of
    whole files (the weights of the best epoch are kept). Implemented in NumPy: for networks this
    small it is faster than a deep-learning framework on a CPU and gives bit-identical results for
    the same ``random_state``.

    Parameters
    ----------
    hidden_units : int
        Units of the hidden layer (128 or 512 in the paper).
    dropout : float
        Dropout rate after the hidden layer.
    epochs : int
        Maximum number of passes over the training frames.
    batch_size : int
    learning_rate : float
        Adam step size.
    patience : int
        Early stopping: epochs without improvement of the validation loss.
    validation_fraction : float
        Share of training files held out for early stopping.
    random_state : int or None
    """

    def __init__(self, hidden_units: int = 128, dropout: float = 0.5, epochs: int = 200, batch_size: int = 64,
                 learning_rate: float = 1e-3, patience: int = 15, validation_fraction: float = 0.15, random_state=None):
        self.hidden_units, self.dropout, self.epochs, self.batch_size = hidden_units, dropout, epochs, batch_size
        self.learning_rate, self.patience, self.validation_fraction = learning_rate, patience, validation_fraction
        self.random_state = random_state

    def _forward(self, X, weights, rng=None):
        W1, b1, W2, b2 = weights
        hidden = np.maximum(X @ W1 + b1, 0.0)
        mask = None
        if rng is not None and self.dropout > 0:
            mask = (rng.random(hidden.shape) >= self.dropout) / (1.0 - self.dropout)
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
        X = np.asarray(X, dtype=np.float64)
        self.classes_, y_index = np.unique(np.asarray(y), return_inverse=True)
        seed = 0 if self.random_state is None else int(self.random_state)
        rng = np.random.default_rng(seed)
        train, val = _validation_split(y_index, groups, self.validation_fraction, seed)
        self.scaler_ = StandardScaler().fit(X[train])
        Xs = self.scaler_.transform(X)
        n_in, n_out, n_hidden = X.shape[1], len(self.classes_), int(self.hidden_units)
        weights = [rng.normal(0, np.sqrt(2.0 / n_in), (n_in, n_hidden)), np.zeros(n_hidden),
                   rng.normal(0, np.sqrt(1.0 / n_hidden), (n_hidden, n_out)), np.zeros(n_out)]
        moments = [[np.zeros_like(w), np.zeros_like(w)] for w in weights]
        beta1, beta2, step = 0.9, 0.999, 0
        best, best_loss, waited = [w.copy() for w in weights], np.inf, 0
        history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
        monitor_X, monitor_y = (Xs[val], y_index[val]) if val is not None else (Xs[train], y_index[train])
        for _ in range(self.epochs):
            order = train[rng.permutation(len(train))]
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
                for w, g, m in zip(weights, grads, moments):
                    m[0] = beta1 * m[0] + (1 - beta1) * g
                    m[1] = beta2 * m[1] + (1 - beta2) * g * g
                    w -= self.learning_rate * (m[0] / (1 - beta1 ** step)) / (np.sqrt(m[1] / (1 - beta2 ** step)) + 1e-8)
            loss, accuracy = self._loss(Xs[train], y_index[train], weights)
            val_loss, val_accuracy = self._loss(monitor_X, monitor_y, weights)
            for name, value in zip(history, (loss, accuracy, val_loss, val_accuracy)):
                history[name].append(value)
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
        return self._forward(self.scaler_.transform(np.asarray(X, dtype=np.float64)), self.weights_)[2]

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class BaselineCNN(ClassifierMixin, BaseEstimator):
    """CNN trained from scratch on spectrogram patches (the paper's baselines).

    Parameters
    ----------
    arch : {"paper", "han"}
        ``"paper"``: Gaussian noise, four 3×3 conv blocks (16/32/64/128 filters, max pooling and
        dropout after the first three, global max pooling after the last), dense 64, softmax —
        the baseline of tasks 1, 3–6. ``"han"``: the variant of Han et al. (2016) used for task 2
        (two 32-filter conv + BN blocks, 3×3 max pooling, 64 and 128-filter conv + BN blocks,
        global max pooling, dense 512).
    input_shape : tuple (frequency, time)
        Patch shape; set from the spectrogram extractor by :func:`evalkit.experiments.run_experiment`.
    epochs, batch_size, learning_rate, patience, validation_fraction, random_state
        As in :class:`DenseClassifier`.
    """

    def __init__(self, arch: str = "paper", input_shape=None, epochs: int = 40, batch_size: int = 32,
                 learning_rate: float = 1e-3, patience: int = 6, validation_fraction: float = 0.15, random_state=None):
        self.arch, self.input_shape, self.epochs, self.batch_size = arch, input_shape, epochs, batch_size
        self.learning_rate, self.patience, self.validation_fraction = learning_rate, patience, validation_fraction
        self.random_state = random_state

    def _scale(self, X):  # one mean and scale for the whole spectrogram, not per pixel
        return ((np.asarray(X, dtype=np.float32) - self.mean_) / self.scale_).astype(np.float32)

    def fit(self, X, y, groups=None):
        """Train on flattened patches ``X`` (n, freq * time) with labels ``y``; ``groups`` (file ids)
        keep the validation split free of patches from training files."""
        import tensorflow as tf

        X = np.asarray(X, dtype=np.float32)
        self.classes_, y_index = np.unique(np.asarray(y), return_inverse=True)
        seed = 0 if self.random_state is None else int(self.random_state)
        tf.keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()
        train, val = _validation_split(y_index, groups, self.validation_fraction, seed)
        self.mean_, self.scale_ = np.float32(X[train].mean()), np.float32(X[train].std() + 1e-6)
        Xs = self._scale(X)
        self.model_ = self._build(X.shape[1], len(self.classes_))
        self.model_.compile(optimizer=tf.keras.optimizers.Adam(self.learning_rate),
                            loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        monitor = "val_loss" if val is not None else "loss"
        stop = tf.keras.callbacks.EarlyStopping(monitor=monitor, patience=self.patience, restore_best_weights=True)
        history = self.model_.fit(Xs[train], y_index[train], epochs=self.epochs, batch_size=self.batch_size,
                                  validation_data=None if val is None else (Xs[val], y_index[val]),
                                  callbacks=[stop], verbose=0, shuffle=True)
        self.history_ = {k: [float(v) for v in values] for k, values in history.history.items()}
        return self

    def predict_proba(self, X) -> np.ndarray:
        Xs = self._scale(X)
        if not len(Xs):
            return np.zeros((0, len(self.classes_)))
        return np.concatenate([self.model_(Xs[i:i + 256], training=False).numpy() for i in range(0, len(Xs), 256)])

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def _build(self, input_dim, n_classes):
        import tensorflow as tf

        if self.input_shape is None or int(np.prod(self.input_shape)) != input_dim:
            raise ValueError(f"BaselineCNN: input_shape {self.input_shape} does not match {input_dim} values per frame; "
                             "use it with the 'spectrogram' embedding")
        L = tf.keras.layers
        layers = [L.Input((input_dim,)), L.Reshape((*self.input_shape, 1))]
        if self.arch == "paper":
            layers.append(L.GaussianNoise(0.1))
            for filters in (16, 32, 64):
                layers += [L.Conv2D(filters, 3, padding="same", activation="relu"), L.MaxPooling2D(2), L.Dropout(0.25)]
            layers += [L.Conv2D(128, 3, padding="same", activation="relu"), L.GlobalMaxPooling2D(), L.Dropout(0.5),
                       L.Dense(64, activation="relu"), L.Dropout(0.5)]
        elif self.arch == "han":
            # Batch-norm statistics move with momentum 0.9 (PyTorch's default): with Keras' 0.99 the few hundred
            # steps of a small data set leave the running statistics far from the data's, and the network
            # predicts at chance in inference mode while it learns in training mode.
            def block(filters):
                return [L.ZeroPadding2D(1), L.Conv2D(filters, 3), L.BatchNormalization(momentum=0.9), L.ReLU()]
            layers += block(32) + block(32) + [L.MaxPooling2D(3)] + block(64) + block(128)
            layers += [L.GlobalMaxPooling2D(), L.Dropout(0.5), L.Dense(512, activation="relu"), L.Dropout(0.5)]
        else:
            raise UnknownNameError("CNN architecture", self.arch, ["paper", "han"])
        layers.append(L.Dense(n_classes, activation="softmax"))
        return tf.keras.Sequential(layers, name=f"baseline_cnn_{self.arch}")


#: Registry: name -> (class, default parameters).
CLASSIFIERS = {
    "svm": (LinearSVM, {}),
    "d128": (DenseClassifier, {"hidden_units": 128}),
    "d512": (DenseClassifier, {"hidden_units": 512}),
    "cnn": (BaselineCNN, {"arch": "paper"}),
    "cnn-han": (BaselineCNN, {"arch": "han"}),
}


def get_classifier(spec: str | BaseEstimator, random_state=None, **params):
    """Build a classifier from a name or spec (``"svm"``, ``"d512"``, ``"svm(C=0.1)"``, ``"d128(dropout=0.3)"``)."""
    if isinstance(spec, BaseEstimator):
        return spec.set_params(random_state=random_state) if random_state is not None else spec
    name, spec_params = parse_spec(spec)
    if name not in CLASSIFIERS:
        raise UnknownNameError("classifier", name, CLASSIFIERS)
    cls, defaults = CLASSIFIERS[name]
    try:
        return cls(**{**defaults, **spec_params, **params, "random_state": random_state})
    except TypeError as error:
        raise ValueError(f"classifier {name!r}: {error}") from None


def classifier_spec(spec: str) -> str:
    """Canonical form of a classifier spec (sorted parameters) for result keys and tables."""
    return format_spec(*parse_spec(spec))
