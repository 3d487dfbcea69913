"""The baseline CNNs as the authors built them: layers and parameter counts of their released models, per-bin
normalisation, training that keeps the best validation epoch, the classifier's own input, determinism."""
import numpy as np
import pytest

from evalkit import get_classifier, get_extractor, load_audio
from evalkit.config import ParameterError
from evalkit.learn.classifiers import _validation_split
from evalkit.learn.cnn import BaselineCNN, native_bfloat16
from evalkit.learn.metrics import file_balanced_accuracy
from evalkit.learn.experiments import run_experiment

#: The layer sequence of the authors' released baselines (ReLU inside the convolutions and the dense layer).
PAPER_LAYERS = ["Reshape", "GaussianNoise",
                "Conv2D", "MaxPooling2D", "Dropout", "Conv2D", "MaxPooling2D", "Dropout",
                "Conv2D", "MaxPooling2D", "Dropout", "Conv2D", "GlobalMaxPooling2D", "Dropout",
                "Dense", "Dropout", "Dense"]


def _trainable(model) -> list[int]:
    return [int(sum(np.prod(w.shape) for w in layer.trainable_weights)) for layer in model.layers]


@pytest.mark.parametrize("embedding,n_classes,total", [("cnn-input-t3", 4, 105_668), ("cnn-input-t1", 5, 105_733)])
def test_paper_cnn_has_the_layers_and_parameters_of_the_released_models(embedding, n_classes, total):
    extractor = get_extractor(embedding)
    cnn = get_classifier("cnn").set_params(input_shape=extractor.frame_shape)
    model = cnn._build(extractor.dim, n_classes)
    assert [layer.__class__.__name__ for layer in model.layers] == PAPER_LAYERS
    assert [layer.rate for layer in model.layers if layer.__class__.__name__ == "Dropout"] == [0.25] * 4 + [0.5]
    assert model.layers[1].stddev == 0.1
    assert [n for n in _trainable(model) if n] == [160, 4640, 18496, 73856, 8256, 65 * n_classes]
    assert model.count_params() == total  # nothing untrainable: the per-bin normalisation lives outside the network
    assert model.input_shape == (None, extractor.dim) and model.layers[0].target_shape == (*extractor.frame_shape, 1)


def test_the_inputs_are_the_authors_settings():
    t3, t1 = get_extractor("cnn-input-t3"), get_extractor("cnn-input-t1")
    assert (t3.sample_rate, t3.n_fft, t3.stft_hop, t3.bins, t3.kind, t3.frame_shape) == (22050, 1024, 342, 80, "mel", (140, 80))
    assert (t1.sample_rate, t1.n_fft, t1.stft_hop, t1.bins, t1.kind, t1.frame_shape) == (12000, 512, 512, 257, "linear", (34, 257))
    assert t1.patch_hop == 17 and t3.patch_hop == 7
    assert get_extractor("spectrogram").params() == t3.params()  # the T3 input is the default
    assert get_classifier("cnn").default_input == "cnn-input-t3"
    assert get_classifier("cnn-han").default_input == "cnn-input-han"


def test_validation_holds_out_whole_recordings_of_every_class():
    y = np.repeat([0, 1, 2], 40)
    groups = np.repeat(np.arange(30), 4)  # 10 recordings per class, 4 frames each
    train, val = _validation_split(y, groups, 0.2, seed=3)
    assert set(groups[train]).isdisjoint(groups[val])
    assert [len(set(groups[val][y[val] == c])) for c in range(3)] == [2, 2, 2]
    # a class with two recordings keeps both; a single class left in validation gives no validation set
    y2, groups2 = np.repeat([0, 1], 8), np.r_[np.repeat([0, 1], 4), np.repeat([2, 3], 4)]
    assert _validation_split(y2, groups2, 0.2, seed=0)[1] is None
    # a validation set of at least min_per_class recordings of every class, or none
    assert _validation_split(y, groups, 0.2, seed=3, min_per_class=2)[1] is not None
    train, val = _validation_split(y, groups, 0.2, seed=3, min_per_class=3)
    assert val is None and len(train) == len(y)


def test_file_balanced_accuracy_fuses_patches_per_file():
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.1, 0.9]])
    y, files = np.array([0, 0, 1, 1]), np.array([5, 5, 7, 7])
    assert file_balanced_accuracy(proba, y, files) == (1.0, 0.5)  # file 5: mean (0.55, 0.45) -> class 0
    assert file_balanced_accuracy(proba[[1, 3]], y[[1, 3]], files[[1, 3]]) == (0.5, 1.0)


