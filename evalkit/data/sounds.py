"""Sound primitives of the demo data: seeded noise, rooms and filters, SoundFont rendering of generated note events
(``pretty_midi``'s TimGM6mb.sf2 played by ``tinysoundfont``), and speech from eSpeak NG (``espeakng_loader``)."""
from __future__ import annotations

import ctypes
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from scipy import signal

from ..config import ParameterError

DEMO_SAMPLE_RATE = 16000
SR = DEMO_SAMPLE_RATE


def _rng(*keys) -> np.random.Generator:
    digest = hashlib.sha256(json.dumps([str(k) for k in keys]).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


# ----------------------------------------------------------------------------------------------- audio helpers

def _pink_noise(rng, n):
    """Noise with a 1/f power spectrum, unit RMS, shape (n,)."""
    spectrum = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    spectrum /= np.sqrt(np.maximum(np.arange(n // 2 + 1), 1))
    x = np.fft.irfft(spectrum, n)
    return x / (x.std() + 1e-12)


def _add_noise(rng, x, snr_db):
    noise = _pink_noise(rng, len(x)) if rng.random() < 0.6 else rng.standard_normal(len(x))
    if rng.random() < 0.3:  # mains hum in some rooms
        t = np.arange(len(x)) / SR
        noise = noise + 2.0 * np.sin(2 * np.pi * rng.choice([50, 60]) * t)
    level = np.sqrt(np.mean(x ** 2) + 1e-12) / (10 ** (snr_db / 20))
    return x + level * noise / (noise.std() + 1e-12)


def _room(rng):
    """A short synthetic room impulse response (exponentially decaying noise), fixed per group."""
    rt60 = rng.uniform(0.1, 0.8)
    n = int(rt60 * SR)
    ir = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
    ir[0] = 1.0 / rng.uniform(0.15, 0.6)  # direct-to-reverberant ratio
    return ir / np.abs(ir).sum() * 4


def _finish(rng, x, duration):
    """Trim/pad to ``duration``, normalise the peak to -20…-3 dBFS, float32."""
    n = int(duration * SR)
    x = np.pad(x[:n], (0, max(0, n - len(x))))
    peak = np.max(np.abs(x)) + 1e-12
    return (x / peak * 10 ** (rng.uniform(-20, -3) / 20)).astype(np.float32)


def _bandpass(x, low, high, order=2):
    sos = signal.butter(order, [max(low, 10) / (SR / 2), min(high, SR / 2 - 100) / (SR / 2)], "bandpass", output="sos")
    return signal.sosfilt(sos, x)


def _random_eq(rng, max_gain_db=4.0):
    """A per-group microphone/transfer colouring: a few random peaking bands, as an SOS filter chain."""
    sections = []
    for _ in range(3):
        f0, q, gain = rng.uniform(100, 6000), rng.uniform(0.7, 3), rng.uniform(-max_gain_db, max_gain_db)
        a = 10 ** (gain / 40)
        w0 = 2 * np.pi * f0 / SR
        alpha = np.sin(w0) / (2 * q)
        b = [1 + alpha * a, -2 * np.cos(w0), 1 - alpha * a]
        den = [1 + alpha / a, -2 * np.cos(w0), 1 - alpha / a]
        sections.append(np.r_[np.array(b) / den[0], 1.0, np.array(den[1:]) / den[0]])
    return np.array(sections)


# ----------------------------------------------------------------------------------------------- SoundFont music

def soundfont_synth(path=None):
    """A fresh tinysoundfont synthesiser with a General-MIDI SoundFont: ``path`` (SF2 or SF3), by default the one of
    pretty_midi (TimGM6mb.sf2, which every demo task uses).

    Fresh for every file (loading takes about 30 ms): a reused synthesiser keeps voice and channel
    state from the previous file, which would make a file depend on the order of generation.
    """
    import pretty_midi
    import tinysoundfont

    synth = tinysoundfont.Synth(samplerate=SR)
    return synth, synth.sfload(str(path or os.path.join(os.path.dirname(pretty_midi.__file__), "TimGM6mb.sf2")))


def render_notes(notes, programs, duration, vibrato=None, *, soundfont=None):
    """Render note events with a General-MIDI SoundFont.

    Parameters
    ----------
    notes : list of (channel, start_s, length_s, midi_pitch, velocity)
    programs : dict channel -> General-MIDI program (0–127)
    duration : float
        Seconds to render (the tail of notes still sounding is cut).
    vibrato : dict channel -> (rate_hz, depth_semitones), optional
        Pitch-bend vibrato (singing voices).
    soundfont : str, path or (tinysoundfont.Synth, SoundFont id), optional
        A General-MIDI SoundFont (SF2, or SF3 with Vorbis samples), by default pretty_midi's TimGM6mb.sf2 (the demo's),
        loaded for this call; or a loaded synthesiser to reuse (an SF3 takes seconds to load), whose sounding voices
        are silenced first.

    Returns
    -------
    np.ndarray, shape (duration * 16000,), float64 mono
    """
    if isinstance(soundfont, tuple):
        synth, sfid = soundfont
        synth.sounds_off()  # no tail of the previous call's notes: the voices fade out within the next 10 ms
        synth.generate(SR // 100)
    else:
        synth, sfid = soundfont_synth(soundfont)
    for channel, program in programs.items():
        synth.program_select(channel, sfid, 0, int(program))
        synth.pitchbend_range(channel, 2.0)
        synth.pitchbend(channel, 8192)
    events = []
    for channel, start, length, pitch, velocity in notes:
        events.append((start, 1, channel, int(pitch), int(velocity)))
        events.append((start + length, 0, channel, int(pitch), 0))
    events.sort(key=lambda e: (e[0], e[1]))
    total, block = int(duration * SR), 160  # 10-ms blocks: resolution of events and vibrato
    out, position, k = np.zeros(total), 0, 0
    while position < total:
        now = position / SR
        while k < len(events) and events[k][0] <= now:
            _, on, channel, pitch, velocity = events[k]
            synth.noteon(channel, pitch, velocity) if on else synth.noteoff(channel, pitch)
            k += 1
        for channel, (rate, depth) in (vibrato or {}).items():
            synth.pitchbend(channel, int(8192 + 4096 * depth * np.sin(2 * np.pi * rate * now)))
        n = min(block, total - position)
        stereo = np.frombuffer(synth.generate(n), dtype=np.float32)
        out[position:position + n] = stereo[0::2] + stereo[1::2]
        position += n
    return out


MAJOR, MINOR = [0, 2, 4, 5, 7, 9, 11], [0, 2, 3, 5, 7, 8, 10]


def _scale_pitches(root, mode, low, high):
    return [p for p in range(low, high + 1) if (p - root) % 12 in mode]


def _melody(rng, channel, scale, start, end, beat, velocity):
    """A random-walk melody over ``scale`` with rhythmic values of ½–2 beats."""
    notes, t, index = [], start, int(rng.integers(len(scale) // 3, 2 * len(scale) // 3 + 1))
    while t < end:
        length = beat * rng.choice([0.5, 1, 1, 1.5, 2])
        index = int(np.clip(index + rng.integers(-2, 3), 0, len(scale) - 1))
        if rng.random() > 0.1:  # occasional rests
            notes.append((channel, t, length * rng.uniform(0.8, 1.0), scale[index], velocity + rng.integers(-12, 12)))
        t += length
    return notes


def _chords(rng, root, mode, n_chords):
    degrees = [0] + list(rng.choice([3, 4, 5, 1, 2], size=n_chords - 1))
    return [[root + mode[(d + i) % 7] + 12 * ((d + i) // 7) for i in (0, 2, 4)] for d in degrees]


def _ensemble_part(rng, role, channel, root, mode, chords, beat, duration, velocity):
    """Notes of one instrument playing ``role`` (bass, chords, melody, arpeggio, counter) over ``chords``."""
    notes, bar = [], 4 * beat
    if role == "melody":
        return _melody(rng, channel, _scale_pitches(root, mode, 64, 88), 0, duration, beat, velocity)
    if role == "counter":
        return _melody(rng, channel, _scale_pitches(root, mode, 55, 74), beat / 2, duration, beat * 2, velocity - 10)
    for i, t in enumerate(np.arange(0, duration, bar)):
        chord = chords[i % len(chords)]
        if role == "bass":
            for j, b in enumerate(np.arange(t, t + bar, 2 * beat)):
                notes.append((channel, b, 2 * beat * 0.9, chord[0] - 24 + (7 if j % 2 else 0), velocity))
        elif role == "chords":
            for b in np.arange(t, t + bar, beat * rng.choice([1, 2])):
                for k, p in enumerate(chord):  # strummed: strings a few ms apart
                    notes.append((channel, b + 0.015 * k, beat * 0.9, p, velocity - 15))
        elif role == "arpeggio":
            for k, b in enumerate(np.arange(t, t + bar, beat / 2)):
                notes.append((channel, b, beat / 2, chord[k % 3] + 12, velocity - 10))
    return notes


# ----------------------------------------------------------------------------------------------- speech (eSpeak NG)

WORDS = ("the a this every small green old river city music people morning evening machine station "
         "house garden window water light sound voice story night road mountain market friend paper "
         "walks runs sings opens closes finds brings keeps moves speaks listens waits turns writes reads "
         "quickly slowly always never today tomorrow again together outside under over through with "
         "because although while before after and but so then").split()
VOICES = ["en-us", "en", "en-us+f2", "en-us+m3", "en+f4", "de", "es", "fr", "it", "pt", "nl", "en-us+f5"]
# eSpeak NG names: "en" is British English ("en-gb" is not a voice name: eSpeak fell back to its default voice and
# dropped a "+variant"); "+f2" … are its voice variants (female 2, male 3, ...).


def speak(text: str, voice: str, words_per_minute: int, pitch: int, pitch_range: int, *, seed: int = 0) -> np.ndarray:
    """Synthesise ``text`` with eSpeak NG; mono float64 at 16 kHz, the same samples for the same arguments.

    Parameters
    ----------
    voice : str
        An eSpeak NG voice name, optionally with a variant (``"en-us+f2"``).
    words_per_minute, pitch, pitch_range : int
        eSpeak's rate, base pitch (0–100) and pitch range (0–100).
    seed : int
        Seed of eSpeak's noise generator (the breath noise of the breathy variants ``+f2``, ``+f5``), which eSpeak
        otherwise seeds from the clock.

    Raises
    ------
    ParameterError
        eSpeak NG does not know ``voice``.

    Notes
    -----
    eSpeak keeps internal state (noise generators) in static variables from one utterance to the next,
    even across ``espeak_Terminate``. So that a file does not depend on what was synthesised before it,
    every utterance loads a private copy of the library (about 20 ms) and unloads it afterwards.
    """
    import _ctypes
    import shutil

    import espeakng_loader

    with tempfile.TemporaryDirectory() as folder:
        private = Path(folder) / "libespeak-ng.so"
        shutil.copy(espeakng_loader.get_library_path(), private)
        lib = ctypes.CDLL(str(private))
    chunks: list = []

    def collect(wav, n, events):
        if n > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)(collect)
    try:
        rate = lib.espeak_Initialize(2, 0, espeakng_loader.get_data_path().encode(), 0)  # 2: synchronous
        if rate <= 0:
            raise RuntimeError("eSpeak NG failed to initialise")
        lib.espeak_SetSynthCallback(callback)
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:  # 0: EE_OK; otherwise eSpeak keeps its default voice
            raise ParameterError(f"eSpeak NG has no voice {voice!r} (names like 'en', 'en-us', 'de', with '+f2' etc.)")
        for parameter, value in ((1, words_per_minute), (3, pitch), (4, pitch_range)):
            lib.espeak_SetParameter(parameter, value, 0)
        lib.espeak_ng_SetRandSeed(ctypes.c_long(int(seed)))  # after initialising, which seeds from the clock
        data = text.encode() + bytes(1)
        lib.espeak_Synth(data, len(data), 0, 0, 0, 0, None, None)
        lib.espeak_Synchronize()
        lib.espeak_Terminate()
    finally:
        _ctypes.dlclose(lib._handle)
    audio = np.concatenate(chunks).astype(np.float64) / 32768 if chunks else np.zeros(1)
    return signal.resample_poly(audio, SR, rate) if rate != SR else audio
