"""Stage 2, embed: frame-wise embeddings of audio files, cached on disk.

``base`` (the :class:`Extractor` interface), ``registry`` (names → lazy factories), ``handcrafted`` (MFCC,
spectrogram patches), ``musicnn``, ``openl3``, ``vggish``, ``kumar`` (pre-trained models), ``hear`` and
``hear_validation`` (any HEAR 2021 API module, checked as the HEAR validator does), ``worker`` (a model in an
interpreter of its own), ``cache``
(content-addressed embedding cache and batched, resumable extraction) and ``costs`` (the measured seconds of extraction
per second of audio that the cache entries record). Imports ``data`` and ``config`` only.
"""
from .base import Extractor
from .cache import EmbeddingCache, extract_embeddings
from .costs import ExtractionCost, extraction_cost
from .registry import available_extractors, get_extractor

__all__ = ["EmbeddingCache", "Extractor", "ExtractionCost", "available_extractors", "extract_embeddings",
           "extraction_cost", "get_extractor"]
