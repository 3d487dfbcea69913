"""The classifiers evalkit knows by name: one explicit table of lazy factories with default parameters.

A classifier is any scikit-learn style estimator (``fit(X, y, groups=None)``, ``predict``, ``classes_``, and
``predict_proba`` or ``decision_function``, with a ``random_state`` parameter): add a line here, or pass an
instance wherever a classifier spec is accepted. Its constructor checks its parameters (keeping them as given, as
scikit-learn's ``clone`` needs): a value out of range is a :class:`~evalkit.config.ParameterError` with the valid range.
"""
from __future__ import annotations

from ..config import Registry, format_spec, parse_spec

CLASSIFIERS = Registry(
    "classifier",
    {
        "svm": "evalkit.learn.classifiers:LinearSVM",
        "d128": "evalkit.learn.classifiers:DenseClassifier",
        "d512": "evalkit.learn.classifiers:DenseClassifier",
        "cnn": "evalkit.learn.cnn:BaselineCNN",
        "cnn-han": "evalkit.learn.cnn:BaselineCNN",
    },
    # Han's network learns more slowly on small data: on D2 at 80 %, two of three runs stopped at epochs 30-35
    # (patience 10) while their validation accuracy still rose (62.1 ± 16.2 %); kept from epoch 35: 75.4 ± 7.7 %.
    defaults={"d128": {"hidden_units": 128}, "d512": {"hidden_units": 512}, "cnn": {"arch": "paper"},
              "cnn-han": {"arch": "han", "min_epochs": 35}},
)


def get_classifier(spec, random_state=None, **params):
    """Build a classifier from a name or spec (``"svm"``, ``"d512"``, ``"svm(C=0.1)"``, ``"d128(dropout=0.3)"``).

    An estimator instance is returned as it is (with ``random_state`` set when given).

    Examples
    --------
    >>> get_classifier("d128(dropout=0.3)", random_state=0).hidden_units
    128
    """
    if not isinstance(spec, str):
        return spec.set_params(random_state=random_state) if random_state is not None else spec
    return CLASSIFIERS.build(spec, **params, random_state=random_state)


def classifier_spec(spec: str) -> str:
    """Canonical form of a classifier spec (sorted parameters) for result keys and tables."""
    return format_spec(*parse_spec(spec))


def classifier_name(spec: str) -> str:
    """Registry name of a classifier spec (``"cnn(epochs=20)"`` → ``"cnn"``)."""
    return parse_spec(spec)[0]