@pytest.fixture(scope="module")
def tone_patches(tone_task_dir):
    """T3 patches of the tone task's files (2.0 s: one patch each), labels, recordings and files."""
    extractor = get_extractor("cnn-input-t3(patch_hop=10)")
    paths = sorted(tone_task_dir.glob("*/*.wav"))
    X, y, groups, files = [], [], [], []
    for i, path in enumerate(paths):
        emb, _ = extractor.extract(load_audio(path, extractor.sample_rate))
        X.append(emb)
        y += [path.parent.name] * len(emb)
        groups += [f"{path.parent.name}/{path.stem.split('__')[0]}"] * len(emb)
        files += [i] * len(emb)
    return np.concatenate(X), np.array(y), np.array(groups), np.array(files), extractor.frame_shape


@pytest.mark.parametrize("arch,embedding", [("paper", "cnn-input-t3"), ("han", "cnn-input-han")])
def test_bfloat16_computes_in_bfloat16_with_the_same_weights_and_a_float32_output(arch, embedding):
    import tensorflow as tf

    extractor = get_extractor(embedding)
    cnn = BaselineCNN(arch=arch, input_shape=extractor.frame_shape)
    single = cnn._build(extractor.dim, 4)
    cnn.precision_ = "bfloat16"
    mixed = cnn._build(extractor.dim, 4)
    assert _trainable(mixed) == _trainable(single) and mixed.count_params() == single.count_params()
    random = (tf.keras.layers.Dropout, tf.keras.layers.GaussianNoise)  # random draws stay float32 (fast on CPU)
    assert {layer.compute_dtype for layer in mixed.layers[:-1] if not isinstance(layer, random)} == {"bfloat16"}
    assert {layer.compute_dtype for layer in mixed.layers if isinstance(layer, random)} == {"float32"}
    # weights are kept and updated in float32 (a dtype is a tf.DType in Keras 2, a name in Keras 3)
    assert {tf.as_dtype(w.dtype).name for w in mixed.weights} == {"float32"}
    assert mixed.layers[-1].compute_dtype == "float32" and tf.as_dtype(mixed.outputs[0].dtype).name == "float32"


def test_precision_is_checked_and_recorded(tone_patches):
    X, y, _, files, shape = tone_patches
    with pytest.raises(ParameterError, match="precision"):
        BaselineCNN(input_shape=shape, precision="float16")
    cnn = BaselineCNN(input_shape=shape, epochs=1, validation_fraction=0, precision="bfloat16", random_state=0)
    assert cnn.fit(X, y, files=files).history_["precision"] == "bfloat16"
    assert np.allclose(cnn.predict_proba(X).sum(axis=1), 1, atol=1e-5)
    auto = BaselineCNN(input_shape=shape, epochs=1, validation_fraction=0, random_state=0).fit(X, y, files=files)
    assert auto.history_["precision"] == ("bfloat16" if native_bfloat16() else "float32")


@pytest.mark.slow  # trains whole networks (two of them for determinism, or on a task end to end)
def test_cnn_normalises_per_bin_keeps_its_best_epoch_and_is_deterministic(tone_patches):
    X, y, groups, files, shape = tone_patches
    # the tone task has 4 recordings per class: 1 per class is held out when one is enough
    cnn = BaselineCNN(input_shape=shape, epochs=8, min_epochs=4, patience=2, min_validation_recordings=1, random_state=1)
    cnn.fit(X, y, groups=groups, files=files)
    train, val = _validation_split(np.unique(y, return_inverse=True)[1], groups, 0.2, 1)
    assert cnn.history_["validation_recordings"] == 1
    np.testing.assert_allclose(cnn.mean_, X[train].mean(axis=0), rtol=1e-5, atol=1e-6)
    assert cnn.mean_.shape == cnn.std_.shape == (shape[0] * shape[1],) and np.all(cnn.std_ > 0)
    h = cnn.history_
    stopped = h["stopped_epoch"]
    assert 4 <= stopped <= 8 and all(len(h[k]) == stopped for k in ("loss", "val_loss", "val_balanced_accuracy"))
    balanced, loss = np.array(h["val_balanced_accuracy"])[3:], np.array(h["val_loss"])[3:]  # epochs 4, 5, ...
    # the best epoch: not collapsed onto one class, then the best balanced accuracy, then the lower loss
    scores = [(share < 1.0, round(b, 6), -l) for share, b, l in zip(h["val_largest_share"][3:], balanced, loss)]
    assert h["best_epoch"] - 4 == max(range(len(scores)), key=scores.__getitem__)
    # the kept weights are those of the best epoch: they reproduce its validation score
    best, _ = file_balanced_accuracy(cnn.predict_proba(X[val]), np.unique(y, return_inverse=True)[1][val], files[val])
    assert best == pytest.approx(balanced[h["best_epoch"] - 4])
    again = BaselineCNN(input_shape=shape, epochs=8, min_epochs=4, patience=2, min_validation_recordings=1, random_state=1)
    again.fit(X, y, groups=groups, files=files)
    np.testing.assert_array_equal(cnn.predict_proba(X), again.predict_proba(X))


