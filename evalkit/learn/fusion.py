"""Late fusion (average frame-wise class scores per file) and early fusion (pool frames per file)."""
from __future__ import annotations

import numpy as np

from ..config import ParameterError

POOLINGS = ("mean", "mean+std")


def frame_table(embeddings: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-file frames into one matrix.

    Returns
    -------
    frames : np.ndarray, shape (total_frames, dim)
    file_index : np.ndarray of int, shape (total_frames,)
        Position in ``embeddings`` of the file each frame came from.
    """
    frames = np.concatenate(embeddings)
    file_index = np.repeat(np.arange(len(embeddings)), [len(e) for e in embeddings])
    return frames, file_index


def late_fusion(frame_scores: np.ndarray, file_index: np.ndarray, n_files: int | None = None) -> np.ndarray:
    """Average frame-wise class scores per file.

    Parameters
    ----------
    frame_scores : np.ndarray, shape (n_frames, n_classes)
        Probabilities or decision values.
    file_index : np.ndarray of int, shape (n_frames,)

    Returns
    -------
    np.ndarray, shape (n_files, n_classes)
        Mean score per file; the predicted class is its arg-max.
    """
    n_files = int(file_index.max()) + 1 if n_files is None else n_files
    sums = np.zeros((n_files, frame_scores.shape[1]))
    np.add.at(sums, file_index, frame_scores)
    counts = np.bincount(file_index, minlength=n_files)[:, None]
    if np.any(counts == 0):
        raise ValueError("late fusion: some files have no frames")
    return sums / counts


def pool_embeddings(embeddings: list[np.ndarray], pooling: str = "mean") -> np.ndarray:
    """Early fusion: one vector per file by global pooling of its frames.

    Parameters
    ----------
    embeddings : list of np.ndarray, each (n_frames, dim)
    pooling : {"mean", "mean+std"}

    Returns
    -------
    np.ndarray, shape (n_files, dim) or (n_files, 2 * dim)
    """
    if pooling not in POOLINGS:
        raise ParameterError(f"pooling must be one of {POOLINGS}, not {pooling!r}")
    means = np.stack([e.mean(axis=0) for e in embeddings])
    if pooling == "mean":
        return means
    return np.hstack([means, np.stack([e.std(axis=0) for e in embeddings])])
