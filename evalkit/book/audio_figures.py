"""Figures of audio and embeddings for the teaching chapter: 2-D projections of embeddings and spectrograms."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .figure_style import (LEGEND_FONTSIZE, class_name, PANEL_HEIGHT, _new_axes, _sns, _style, palette)

# ------------------------------------------------------------------------------------------------
# Scatter plots and spectrograms


def projection_scatter(X: np.ndarray, labels, *, method: str = "pca", ax=None, title: str | None = None,
                       random_state: int = 0, classes=None):
    """2-D projection (PCA or t-SNE) of standardised vectors (e.g. one mean embedding per file), coloured by
    class; the PCA axes say the share of variance they explain."""
    sns = _sns()
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(np.asarray(X, dtype=float))
    labels = np.asarray(labels)
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=random_state)
        points = pca.fit_transform(X)
        names = [f"principal component {i + 1} ({100 * r:.0f} % of variance)"
                 for i, r in enumerate(pca.explained_variance_ratio_)]
    elif method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = max(2.0, min(30.0, (len(X) - 1) / 3))
        points = TSNE(n_components=2, random_state=random_state, perplexity=perplexity, init="pca").fit_transform(X)
        names = ["t-SNE dimension 1", "t-SNE dimension 2"]
    else:
        raise ValueError(f"method must be 'pca' or 'tsne', not {method!r}")
    classes = [class_name(c) for c in (classes if classes is not None else dict.fromkeys(labels))]
    data = pd.DataFrame({"x": points[:, 0], "y": points[:, 1], "class": [class_name(v) for v in labels]})
    with _style("ticks"):
        fig, ax = _new_axes((4.8, PANEL_HEIGHT), ax)
        sns.scatterplot(data=data, x="x", y="y", hue="class", hue_order=classes, palette=palette(len(classes)),
                        style="class", style_order=classes, s=22, alpha=0.85, edgecolor="none", ax=ax)
        ax.set_xlabel(names[0], fontsize=8.5)
        ax.set_ylabel(names[1], fontsize=8.5)
        ax.set_xticks([])
        ax.set_yticks([])
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, title=None,
                        fontsize=LEGEND_FONTSIZE, handletextpad=0.2, borderaxespad=0.3)
        if title:
            ax.set_title(title)
    return fig


def _hz(f: float) -> str:
    return f"{f / 1000:g}k" if f >= 1000 else f"{f:g}"


def spectrogram(audio: np.ndarray, sample_rate: int, *, ax=None, title: str | None = None, mel: bool = True):
    """Log (mel) spectrogram of a signal in dB below its maximum, time in seconds and frequency in Hz."""
    import librosa

    audio = np.asarray(audio, dtype=float)
    if mel:
        n_mels = 96
        spec = librosa.feature.melspectrogram(y=audio, sr=sample_rate, n_fft=1024, hop_length=256, n_mels=n_mels)
    else:
        spec = np.abs(librosa.stft(audio, n_fft=1024, hop_length=256)) ** 2
    db = librosa.power_to_db(spec, ref=np.max)
    duration = len(audio) / sample_rate
    nyquist = sample_rate / 2
    with _style("ticks"):
        fig, ax = _new_axes((4.4, 2.4), ax)
        extent = (0, duration, 0, db.shape[0]) if mel else (0, duration, 0, nyquist)
        image = ax.imshow(db, origin="lower", aspect="auto", cmap="magma", extent=extent, vmin=-80, vmax=0,
                          interpolation="nearest")
        if mel:
            centres = librosa.mel_frequencies(n_mels=n_mels, fmin=0.0, fmax=nyquist)
            ticks, positions = [], []
            for f in (16000, 8000, 4000, 2000, 1000, 500, 250, 125, 63):  # from the top, at least 9 % apart
                position = float(np.interp(f, centres, np.arange(n_mels))) + 0.5
                if centres[0] < f <= centres[-1] + 1 and (not positions or positions[-1] - position >= 0.09 * n_mels):
                    ticks.append(f)
                    positions.append(position)
            ax.set_yticks(positions, [_hz(f) for f in ticks])
            ax.set_ylabel("frequency (Hz, mel scale)", fontsize=8.5)
        else:
            ax.yaxis.set_major_formatter(lambda f, _: _hz(f))
            ax.set_ylabel("frequency (Hz)", fontsize=8.5)
        ax.set_xlabel("time (s)", fontsize=8.5)
        ax.tick_params(labelsize=7.5)
        colorbar = fig.colorbar(image, ax=ax, pad=0.02, aspect=15)
        colorbar.set_label("level (dB re. max)", fontsize=8)
        colorbar.ax.tick_params(labelsize=7)
        if title:
            ax.set_title(title, fontsize=9.5)
    return fig


