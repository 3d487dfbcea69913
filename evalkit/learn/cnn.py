"""The baseline CNNs trained from scratch on spectrogram patches (the paper's baselines), in Keras.

The ``paper`` network and its input are those of the authors' two released baseline models (the T3 baseline and the
ensemble-size model of the T1 data): per-time-frequency-bin normalisation from the training patches, Gaussian noise,
four 3×3 conv blocks, global max pooling, dense 64, softmax; Adam with gradient clipping. How they were trained beyond
the optimiser is not published; here, for data sets of tens of recordings per class: every epoch draws one random
patch of each training file (random crops), blended pairwise by mixup. Shifts along the frequency axis and a random
spectral tilt (a smooth gain curve, as another microphone or room would give) are available but off: on the
material task D6 they erase what tells the classes apart (98.8 % without, 42.5 % with them). Training is guarded against
collapsing onto one class: classes weigh equally in the loss, and the epoch kept is the one with the best balanced
accuracy on held-out validation recordings (file-wise, by late fusion) from ``min_epochs`` on; too few of them
(``min_validation_recordings``: 10 % of a demo task) and it trains for ``epochs`` on all recordings instead. The
network scored and kept after an epoch averages the weights of the last ``average_epochs`` epochs. TensorFlow is
imported only when a network is built or trained.
"""
from __future__ import annotations

import collections
import functools
from types import SimpleNamespace

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ..config import ParameterError, UnknownNameError, check_choice, check_number, check_seed
from .classifiers import _validation_split
from .metrics import file_balanced_accuracy

#: The input each architecture is trained on when no embedding is given (presets of
#: :mod:`evalkit.embed.registry`): the authors' T3 baseline input for ``paper``, Han et al.'s mel patches for ``han``.
DEFAULT_INPUTS = {"paper": "cnn-input-t3", "han": "cnn-input-han"}
#: Values of :class:`BaselineCNN`'s ``precision``.
PRECISIONS = ("auto", "float32", "bfloat16")


@functools.lru_cache(maxsize=None)  # the machine does not change while the process runs: asked once, not per fit
def native_bfloat16() -> bool:
    """Whether this machine computes bfloat16 natively on its CPU (the ``avx512_bf16`` or ``amx_bf16`` flag of
    Linux's ``/proc/cpuinfo``) and TensorFlow sees no GPU; False where that cannot be told."""
    try:
        with open("/proc/cpuinfo") as handle:
            flags = next((line.split(":", 1)[1].split() for line in handle if line.startswith("flags")), [])
    except OSError:
        return False
    if not {"avx512_bf16", "amx_bf16"} & set(flags):
        return False
    import tensorflow as tf
    return not tf.config.list_physical_devices("GPU")


