"""Deterministic demo data sets D1–D6: offline stand-ins for the paper's six tasks, with the same classes.

- D1–D3 are rendered from real sampled instruments and voices: the General-MIDI SoundFont that ships with
  ``pretty_midi`` (TimGM6mb.sf2), played by ``tinysoundfont``; speech comes from eSpeak NG (``espeakng_loader``).
  D1 (small Andean plucked-string ensembles) is composed and played in :mod:`evalkit.data.andean` and
  :mod:`evalkit.data.plucked`; for D2 and D3 note events are generated here: melodies, chord progressions, tempo,
  register, loudness, background noise and a small synthetic room vary per recording.
- D4–D6 are physically motivated syntheses in NumPy: rotating-machine harmonics and bearing-fault impulses,
  rolling noise shaped by surface roughness, and impacts with material-dependent modal damping.

A *group* is one simulated recording session (same instruments / voice / machine unit / microphone); its files
share those properties, and splits keep a group on one side. Every file is seeded from
(seed, task, class, group, file), so any file can be regenerated on its own, byte for byte, in any process and
order. ``book/demo_data.md`` describes every task for readers.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal
from tqdm import tqdm

from ..config import ParameterError

DEMO_CLASSES = {
    "D1": ["_ninst01", "_ninst02", "_ninst03", "_ninst04", "_ninst05"],
    "D2": ["brass", "piano", "strings", "vocal", "woodwinds"],
    "D3": ["SP", "CH", "SS", "IN"],
    "D4": ["engine1_good", "engine2_broken", "engine3_heavyload"],
    "D5": ["K1", "K2", "K3"],
    "D6": ["puckA", "puckG", "puckI", "puckE", "noPuck"],
}

from .andean import d1_ensemble
from .sounds import (MAJOR, MINOR, SR, VOICES, WORDS, _add_noise, _bandpass, _chords, _ensemble_part, _finish, _melody, _pink_noise, _random_eq, _rng, _room, _scale_pitches, render_notes, speak)

ROLES = ["melody", "bass", "chords", "arpeggio", "counter"]  # of the instrumental music in D3


FAMILIES = {
    "brass": ([56, 57, 58, 60, 61, 59], (48, 79)),
    "piano": ([0, 1, 2, 3, 4, 5], (40, 88)),
    "strings": ([40, 41, 42, 43, 48, 49], (40, 88)),
    "vocal": ([52, 53, 54], (50, 76)),
    "woodwinds": ([73, 71, 68, 70, 72, 64, 65, 66, 74], (50, 86)),
}


def _d2_family(rng, group_rng, label, duration):
    """D2: a solo phrase of one instrument of the family, sometimes over a quiet accompaniment."""
    programs, (low, high) = FAMILIES[label]
    program = int(group_rng.choice(programs))
    centre = int(group_rng.integers(low + 6, high - 6))
    root, mode = int(rng.integers(0, 12)), (MAJOR if rng.random() < 0.5 else MINOR)
    beat = 60 / rng.uniform(60, 140)
    scale = _scale_pitches(root, mode, centre - 9, centre + 9)
    notes = _melody(rng, 0, scale, 0, duration, beat, int(rng.integers(60, 115)))
    if label == "piano" and rng.random() < 0.5:  # left hand
        notes += _ensemble_part(rng, "chords", 0, root + 48, mode, _chords(rng, root + 48, mode, 4), beat, duration, 70)
    programs_used = {0: program}
    if rng.random() < 0.3:
        accompaniment = int(rng.choice([p for fam, (ps, _) in FAMILIES.items() if fam != label for p in ps]))
        notes += [(1, s, l, p, max(20, v - 45)) for _, s, l, p, v in
                  _ensemble_part(rng, "chords", 1, root + 48, mode, _chords(rng, root + 48, mode, 4), beat, duration, 80)]
        programs_used[1] = accompaniment
    return render_notes(notes, programs_used, duration, vibrato={0: (5.5, 0.15)} if label in ("vocal", "strings") else None)


def _d3_speech_music(rng, group_rng, label, duration):
    """D3: speech (SP), choir (CH), solo singing (SS) or instrumental music (IN)."""
    root, mode = int(rng.integers(0, 12)), (MAJOR if rng.random() < 0.6 else MINOR)
    beat = 60 / rng.uniform(60, 130)
    if label == "SP":
        voice = str(group_rng.choice(VOICES))
        text = " ".join(rng.choice(WORDS, size=40))
        x = speak(text, voice, int(group_rng.integers(130, 210)), int(group_rng.integers(20, 80)), int(rng.integers(20, 80)),
                  seed=int(rng.integers(2 ** 31)))
        start = int(rng.integers(0, max(1, len(x) - int(duration * SR))))
        x = np.pad(x[start:], (0, max(0, int(duration * SR) - len(x) + start)))
        if rng.random() < 0.25:  # a radio jingle underneath
            bed = render_notes(_melody(rng, 0, _scale_pitches(root, mode, 60, 84), 0, duration, beat, 50),
                               {0: int(rng.choice([0, 24, 48]))}, duration)
            x[: len(bed)] += 0.15 * bed / (np.abs(bed).max() + 1e-9) * np.abs(x).max()
        return x
    if label == "CH":
        chords = _chords(rng, root + 48, mode, 4)
        programs = {c: int(group_rng.choice([52, 53])) for c in range(4)}
        notes = []
        for i, t in enumerate(np.arange(0, duration, 2 * beat)):
            chord = chords[i % 4]
            voicing = [chord[0] - 12, chord[1], chord[2], chord[0] + 12]
            notes += [(c, t + rng.uniform(0, 0.04), 2 * beat * 0.95, p, int(rng.integers(60, 100))) for c, p in enumerate(voicing)]
        if rng.random() < 0.5:
            notes += _melody(rng, 3, _scale_pitches(root, mode, 67, 81), 0, duration, beat, 95)
        return render_notes(notes, programs, duration, vibrato={c: (rng.uniform(4.5, 6), 0.08) for c in range(4)})
    if label == "SS":
        centre = int(group_rng.integers(55, 72))
        notes = _melody(rng, 0, _scale_pitches(root, mode, centre - 7, centre + 7), 0, duration, beat, int(rng.integers(80, 120)))
        programs = {0: int(group_rng.choice([52, 53, 54, 85]))}
        if rng.random() < 0.5:  # sparse accompaniment
            notes += [(1, s, l, p, max(20, v - 40)) for _, s, l, p, v in
                      _ensemble_part(rng, "chords", 1, root + 48, mode, _chords(rng, root + 48, mode, 4), beat, duration, 80)]
            programs[1] = int(rng.choice([0, 24, 46]))
        return render_notes(notes, programs, duration, vibrato={0: (rng.uniform(4.5, 6.5), rng.uniform(0.1, 0.35))})
    # IN: instrumental ensemble of 1–4 non-vocal instruments
    n = int(rng.integers(1, 5))
    pool = [p for p in range(0, 80) if p not in (52, 53, 54)]
    programs = {c: int(p) for c, p in enumerate(rng.choice(pool, size=n, replace=False))}
    chords = _chords(rng, root + 36, mode, 4)
    notes = []
    for c, role in enumerate(rng.choice(ROLES, size=n, replace=False)):
        notes += _ensemble_part(rng, role, c, root + 60, mode, chords, beat, duration, int(rng.integers(70, 110)))
    return render_notes(notes, programs, duration)


# ----------------------------------------------------------------------------------------------- industrial sounds

def _d4_engine(rng, group_rng, label, duration):
    """D4: an induction motor: shaft harmonics, electromagnetic hum at twice the mains frequency and its harmonics,
    slot harmonics, fan noise. A bearing fault (engine2_broken) excites a structural resonance at the outer-race
    defect frequency. Heavy load (engine3_heavyload) draws more current, so the electromagnetic hum is louder, and
    runs at a larger slip, which makes it beat at the pole-pass frequency (the growl of a loaded motor); its low
    shaft harmonics are stronger."""
    n = int(duration * SR)
    t = np.arange(n) / SR
    heavy = label == "engine3_heavyload"
    line = group_rng.choice([50.0, 60.0])
    pole_pairs = int(group_rng.integers(1, 3))  # a 2- or 4-pole motor
    slip = group_rng.uniform(0.03, 0.06) if heavy else group_rng.uniform(0.005, 0.015)
    f_rot = line / pole_pairs * (1 - slip) * (1 + 0.001 * rng.standard_normal())
    wobble = 1 + 0.003 * np.sin(2 * np.pi * rng.uniform(0.2, 1) * t)
    phase = 2 * np.pi * f_rot * np.cumsum(wobble) / SR
    amps = group_rng.uniform(0.2, 1.0, 12) / np.arange(1, 13) ** 0.7
    if heavy:
        amps[:4] *= group_rng.uniform(1.5, 2.5)
    x = sum(a * np.sin(h * phase + rng.uniform(0, 6)) for h, a in enumerate(amps, start=1))
    pole_pass = 2 * pole_pairs * slip * line  # Hz: 0.5-3.6 at light load, 3-14 at heavy load
    depth = group_rng.uniform(0.5, 0.8) if heavy else group_rng.uniform(0.05, 0.2)
    beat = 1 + depth * np.sin(2 * np.pi * pole_pass * t + rng.uniform(0, 6))
    hum_level = group_rng.uniform(0.2, 0.8) * (group_rng.uniform(2.5, 4.0) if heavy else 1.0)
    hum = sum(hum_level / k * np.sin(2 * np.pi * 2 * k * line * t + rng.uniform(0, 6)) for k in (1, 2, 3))
    slots = int(group_rng.integers(24, 48))
    hum += hum_level * group_rng.uniform(0.1, 0.5) * np.sin(slots * phase)
    x += hum * beat
    x += group_rng.uniform(0.1, 0.4) * _bandpass(rng.standard_normal(n), 300, group_rng.uniform(2000, 6000))
    if label == "engine2_broken":
        bpfo = f_rot * group_rng.uniform(3.05, 3.6)
        f_res, strength = group_rng.uniform(2500, 5000), group_rng.uniform(1.0, 2.5)
        ring = np.exp(-np.arange(int(0.01 * SR)) / (SR * group_rng.uniform(0.001, 0.003)))
        ring *= np.sin(2 * np.pi * f_res * np.arange(len(ring)) / SR)
        pulses = np.zeros(n)
        for k in np.arange(rng.uniform(0, 1 / bpfo), duration, 1 / bpfo):
            i = int((k + 0.0005 * rng.standard_normal()) * SR)
            if 0 <= i < n:
                pulses[i] = rng.uniform(0.5, 1.0)
        x += strength * np.convolve(pulses, ring)[:n]
    x = signal.sosfilt(_random_eq(group_rng), x)
    return _add_noise(rng, x, rng.uniform(15, 35))


ROUGHNESS = {"K1": 0.0, "K2": 0.5, "K3": 1.0}


def _d5_surface(rng, group_rng, label, duration):
    """D5: a ball rolling over a metal plate: noise whose spectral slope, bandwidth and bump rate grow with
    the surface roughness, filtered by a few plate resonances, modulated by the rolling speed."""
    n = int(duration * SR)
    r = ROUGHNESS[label] + group_rng.normal(0, 0.12)
    spectrum = (rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1))
    freqs = np.maximum(np.fft.rfftfreq(n, 1 / SR), 20)
    spectrum *= (freqs / 1000) ** (-1.2 + 0.6 * r) * np.exp(-freqs / (1500 + 3000 * max(r, 0.05)))
    x = np.fft.irfft(spectrum, n)
    for _ in range(3):  # plate modes of this group's plate
        f0 = group_rng.uniform(400, 6000)
        b, a = signal.iirpeak(f0 / (SR / 2), group_rng.uniform(10, 40))
        x += group_rng.uniform(0.3, 1.0) * signal.lfilter(b, a, x)
    speed = 1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.2, 0.8) * np.arange(n) / SR + rng.uniform(0, 6))
    x *= speed
    bumps = rng.poisson(max(0.5, 2 + 10 * r) * duration)
    for i in rng.integers(0, n - 400, size=bumps):
        x[i:i + 400] += rng.uniform(0.5, 2) * x.std() * np.exp(-np.arange(400) / 60) * rng.standard_normal(400)
    x = signal.sosfilt(_random_eq(group_rng), x)
    return _add_noise(rng, x, rng.uniform(10, 30))


MATERIALS = {  # fundamental (Hz, for the mean size), modal frequency ratios and loss factor of each material
    "puckA": (900, [1.0, 2.32, 4.25, 6.63], 0.020),
    "puckG": (1250, [1.0, 2.76, 5.40, 8.93], 0.045),
    "puckI": (650, [1.0, 1.59, 2.14, 2.30, 2.65], 0.012),
    "puckE": (1050, [1.0, 2.0, 3.01, 4.1], 0.080),
}


def _d6_puck(rng, group_rng, label, duration):
    """D6: plastic pucks hitting a chute over conveyor noise (modal synthesis); noPuck = background only."""
    n = int(duration * SR)
    t = np.arange(n) / SR
    background = _bandpass(_pink_noise(rng, n), 50, 4000) + group_rng.uniform(0.2, 1) * np.sin(2 * np.pi * group_rng.uniform(40, 120) * t)
    background += 0.3 * np.sin(2 * np.pi * group_rng.uniform(1, 4) * t) * _bandpass(rng.standard_normal(n), 800, 2500)
    x = background * group_rng.uniform(0.03, 0.12)
    if label != "noPuck":
        fundamental, ratios, loss = MATERIALS[label]
        size = group_rng.uniform(0.85, 1.15)  # larger pucks ring lower
        f1 = fundamental * rng.uniform(0.93, 1.07) / size
        for onset in np.sort(rng.uniform(0, duration - 0.2, size=int(rng.integers(2, 7)))):
            m = int(0.3 * SR)
            tau = np.arange(m) / SR
            strike = rng.uniform(0.3, 1.0)
            hit = sum(rng.uniform(0.3, 1) / k * np.exp(-np.pi * f1 * ratio * loss * rng.uniform(0.8, 1.25) * tau)
                      * np.sin(2 * np.pi * f1 * ratio * rng.uniform(0.98, 1.02) * tau)
                      for k, ratio in enumerate(ratios, start=1))
            hit += 0.3 * rng.standard_normal(m) * np.exp(-tau / 0.002)  # contact noise
            i = int(onset * SR)
            x[i:i + m] += strike * hit[: n - i]
    x = signal.sosfilt(_random_eq(group_rng), x)
    return _add_noise(rng, x, rng.uniform(15, 35))


GENERATORS = {"D1": d1_ensemble, "D2": _d2_family, "D3": _d3_speech_music,
              "D4": _d4_engine, "D5": _d5_surface, "D6": _d6_puck}
MUSIC_TASKS = ("D2", "D3")  # get a room and background here; D1 places its players in its own room


def render_file(task_id: str, label: str, group: int, k: int, *, seed: int, duration: float) -> np.ndarray:
    """One demo file: class ``label``, recording group ``group``, file ``k`` of the group.

    Returns
    -------
    np.ndarray, shape (duration * 16000,), float32, peak between -20 and -3 dBFS
    """
    group_rng = _rng(seed, task_id, label, group)
    rng = _rng(seed, task_id, label, group, k)
    x = GENERATORS[task_id](rng, group_rng, label, duration)
    if task_id in MUSIC_TASKS:  # the recording's room and background
        room = _room(_rng(seed, task_id, label, group, "room"))
        x = signal.fftconvolve(x, room)[: len(x)]
        x = _add_noise(rng, x, group_rng.uniform(10, 40))
    return _finish(rng, x, duration)


def _write_wav(path: Path, audio: np.ndarray) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        sf.write(tmp, audio, SR, subtype="PCM_16", format="WAV")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


GENERATOR_VERSION = "4"  # bump whenever a change to the generators changes the audio: old folders are then not reused
DEMO_DEFAULTS = {"seed": 20, "files_per_class": 40, "files_per_group": 1, "duration": 3.0}


def demo_params(task_id: str, *, seed: int, files_per_class: int, files_per_group: int, duration: float) -> dict:
    """Everything that determines a demo task's audio (stored in its ``.complete.json``), after checking each value.

    Raises
    ------
    ParameterError
        An unknown task id, or a parameter out of range (named with its value).
    """
    if task_id not in DEMO_CLASSES:
        raise ParameterError(f"unknown demo task {task_id!r}; valid: {', '.join(DEMO_CLASSES)}")
    for name, value, low in (("files_per_class", files_per_class, 1), ("files_per_group", files_per_group, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ParameterError(f"demo task {task_id}: {name} must be a whole number >= {low}, not {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ParameterError(f"demo task {task_id}: seed must be a whole number, not {seed!r}")
    if isinstance(duration, bool) or not isinstance(duration, (int, float, np.integer, np.floating)) \
            or not 0.5 <= duration <= 60:
        raise ParameterError(f"demo task {task_id}: duration must be 0.5–60 seconds, not {duration!r}")
    return {"task": task_id, "seed": int(seed), "files_per_class": int(files_per_class),
            "files_per_group": int(files_per_group), "duration": float(duration), "sample_rate": SR,
            "generator": GENERATOR_VERSION}


def demo_folder_name(*, seed: int, files_per_class: int, files_per_group: int, duration: float) -> str:
    """Folder of a demo data set inside ``<data>/demo``, named by generator version and parameters
    (``v4-s20-n40-g1-d3``): data of another version or other parameters lie beside it and are never reused."""
    return f"v{GENERATOR_VERSION}-s{seed}-n{files_per_class}-g{files_per_group}-d{float(duration):g}"


def _check_folder(folder: Path, params: dict) -> None:
    """Raise if ``folder`` holds (part of) a demo task generated with other parameters or by another generator."""
    for marker in (folder / ".complete.json", folder / ".generating.json"):
        if not marker.exists():
            continue
        stored = json.loads(marker.read_text())
        if {k: stored.get(k) for k in params} != params:
            differ = ", ".join(f"{k} {stored.get(k)!r} (wanted {v!r})" for k, v in params.items() if stored.get(k) != v)
            raise ParameterError(f"{folder} holds demo data generated with other parameters: {differ}; delete {folder} "
                                 f"to generate it there, or choose another folder (the default folder of each version "
                                 f"and parameter set is <data>/demo/{demo_folder_name(**{k: params[k] for k in DEMO_DEFAULTS})})")


def is_generated(folder: str | os.PathLike, params: dict) -> bool:
    """True when ``folder`` holds the complete demo task of ``params`` (:func:`demo_params`)."""
    marker = Path(folder) / ".complete.json"
    if not marker.exists():
        return False
    stored = json.loads(marker.read_text())
    return {k: stored.get(k) for k in params} == params


def generate_demo_task(task_id: str, root: str | os.PathLike, *, seed: int = DEMO_DEFAULTS["seed"],
                       files_per_class: int = DEMO_DEFAULTS["files_per_class"],
                       duration: float = DEMO_DEFAULTS["duration"], files_per_group: int = DEMO_DEFAULTS["files_per_group"],
                       progress: bool = True) -> Path:
    """Generate demo task ``task_id`` under ``root/task_id/<class>/<group>__<k>.wav`` (16 kHz mono PCM16).

    Resumable: existing files are kept, each file is written atomically; ``.generating.json`` records the
    parameters of a generation under way and ``.complete.json`` marks a finished task, so later calls return at once.
    Every file depends only on its parameters and its place (seed, task, class, group, file), not on the order of
    generation or the process: the same parameters give the same bytes.

    Parameters
    ----------
    task_id : {"D1", ..., "D6"}
    root : path-like
        Parent folder of the task folder.
    seed : int
        Seed of the whole data set.
    files_per_class : int
        Files per class (rounded up to whole groups).
    duration : float
        Seconds per file.
    files_per_group : int
        Files per simulated recording session (a group: splits keep it on one side).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    pathlib.Path
        The task folder.

    Raises
    ------
    ParameterError
        A parameter out of range, or the folder holds a task generated with other parameters or by another
        version of the generators (the message says what to do).
    """
    params = demo_params(task_id, seed=seed, files_per_class=files_per_class, files_per_group=files_per_group,
                         duration=duration)
    folder = Path(root) / task_id
    _check_folder(folder, params)
    if (folder / ".complete.json").exists():
        return folder
    n_groups = -(-files_per_class // files_per_group)
    jobs = [(label, g, k) for label in DEMO_CLASSES[task_id] for g in range(n_groups) for k in range(files_per_group)]
    for label in DEMO_CLASSES[task_id]:
        (folder / label).mkdir(parents=True, exist_ok=True)
    (folder / ".generating.json").write_text(json.dumps(params, indent=1))
    for label, g, k in tqdm(jobs, desc=f"generating {task_id}", unit="file", disable=not progress, leave=False):
        path = folder / label / f"{label}_g{g:03d}__{k}.wav"
        if not path.exists():
            _write_wav(path, render_file(task_id, label, g, k, seed=seed, duration=duration))
    (folder / ".complete.json").write_text(json.dumps({**params, "files": len(jobs)}, indent=1))
    (folder / ".generating.json").unlink()
    return folder