def test_cnn_without_validation_trains_every_epoch(tone_patches):
    X, y, groups, files, shape = tone_patches
    cnn = BaselineCNN(input_shape=shape, epochs=3, validation_fraction=0, random_state=0).fit(X, y, files=files)
    assert cnn.history_["stopped_epoch"] == cnn.history_["best_epoch"] == 3 and "val_loss" not in cnn.history_
    assert cnn.history_["validation_recordings"] == 0
    # too few recordings per class to hold out min_validation_recordings (default 3) of each: all of them train
    small = BaselineCNN(input_shape=shape, epochs=3, random_state=0).fit(X, y, groups=groups, files=files)
    assert small.history_["stopped_epoch"] == 3 and "val_loss" not in small.history_
    np.testing.assert_allclose(small.mean_, X.mean(axis=0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ParameterError, match="min_validation_recordings"):
        BaselineCNN(input_shape=shape, min_validation_recordings=0)
    with pytest.raises(ParameterError, match="patience"):
        BaselineCNN(input_shape=shape, patience=0).fit(X, y)


def test_the_network_kept_averages_the_last_epochs_without_changing_how_it_learns(tone_patches):
    X, y, _, files, shape = tone_patches

    def weights(epochs, average_epochs):
        cnn = BaselineCNN(input_shape=shape, epochs=epochs, validation_fraction=0, average_epochs=average_epochs,
                          random_state=2)
        return cnn.fit(X, y, files=files).model_.get_weights()

    second, third, averaged = weights(2, 1), weights(3, 1), weights(3, 2)
    assert not np.allclose(second[0], third[0])  # the epochs' networks differ
    for a, b, mean in zip(second, third, averaged):  # the third epoch trained from its own weights, not the average
        np.testing.assert_allclose(mean, (a + b) / 2, rtol=1e-5, atol=1e-6)
    with pytest.raises(ParameterError, match="average_epochs"):
        BaselineCNN(input_shape=shape, average_epochs=0)


def test_training_stops_only_when_neither_the_balanced_accuracy_nor_the_loss_improves():
    from types import SimpleNamespace

    from evalkit.learn.cnn import _EpochMonitor

    # 4 validation files of 2 classes, one patch each; the probability each epoch gives the true class of every file
    # from epoch 2 on, file 0 is wrong (balanced accuracy 0.75 < 1.0 of epoch 1) but the loss falls until epoch 6
    right = [[0.6] * 4] + [[0.45, q, q, q] for q in (0.8, 0.85, 0.9, 0.95, 0.99)] + [[0.45, 0.99, 0.99, 0.99]] * 6
    y, epoch = np.array([0, 0, 1, 1]), iter(right)

    def proba(_):
        p = np.array(next(epoch))
        return np.where(y[:, None] == np.arange(2), p[:, None], 1 - p[:, None])

    cnn = SimpleNamespace(min_epochs=1, epochs=12, patience=2, _scale=lambda X: X, _proba_scaled=proba,
                          model_=SimpleNamespace(get_weights=lambda: []))
    monitor = _EpochMonitor(cnn, np.zeros((4, 1)), y, np.arange(4), np.arange(4))
    for i in range(12):
        monitor.on_epoch_end(i)
        if monitor.stop:
            break
    # kept: epoch 1 (every file right); stopped 2 epochs after the last lower loss (epoch 6), not after epoch 1
    assert monitor.best_epoch == 1 and i + 1 == 8
    assert np.argmin(monitor.history["val_loss"]) + 1 == 6


@pytest.mark.slow  # trains whole networks (two of them for determinism, or on a task end to end)
def test_cnn_brings_its_own_input(tone_task_dir):
    df = run_experiment(tone_task_dir, None, "cnn(epochs=10, min_epochs=10, mixup=0)", train_fraction=0.8, repetitions=1,
                        cache=False, store=False, progress=False)
    row = df.iloc[0]
    assert row.embedding == get_extractor("cnn-input-t3").spec
    assert row.history["stopped_epoch"] == row.history["best_epoch"] == 10  # 3 training recordings per class: no validation set
    # it learns its training patches (without mixup, whose blended targets keep the loss up; the test files, one
    # recording of other pitches per class, are too few for a stable test accuracy: tests/test_classifiers.py
    # checks that a CNN learns)
    assert row.history["loss"][-1] < 0.5 * row.history["loss"][0]
    with pytest.raises(ParameterError, match="give an embedding"):
        run_experiment(tone_task_dir, None, "svm", repetitions=1, cache=False, store=False, progress=False)


def test_an_epoch_draws_one_patch_of_every_training_file_with_balanced_class_weights():
    from evalkit.learn.cnn import _PatchSampler

    files = np.repeat(np.arange(6), [3, 3, 3, 3, 2, 2])  # files 0-3 class 0, files 4-5 class 1
    y_index = np.repeat([0, 1], [12, 4])
    rows = np.arange(len(files))
    sampler = _PatchSampler(files, rows, y_index, 2, least=12)  # 6 files: each drawn twice
    picks, weights = map(np.concatenate, zip(*sampler.epoch(np.random.default_rng(0), 5)))
    assert len(picks) == 12 and sorted(np.bincount(files[picks], minlength=6)) == [2] * 6
    # each class weighs the same in total: 8 draws of class 0 and 4 of class 1
    assert weights[y_index[picks] == 0].sum() == pytest.approx(weights[y_index[picks] == 1].sum())
    again, _ = map(np.concatenate, zip(*sampler.epoch(np.random.default_rng(0), 5)))
    np.testing.assert_array_equal(picks, again)  # seeded


def test_augmentation_keeps_shapes_mixes_targets_and_is_off_when_zero():
    rng = np.random.default_rng(0)
    X = rng.random((8, 6 * 4)).astype(np.float32)
    y_index = np.array([0, 1] * 4)
    cnn = BaselineCNN(input_shape=(6, 4), mixup=0.4, shift_bins=1, tilt=0.3)
    cnn.classes_, cnn.mean_, cnn.std_ = np.array(["a", "b"]), np.zeros(24, np.float32), np.ones(24, np.float32)
    x, target = cnn._augment(X, y_index, np.random.default_rng(1))
    assert x.shape == X.shape and target.shape == (8, 2)
    np.testing.assert_allclose(target.sum(axis=1), 1.0, rtol=1e-6)
    assert not np.allclose(x, X)
    plain = BaselineCNN(input_shape=(6, 4), mixup=0, shift_bins=0, tilt=0)
    plain.classes_, plain.mean_, plain.std_ = cnn.classes_, cnn.mean_, cnn.std_
    x, target = plain._augment(X, y_index, np.random.default_rng(1))
    np.testing.assert_array_equal(x, X)
    np.testing.assert_array_equal(target.argmax(axis=1), y_index)
    for bad in ("mixup=-1", "shift_bins=1.5", "tilt=5"):
        with pytest.raises(ParameterError, match=bad.split("=")[0]):
            BaselineCNN(**{bad.split("=")[0]: float(bad.split("=")[1])})


def test_predictions_of_one_network_after_another_do_not_make_tensorflow_warn_of_retracing():
    """A build fits dozens of networks in one process, and one without validation predicts only a few batches:
    each prediction function is traced once per network, which TensorFlow must not report as retracing."""
    import logging

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    try:
        rng = np.random.default_rng(0)
        X, y = rng.standard_normal((40, 256)).astype(np.float32), np.repeat(["a", "b"], 20)
        for seed in range(7):
            cnn = BaselineCNN(input_shape=(32, 8), epochs=1, validation_fraction=0, random_state=seed).fit(X, y)
            assert cnn.predict_proba(X[:30]).shape == (30, 2) and cnn.predict_proba(X[:3]).shape == (3, 2)
    finally:
        logger.removeHandler(handler)
    assert not [r.getMessage() for r in records if "retracing" in r.getMessage()]
