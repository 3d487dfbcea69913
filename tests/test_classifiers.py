import numpy as np
import pytest

from evalkit import BaselineCNN, DenseClassifier, LinearSVM, get_classifier
from evalkit.config import ParameterError
from evalkit.learn.classifiers import class_scores


def blobs(n=120, dim=20, classes=3, seed=0, spread=1.0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, dim)) * 2
    y = np.repeat(np.arange(classes), n // classes)
    X = centres[y] + spread * rng.standard_normal((len(y), dim))
    return X.astype(np.float32), np.array([f"c{i}" for i in y])


def test_linear_svm_learns_and_scores_every_class():
    X, y = blobs()
    svm = LinearSVM(random_state=0).fit(X[::2], y[::2])
    assert (svm.predict(X[1::2]) == y[1::2]).mean() > 0.9
    assert class_scores(svm, X).shape == (len(X), 3)
    X2, y2 = blobs(classes=2)
    assert class_scores(LinearSVM().fit(X2, y2), X2).shape == (len(X2), 2)  # binary: two columns too


def test_linear_svm_without_scaling_fails_where_feature_scales_hide_the_signal():
    """The informative feature varies by 0.001, a useless one by 1000: only standardisation finds the signal
    (what `svm(scale=false)` lets a user check, e.g. for VGGish's post-processed 0 … 255 values)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    X = np.column_stack([y * 1e-3 + 1e-4 * rng.standard_normal(300), 1000 * rng.standard_normal(300)])
    labels = np.array(["a", "b"])[y]
    scaled = get_classifier("svm", random_state=0).fit(X[::2], labels[::2])
    raw = get_classifier("svm(scale=false)", random_state=0).fit(X[::2], labels[::2])
    assert (scaled.predict(X[1::2]) == labels[1::2]).mean() > 0.95
    assert (raw.predict(X[1::2]) == labels[1::2]).mean() < 0.7


@pytest.mark.parametrize("units", [128, 512])
def test_dense_classifier_learns_is_seeded_and_stops_early(units):
    X, y = blobs(n=300, spread=3.0)  # overlapping classes: the validation loss has a minimum to stop at
    groups = np.arange(len(y)) // 5
    model = DenseClassifier(hidden_units=units, random_state=1).fit(X[::2], y[::2], groups=groups[::2])
    assert (model.predict(X[1::2]) == y[1::2]).mean() > 0.85
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    assert len(model.history_["val_loss"]) < model.epochs  # early stopping ended training
    same = DenseClassifier(hidden_units=units, random_state=1).fit(X[::2], y[::2], groups=groups[::2])
    np.testing.assert_array_equal(same.predict_proba(X), proba)
    other = DenseClassifier(hidden_units=units, random_state=2).fit(X[::2], y[::2], groups=groups[::2])
    assert not np.array_equal(other.predict_proba(X), proba)


def few_training_files(seed, files=38, frames=3, dim=200, classes=3):
    """Frames of ``files`` recordings per class (each recording off its class centre), as embeddings of a hard task."""
    rng = np.random.default_rng(seed)
    centres = 0.5 * rng.standard_normal((classes, dim))
    y = np.repeat(np.arange(classes), files * frames)
    recording = np.repeat(np.arange(classes * files), frames)
    X = centres[y] + 1.5 * rng.standard_normal((classes * files, dim))[recording] + 4 * rng.standard_normal((len(y), dim))
    return X.astype(np.float32), np.array([f"c{i}" for i in y]), recording


def test_dense_classifier_keeps_a_trained_network_when_training_files_are_few():
    """Eight training files per class (10 % of a demo task) make one batch per pass, and the validation loss of the
    three held-out files can be lowest after the first update. Kept from there (min_batches=min_epochs=1), the
    network is barely trained; the defaults (8 batches per epoch, kept from epoch 10) keep a trained one."""
    X, y, recording = few_training_files(seed=9)
    train = recording % 38 < 8
    barely = DenseClassifier(min_batches=1, min_epochs=1, random_state=9).fit(X[train], y[train], groups=recording[train])
    trained = DenseClassifier(random_state=9).fit(X[train], y[train], groups=recording[train])
    assert len(barely.history_["loss"]) == 1 + barely.patience  # its best epoch was the first
    assert len(trained.history_["loss"]) >= trained.min_epochs + trained.patience
    accuracy = {name: (model.predict(X[~train]) == y[~train]).mean() for name, model in
                (("barely", barely), ("trained", trained))}
    assert accuracy["trained"] > accuracy["barely"] + 0.1 and accuracy["trained"] > 0.45  # chance: 1/3
    with pytest.raises(ParameterError, match="min_epochs"):
        DenseClassifier(min_epochs=0)


def test_standardisation_uses_training_data_only():
    X, y = blobs()
    model = DenseClassifier(epochs=3, validation_fraction=0, random_state=0).fit(X, y)
    np.testing.assert_allclose(model.scaler_.mean_, X.mean(axis=0), rtol=1e-5, atol=1e-5)


def test_registry_builds_the_papers_classifiers():
    assert get_classifier("d512").hidden_units == 512
    assert get_classifier("d128(dropout=0.3)", random_state=4).get_params()["dropout"] == 0.3
    assert get_classifier("svm(C=0.1)").C == 0.1
    assert get_classifier("cnn-han").arch == "han"


@pytest.mark.parametrize("arch,shape", [("paper", (140, 80)), ("han", (43, 128))])
def test_baseline_cnn_architectures(arch, shape):
    model = BaselineCNN(arch=arch, input_shape=shape)
    keras_model = model._build(int(np.prod(shape)), 5)
    names = [layer.__class__.__name__ for layer in keras_model.layers]
    assert names.count("Conv2D") == 4 and "GlobalMaxPooling2D" in names
    if arch == "paper":  # the whole layer sequence and parameter counts: tests/test_cnn.py
        assert "GaussianNoise" in names and [l.filters for l in keras_model.layers if hasattr(l, "filters")] == [16, 32, 64, 128]
        assert keras_model.layers[-3].units == 64
    else:
        assert names.count("BatchNormalization") == 4 and keras_model.layers[-3].units == 512
    assert keras_model.output_shape == (None, 5)


def test_baseline_cnn_trains_and_checks_its_input_shape():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 32 * 8)).astype(np.float32)
    y = np.repeat(["a", "b"], 20)
    X[y == "b", :64] += 2.0
    model = BaselineCNN(input_shape=(32, 8), epochs=15, min_validation_recordings=1,
                        random_state=0).fit(X, y, groups=np.arange(40) // 4)
    assert (model.predict(X) == y).mean() > 0.8 and "val_loss" in model.history_
    with pytest.raises(ValueError, match="does not match"):
        BaselineCNN(input_shape=(10, 10), epochs=1).fit(X, y)
