"""What extracting an embedding cost, read back from the embedding cache: the wall-clock seconds of extraction and
the seconds of audio that :func:`~evalkit.embed.cache.extract_embeddings` records with each entry it writes."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..data.audio import file_hash
from .base import Extractor
from .cache import EmbeddingCache


@dataclass(frozen=True)
class ExtractionCost:
    """What extracting an embedding of some files cost on the machine that computed their cache entries.

    Attributes
    ----------
    seconds : float
        Wall-clock seconds of extraction recorded by the measured entries.
    audio_seconds : float
        Seconds of audio those entries embed.
    measured : int
        Files whose entry records its cost.
    files : int
        Files asked about (entries missing or written before costs were recorded are not measured).
    """

    seconds: float
    audio_seconds: float
    measured: int
    files: int

    @property
    def per_audio_second(self) -> float:
        """Seconds of extraction per second of audio; NaN when no entry was measured."""
        return self.seconds / self.audio_seconds if self.measured and self.audio_seconds > 0 else math.nan

    def text(self) -> str:
        """E.g. ``"0.0123 s per audio-second (measured on 40 of 40 files)"``, or ``"not measured"``."""
        if math.isnan(self.per_audio_second):
            return "not measured"
        return f"{self.per_audio_second:.3g} s per audio-second (measured on {self.measured} of {self.files} files)"


def extraction_cost(paths, extractor: Extractor, *, cache: EmbeddingCache | None = None) -> ExtractionCost:
    """Seconds of extraction per second of audio of ``extractor`` on ``paths``, from what their cache entries record.

    Parameters
    ----------
    paths : sequence of path-like
        Audio files (those that do not exist count as not measured).
    extractor : Extractor
    cache : EmbeddingCache, optional
        Default: the default cache.

    Returns
    -------
    ExtractionCost
        The sums over the entries that record their cost (:func:`~evalkit.embed.cache.extract_embeddings` writes them); entries cached
        before costs were recorded, and missing ones, are counted as not measured and never recomputed here.
    """
    cache = cache if cache is not None else EmbeddingCache()
    paths = [Path(p) for p in paths]
    costs = [cache.cost(extractor, file_hash(p)) if p.is_file() else None for p in paths]
    measured = [c for c in costs if c is not None]
    return ExtractionCost(seconds=float(sum(c[0] for c in measured)), audio_seconds=float(sum(c[1] for c in measured)),
                          measured=len(measured), files=len(paths))
