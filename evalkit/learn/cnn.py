"""The baseline CNNs trained from scratch on spectrogram patches (the paper's baselines), in Keras.

TensorFlow is imported only when a network is built or trained.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ..config import ParameterError, UnknownNameError
from .classifiers import _validation_split


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
        Patch shape; set from the spectrogram extractor by :func:`evalkit.learn.experiments.run_experiment`.
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
            raise ParameterError(f"BaselineCNN: input_shape {self.input_shape} does not match {input_dim} values per frame; "
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