class BaselineCNN(ClassifierMixin, BaseEstimator):
    """CNN trained from scratch on spectrogram patches (the paper's baselines).

    Parameters
    ----------
    arch : {"paper", "han"}
        ``"paper"``: the authors' released baselines — Gaussian noise (0.1), 3×3 conv blocks of 16, 32 and 64
        filters each followed by 2×2 max pooling and dropout 0.25, a 128-filter conv, global max pooling, dropout
        0.25, dense 64, dropout 0.5, softmax (105,668 trainable parameters for 4 classes). ``"han"``: the variant of
        Han et al. (2016) used for task 2 (two 32-filter conv + BN blocks, 3×3 max pooling, 64 and 128-filter
        conv + BN blocks, global max pooling, dense 512).
    input_shape : tuple (time, frequency)
        Patch shape; set from the spectrogram extractor by :func:`evalkit.learn.experiments.run_experiment`.
    epochs : int
        Most epochs to train.
    min_epochs : int
        The first epoch that may be kept: training runs at least this long (or ``epochs``, if fewer), and earlier
        epochs — still learning, often one class for most files — are never restored.
    patience : int
        Epochs without progress before training stops: neither a better validation score nor a lower validation
        loss. The loss counts too because a few dozen validation files can leave the balanced accuracy flat while
        the network still learns (on a copy of the demo tasks generated with another seed, at 80 %, D1's runs
        stopped at epochs 33–38 with the loss still falling and scored 55.4 ± 2.1; counting the loss, 59.2 ± 0.6).
    batch_size : int
    min_batches : int
        Least batches per epoch. An epoch draws one random patch of every training file; a smaller training set
        is drawn from several times per epoch, so that ``min_epochs`` and ``patience`` mean enough updates at 10 %
        training data too.
    mixup : float
        Mixup's Beta(α, α) parameter: each training patch is blended with another of the batch (labels alike); 0
        turns it off.
    shift_bins : int
        Largest random shift of a training patch along the frequency axis, in bins (rolled, per patch); 0: none.
    tilt : float
        Largest amplitude of each of three cosine components of a random gain curve over frequency (natural log
        of the gain; 0.3 ≈ ±2.6 dB each) applied to a training patch's magnitudes; 0: none.
    learning_rate, clipnorm : float
        Adam's step size and the gradient norm it clips to.
    validation_fraction : float
        Share of each class's training recordings held out to choose the epoch (see
        :func:`~evalkit.learn.classifiers._validation_split`); 0, or too few recordings, trains for ``epochs``.
    min_validation_recordings : int
        Fewest held-out recordings of each class: with fewer, none are held out and the network trains for
        ``epochs`` on all of them. At 10 % of a demo task of 80 recordings per class (8 in training) the validation set would be 2
        per class: its balanced accuracy moves in steps of a sixth, too coarse to choose an epoch, and it takes a
        quarter of the training data. On a copy of the demo tasks generated with another seed (10 %, 3 repetitions
        per task) training on all 8 scored 6.1 points higher (95 % interval +2.8 to +9.5; better in 14 of 18
        runs, on every task on average).
    average_epochs : int
        The network scored on the validation files, and kept, has the mean of the weights after each of the last
        ``average_epochs`` epochs (a sliding-window weight average, after stochastic weight averaging, Izmailov et
        al. 2018); training goes on from its own weights, so the average changes which network is kept, not how it
        learns. 1: the last epoch's weights. With about 20 training recordings per class, single epochs differ by
        several test files, and the average is steadier. Chosen on data apart from the demo's: on two 5-family
        folders rendered for the check (24 recordings per class, 80 %, 10 repetitions each) 5 epochs scored
        84.8 ± 5.0 and 82.8 ± 8.8 against 80.8 ± 9.6 and 82.8 ± 8.4 with 1 (paired +2.0 points, 95 % interval
        −0.8 to +4.8; worst run 72 against 64); on a copy of the demo tasks generated with another seed (3
        repetitions per task) +1.0 (−1.2 to +3.2) at 10 % and −0.3 (−2.3 to +1.6) at 80 %, and at 10 % no run gave
        more than 45 % of its test files to one class (64 % with 1).
    precision : {"auto", "float32", "bfloat16"}
        Arithmetic of the layers (weights and the softmax stay float32). ``"auto"``: bfloat16 on a CPU with native
        bfloat16 instructions (AVX512-BF16 or AMX; per training step about 1.4× faster for ``paper`` and 2× for
        ``han`` on 2 cores, same accuracy on the demo tasks), float32 elsewhere (emulated bfloat16 would be slower)
        and on GPUs. :attr:`history_` records the precision used.
    random_state : int or None

    Attributes
    ----------
    history_ : dict
        Per epoch: ``loss``, ``accuracy`` (training patches), ``val_loss``, ``val_accuracy`` (validation patches),
        ``val_balanced_accuracy`` and ``val_largest_share`` (validation files); ``best_epoch`` (1-based, the
        epoch whose weights are kept), ``stopped_epoch`` (the last epoch trained) and ``validation_recordings``
        (held out per class, the fewest over the classes; 0: no validation set).
    """

    def __init__(self, arch: str = "paper", input_shape=None, epochs: int = 50, min_epochs: int = 20,
                 patience: int = 10, batch_size: int = 32, min_batches: int = 8, mixup: float = 0.4,
                 shift_bins: int = 0, tilt: float = 0.0, learning_rate: float = 1e-3, clipnorm: float = 1.0,
                 validation_fraction: float = 0.2, min_validation_recordings: int = 3, precision: str = "auto",
                 average_epochs: int = 5, random_state=None):
        self.arch, self.input_shape, self.epochs, self.min_epochs = arch, input_shape, epochs, min_epochs
        self.patience, self.batch_size, self.min_batches = patience, batch_size, min_batches
        self.mixup, self.shift_bins, self.tilt = mixup, shift_bins, tilt
        self.learning_rate, self.clipnorm = learning_rate, clipnorm
        self.validation_fraction, self.min_validation_recordings = validation_fraction, min_validation_recordings
        self.precision, self.average_epochs, self.random_state = precision, average_epochs, random_state
        self._check_params()

    def _check_params(self) -> None:
        """Each parameter in its range, named with its value (kept as given: scikit-learn's ``clone`` needs that)."""
        if self.arch not in DEFAULT_INPUTS:
            raise UnknownNameError("CNN architecture", self.arch, list(DEFAULT_INPUTS))
        for key in ("epochs", "min_epochs", "patience", "batch_size", "min_batches", "min_validation_recordings",
                    "average_epochs"):
            check_number("cnn", key, getattr(self, key), low=1, whole=True)
        check_number("cnn", "mixup", self.mixup, low=0)
        check_number("cnn", "shift_bins", self.shift_bins, low=0, whole=True)
        check_number("cnn", "tilt", self.tilt, low=0, high=2)
        check_number("cnn", "learning_rate", self.learning_rate, low=0, high=1, low_open=True)
        check_number("cnn", "clipnorm", self.clipnorm, low=0, low_open=True)
        check_number("cnn", "validation_fraction", self.validation_fraction, low=0, high=1, high_open=True)
        check_choice("cnn", "precision", self.precision, PRECISIONS)
        check_seed("cnn", "random_state", self.random_state)
        if self.input_shape is not None and (isinstance(self.input_shape, (str, bytes)) or
                                             not hasattr(self.input_shape, "__len__") or len(self.input_shape) != 2):
            raise ParameterError(f"cnn: input_shape must be (time, frequency), not {self.input_shape!r}")
        for size in self.input_shape or ():
            check_number("cnn", "input_shape", size, low=1, whole=True)

    @property
    def default_input(self) -> str:
        """Embedding spec of the input this network is trained on when none is given."""
        if self.arch not in DEFAULT_INPUTS:
            raise UnknownNameError("CNN architecture", self.arch, list(DEFAULT_INPUTS))
        return DEFAULT_INPUTS[self.arch]

    def _scale(self, X):  # per time-frequency bin, as the authors' released models
        return ((np.asarray(X, dtype=np.float32) - self.mean_) / self.std_).astype(np.float32)

    def resolved_precision(self) -> str:
        """``precision`` with ``"auto"`` resolved: the arithmetic :meth:`fit` uses on this machine."""
        return self.precision if self.precision != "auto" else "bfloat16" if native_bfloat16() else "float32"

    def fit(self, X, y, groups=None, files=None):
        """Train on flattened patches.

        Parameters
        ----------
        X : np.ndarray, shape (n_patches, time * frequency)
        y : np.ndarray, shape (n_patches,)
        groups : np.ndarray, shape (n_patches,), optional
            Recording of each patch: validation recordings are held out whole. Default: ``files``.
        files : np.ndarray, shape (n_patches,), optional
            File of each patch: the validation score is file-wise. Default: ``groups``, else each patch.
        """
        import tensorflow as tf

        X = np.asarray(X, dtype=np.float32)
        self.classes_, y_index = np.unique(np.asarray(y), return_inverse=True)
        self._check_params()  # again: set_params does not pass through __init__
        files = np.arange(len(X)) if files is None and groups is None else np.asarray(files if files is not None else groups)
        groups = files if groups is None else np.asarray(groups)
        seed = 0 if self.random_state is None else int(self.random_state)
        tf.keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()
        train, val = _validation_split(y_index, groups, self.validation_fraction, seed,
                                       min_per_class=int(self.min_validation_recordings))
        self.mean_ = X[train].mean(axis=0)
        std = X[train].std(axis=0)
        # A bin that is (nearly) constant in training (e.g. above the band of every training file) would blow any
        # test energy there up to huge values: its scale is floored at 1 % of the mean scale.
        self.std_ = np.maximum(std, 0.01 * float(std.mean()) + 1e-12).astype(np.float32)
        self.precision_ = self.resolved_precision()
        self.model_ = self._build(X.shape[1], len(self.classes_))
        self.model_.compile(optimizer=tf.keras.optimizers.Adam(self.learning_rate, clipnorm=self.clipnorm),
                            loss="categorical_crossentropy")
        # Keras' train_on_batch builds a tf.data iterator per batch (a sixth of a fit's time on 2 cores): one traced
        # step takes the arrays and does what train_step does (loss; clipping and Adam in apply_gradients, as Keras 2's
        # minimize, absent in Keras 3), traced once for any batch size (a smaller last batch: two more traces, 1 s).
        model = self.model_
        model.optimizer.build(model.trainable_variables)  # its slots exist before the trace: traced once, not twice

        @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32) for shape in (
            [None, X.shape[1]], [None, len(self.classes_)], [None])])
        def step(x, target, weight):
            with tf.GradientTape() as tape:
                loss = model.compute_loss(x, target, model(x, training=True), weight)
            gradients = tape.gradient(loss, model.trainable_variables)
            model.optimizer.apply_gradients(zip(gradients, model.trainable_variables))
            return loss

        self._infer = None  # traced again for this model on its first prediction
        rng = np.random.default_rng(seed)
        monitor = _EpochMonitor(self, X, y_index, files, val)
        sampler = _PatchSampler(files[train], train, y_index, len(self.classes_),
                                int(self.min_batches) * int(self.batch_size))
        losses, recent = [], collections.deque(maxlen=int(self.average_epochs))
        for epoch in range(int(self.epochs)):
            batch_losses = []
            for index, weight in sampler.epoch(rng, int(self.batch_size)):
                x, target = self._augment(X[index], y_index[index], rng)
                batch_losses.append(float(step(x, target, weight)))
            losses.append(float(np.mean(batch_losses)))
            recent.append(model.get_weights())
            average = [np.mean(w, axis=0) for w in zip(*recent)]
            model.set_weights(average)  # the network scored, and kept, is the average of the last epochs
            monitor.on_epoch_end(epoch)
            if monitor.stop:
                break
            model.set_weights(recent[-1])  # training goes on from its own weights
        self.history_ = {"loss": losses, **monitor.history}
        self.model_.set_weights(average if monitor.best_weights is None else monitor.best_weights)
        self.best_epoch_ = monitor.best_epoch if val is not None else len(losses)
        held_out = 0 if val is None else int(min(len(np.unique(groups[val][y_index[val] == c]))
                                                 for c in np.unique(y_index[val])))
        self.history_.update(best_epoch=int(self.best_epoch_), stopped_epoch=len(losses), precision=self.precision_,
                             validation_recordings=held_out)
        return self

    def _augment(self, X, y_index, rng):
        """Scaled, augmented training patches (n, time * frequency) and their (mixed) one-hot targets."""
        n, (frames, bins) = len(X), self.input_shape
        patches = X.reshape(n, frames, bins)
        if self.tilt:  # log1p(x) ≈ x for the small magnitudes of most bins: a gain multiplies
            axis = np.linspace(0.0, np.pi, bins)
            curve = sum(rng.uniform(-self.tilt, self.tilt, (n, 1)) * np.cos(k * axis) for k in (1, 2, 3))
            patches = patches * np.exp(curve)[:, None, :]
        if self.shift_bins:
            shifts = rng.integers(-int(self.shift_bins), int(self.shift_bins) + 1, n)
            patches = np.stack([np.roll(p, k, axis=1) for p, k in zip(patches, shifts)])
        x = self._scale(patches.reshape(n, -1))
        target = np.eye(len(self.classes_), dtype=np.float32)[y_index]
        if self.mixup:
            share = rng.beta(self.mixup, self.mixup, (n, 1)).astype(np.float32)
            partner = rng.permutation(n)
            x = share * x + (1 - share) * x[partner]
            target = share * target + (1 - share) * target[partner]
        return x, target

    def predict_proba(self, X) -> np.ndarray:
        return self._proba_scaled(self._scale(X))

    def _proba_scaled(self, Xs) -> np.ndarray:
        """Class probabilities (n, n_classes) of scaled patches, 256 at a time through a traced call (eager Keras
        runs layer by layer), traced once per fitted model."""
        if not len(Xs):
            return np.zeros((0, len(self.classes_)))
        if getattr(self, "_infer", None) is None:
            import tensorflow as tf
            model = self.model_
            # A concrete function, traced once for any batch: a tf.function made anew for each of many models and
            # called only a few times each (a fit without validation) makes TensorFlow warn of retracing
            self._infer = tf.function(lambda x: model(x, training=False)).get_concrete_function(
                tf.TensorSpec([None, Xs.shape[1]], tf.float32))
        return np.concatenate([self._infer(Xs[i:i + 256]).numpy() for i in range(0, len(Xs), 256)])

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def _build(self, input_dim, n_classes):
        import tensorflow as tf

        if self.input_shape is None or int(np.prod(self.input_shape)) != input_dim:
            raise ParameterError(f"BaselineCNN: input_shape {self.input_shape} does not match {input_dim} values per frame; "
                                 "use it with a 'spectrogram' embedding (e.g. cnn-input-t3)")
        # Every layer but the output computes in the chosen precision (a per-layer policy: no global Keras state).
        # Noise and dropout draw random numbers, which TensorFlow draws several times slower in bfloat16 than in
        # float32 on CPU (in bfloat16 they made a sixth of the paper network's training step): they stay float32.
        policy = "mixed_bfloat16" if getattr(self, "precision_", "float32") == "bfloat16" else "float32"
        L = SimpleNamespace(**{name: functools.partial(getattr(tf.keras.layers, name), dtype=policy) for name in (
            "Reshape", "Conv2D", "MaxPooling2D", "GlobalMaxPooling2D", "Dense", "ZeroPadding2D",
            "BatchNormalization", "ReLU")})
        L.GaussianNoise = functools.partial(tf.keras.layers.GaussianNoise, dtype="float32")
        L.Dropout = functools.partial(tf.keras.layers.Dropout, dtype="float32")
        layers = [tf.keras.layers.Input((input_dim,)), L.Reshape((*self.input_shape, 1))]
        if self.arch == "paper":
            layers.append(L.GaussianNoise(0.1))
            for filters in (16, 32, 64):
                layers += [L.Conv2D(filters, 3, padding="same", activation="relu"), L.MaxPooling2D(2), L.Dropout(0.25)]
            layers += [L.Conv2D(128, 3, padding="same", activation="relu"), L.GlobalMaxPooling2D(), L.Dropout(0.25),
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
            raise UnknownNameError("CNN architecture", self.arch, list(DEFAULT_INPUTS))
        layers.append(tf.keras.layers.Dense(n_classes, activation="softmax", dtype="float32"))
        return tf.keras.Sequential(layers, name=f"baseline_cnn_{self.arch}")


class _PatchSampler:
    """Batches of one epoch: one random patch of every training file (each file drawn as often as needed for
    ``least`` patches), shuffled, with weights that give every class the same total weight.

    Parameters
    ----------
    files : np.ndarray, shape (n_train,)
        File of each training patch.
    rows : np.ndarray of int, shape (n_train,)
        Row of each training patch in the full patch array.
    y_index : np.ndarray of int, shape (n_patches,)
        Class index of every patch of the full array.
    n_classes, least : int
    """

    def __init__(self, files, rows, y_index, n_classes: int, least: int):
        names, owner = np.unique(files, return_inverse=True)
        order = np.argsort(owner, kind="stable")
        self.rows_of = np.split(np.asarray(rows)[order], np.cumsum(np.bincount(owner))[:-1])
        self.label = np.array([y_index[r[0]] for r in self.rows_of])
        counts = np.bincount(self.label, minlength=n_classes)
        self.weight = (len(names) / (n_classes * np.maximum(counts, 1)))[self.label].astype(np.float32)
        self.rounds = max(1, -(-int(least) // len(names)))  # ceil

    def epoch(self, rng, batch_size: int):
        order = np.concatenate([rng.permutation(len(self.rows_of)) for _ in range(self.rounds)])
        picks = np.array([self.rows_of[f][rng.integers(len(self.rows_of[f]))] for f in order])
        for start in range(0, len(order), batch_size):
            yield picks[start:start + batch_size], self.weight[order[start:start + batch_size]]


class _EpochMonitor:
    """Scores the validation files after every epoch, keeps the weights of the best epoch and says when to stop.

    The best epoch, from ``min_epochs`` on, has the highest file-wise balanced accuracy (ties: the lower validation
    loss); an epoch that gives every validation file the same class ranks below all others, so a collapsed network
    is kept only if every epoch collapsed. Training stops ``patience`` epochs after the later of the best epoch and
    the epoch of the lowest validation loss. A validation file is scored on at most :attr:`PATCHES_PER_FILE` of its
    patches, evenly spaced (the cost of scoring every epoch).
    """

    PATCHES_PER_FILE = 4

    def __init__(self, cnn: BaselineCNN, X, y_index, files, val):
        self.cnn, self.val, self.stop = cnn, val, False
        if val is not None:
            keep = []
            for f in np.unique(files[val]):
                rows = val[files[val] == f]
                keep.extend(rows[np.unique(np.linspace(0, len(rows) - 1, self.PATCHES_PER_FILE).round().astype(int))])
            keep = np.asarray(keep)
            self.X_val, self.y_val, self.files_val = cnn._scale(X[keep]), y_index[keep], files[keep]
        self.history = {} if val is None else {"val_loss": [], "val_accuracy": [], "val_balanced_accuracy": [],
                                               "val_largest_share": []}
        self.best_score, self.best_epoch, self.best_weights, self.lowest_loss, self.last_progress = None, 0, None, np.inf, 0

    def on_epoch_end(self, epoch):
        if self.val is None:
            return
        model = self.cnn.model_
        proba = self.cnn._proba_scaled(self.X_val)
        loss = float(-np.mean(np.log(proba[np.arange(len(proba)), self.y_val] + 1e-7)))
        balanced, largest = file_balanced_accuracy(proba, self.y_val, self.files_val)
        for key, value in zip(self.history, (loss, float(np.mean(proba.argmax(1) == self.y_val)), balanced, largest)):
            self.history[key].append(value)
        if loss < self.lowest_loss:  # still learning, though a few files may not show it yet
            self.lowest_loss, self.last_progress = loss, epoch + 1
        first = min(self.cnn.min_epochs, self.cnn.epochs)
        if epoch + 1 < first:
            return
        score = (largest < 1.0, round(balanced, 6), -loss)  # a collapsed epoch ranks last
        if self.best_score is None or score > self.best_score:
            self.best_score, self.best_epoch, self.best_weights = score, epoch + 1, model.get_weights()
        if epoch + 1 - max(self.best_epoch, self.last_progress) >= self.cnn.patience:
            self.stop = True
