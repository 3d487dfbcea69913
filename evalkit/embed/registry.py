"""The embeddings evalkit knows by name: one explicit table of lazy factories and presets.

A name maps to ``"module:Class"``; the module is imported only when the name is built, so ``evalkit embeddings``
lists every name without the optional packages, and building one without its package raises
:class:`~evalkit.config.MissingPackageError` saying what to install. A new embedding is a class implementing
:class:`~evalkit.embed.base.Extractor`: add a line here, or pass an instance wherever an embedding spec is accepted.
"""
from __future__ import annotations

from ..config import Registry
from .base import Extractor

EMBEDDINGS = Registry(
    "embedding",
    {
        "mfcc": "evalkit.embed.handcrafted:MFCCExtractor",
        "spectrogram": "evalkit.embed.handcrafted:SpectrogramPatches",
        "musicnn": "evalkit.embed.musicnn:MusicnnExtractor",
        "openl3": "evalkit.embed.openl3:OpenL3Extractor",
        "vggish": "evalkit.embed.vggish:VGGishExtractor",
        "kumar": "evalkit.embed.kumar:KumarExtractor",
        "hear": "evalkit.embed.hear:HearExtractor",
        "birdnet": "evalkit.embed.birdnet:BirdNETExtractor",
        "speech-embedding": "evalkit.embed.speech:SpeechEmbeddingExtractor",
    },
    presets={
        "musicnn-mtt": ("musicnn", {"model": "MTT_musicnn", "layer": "penultimate"}),
        "musicnn-msd": ("musicnn", {"model": "MSD_musicnn", "layer": "penultimate"}),
        "musicnn-mtt-maxpool": ("musicnn", {"model": "MTT_musicnn", "layer": "max_pool"}),
        "openl3-env": ("openl3", {"content": "env"}),
        "openl3-6144": ("openl3", {"embedding_size": 6144}),
        "openl3-env-6144": ("openl3", {"content": "env", "embedding_size": 6144}),
        "vggish-raw": ("vggish", {"postprocess": False}),
        # the model's own frames: one 0.782-s embedding every 80 ms (12.5 per second)
        "speech-embedding-80ms": ("speech-embedding", {"window": 0.782, "hop": 0.08}),
        # Inputs of the baseline CNNs (evalkit.embed.handcrafted.SPECTROGRAM_SETTINGS): the authors' T3 and T1
        # baselines, and Han et al.'s 1-s mel patches (128 bands, hop 512 at 22.05 kHz) every 0.5 s for T2.
        "cnn-input-t3": ("spectrogram", {"kind": "mel"}),
        "cnn-input-t1": ("spectrogram", {"kind": "linear"}),
        "cnn-input-han": ("spectrogram", {"kind": "mel", "stft_hop": 512, "bins": 128, "patch": 43, "patch_hop": 22}),
    },
)


def available_extractors() -> list[str]:
    """Names accepted by :func:`get_extractor` (registry names and presets)."""
    return EMBEDDINGS.names()


def get_extractor(spec: str | Extractor, **params) -> Extractor:
    """Build an extractor from a name or spec.

    Parameters
    ----------
    spec : str or Extractor
        ``"mfcc"``, ``"musicnn-msd"``, ``"musicnn(model=MSD_musicnn, layer=max_pool)"``; an Extractor is returned
        as it is.
    **params
        Override the spec's parameters.

    Examples
    --------
    >>> get_extractor("mfcc(n_mfcc=13)").dim
    78
    """
    if isinstance(spec, Extractor):
        return spec
    return EMBEDDINGS.build(spec, **params)
