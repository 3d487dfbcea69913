"""D1, the demo of T1 (ACMUS-MIR ensemble size): small Colombian Andean plucked-string groups of 1–5 players.

A recording is one group in one room: its line-up (a distinct instrument per player, from the usual formations: a
solo guitar, bandola or tiple; duets; the trío típico of bandola, tiple and guitar; a quartet with a bass or a
requinto; the quintet of all five), each player's strings, tuning, tone, level and place, the room's reverberation,
the microphone's colouring and the noise floor. A file is an excerpt cut from the middle of a piece the group plays:
a genre (pasillo, bambuco, guabina, torbellino, vals in 3/4; danza in 2/4) and its tempo, a key, a chord progression
and a melody. The bandola (or whoever leads) picks the melody, tremolo on long notes; a requinto adds a second voice a
third below; the tiple strums; the guitar plays bass notes, runs and chords, or arpeggios when a bass plays the roots.
So the number of players is heard as the number of timbres and layers, not as an artefact of the synthesis.
"""
from __future__ import annotations

import numpy as np
from scipy import signal

from .plucked import arpeggio, bass_line, bordones, new_player, pick, rasgueo, render_player
from .sounds import SR, _add_noise, _random_eq, soundfont_synth

LINEUPS = {  # players -> (instruments, share of the recordings)
    1: [(("guitar",), 0.4), (("bandola",), 0.3), (("tiple",), 0.3)],
    2: [(("bandola", "guitar"), 0.35), (("tiple", "guitar"), 0.3), (("bandola", "tiple"), 0.15), (("requinto", "guitar"), 0.2)],
    3: [(("bandola", "tiple", "guitar"), 0.5), (("bandola", "guitar", "bass"), 0.2),
        (("requinto", "tiple", "guitar"), 0.15), (("bandola", "requinto", "guitar"), 0.15)],
    4: [(("bandola", "tiple", "guitar", "bass"), 0.5), (("bandola", "requinto", "tiple", "guitar"), 0.3),
        (("bandola", "requinto", "guitar", "bass"), 0.2)],
    5: [(("bandola", "requinto", "tiple", "guitar", "bass"), 1.0)],
}
GENRES = {  # beats per bar, tempo range (beats per minute)
    "pasillo": (3, 150, 200), "bambuco": (3, 95, 130), "guabina": (3, 100, 135), "torbellino": (3, 150, 190),
    "vals": (3, 120, 165), "danza": (2, 60, 84),
}
NUMERALS = {"I": (0, "maj"), "I7": (0, "7"), "i": (0, "min"), "ii": (2, "min"), "II7": (2, "7"), "III": (3, "maj"),
            "IV": (5, "maj"), "iv": (5, "min"), "V7": (7, "7"), "VI": (8, "maj"), "vi": (9, "min"), "VII7": (10, "7")}
QUALITIES = {"maj": (0, 4, 7), "min": (0, 3, 7), "7": (0, 4, 7, 10)}
PROGRESSIONS = {
    "major": [("I", "IV", "V7", "I"), ("I", "V7", "V7", "I"), ("I", "vi", "ii", "V7"), ("I", "I7", "IV", "V7"),
              ("I", "II7", "V7", "I")],
    "minor": [("i", "iv", "V7", "i"), ("i", "V7", "V7", "i"), ("i", "I7", "iv", "V7"), ("i", "VI", "iv", "V7"),
              ("III", "VII7", "III", "V7"), ("i", "iv", "VII7", "III")],
}
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 11)}  # minor: harmonic, for the V7
KEYS = (2, 7, 9, 4, 0, 5, 11)  # D G A E C F B: keys that lie well on the instruments
RHYTHMS = {  # melodic rhythm cells of one bar, in beats
    3: [(1, 1, 1), (1.5, 0.5, 1), (0.5, 0.5, 0.5, 0.5, 1), (2, 1), (0.5, 0.5, 1, 1), (1, 0.5, 0.5, 1), (0.5, 1, 0.5, 1)],
    2: [(1, 1), (0.5, 0.5, 1), (0.5, 0.5, 0.5, 0.5), (1.5, 0.5), (0.75, 0.25, 1), (0.5, 1, 0.5)],
}
LEAD_RANGE = {"bandola": (67, 88), "requinto": (64, 84), "tiple": (64, 81), "guitar": (59, 76)}
ROLE_LEVEL_DB = {"lead": 2.0, "second": -3.0, "tiple": -1.0, "guitar": -1.0, "bass": 0.0, "solo": 0.0}


def new_piece(rng, seconds: float) -> dict:
    """What the group plays: genre, tempo, key, and the chord of every bar (one or two bars per chord).

    Returns
    -------
    dict with ``beats`` (per bar), ``beat`` (s), ``bars`` [(start s, (root pitch class, chord pitch classes))],
    ``scale`` (MIDI pitches of the key from 24 to 100)
    """
    genre = list(GENRES)[int(rng.integers(len(GENRES)))]
    beats, slow, fast = GENRES[genre]
    beat = 60 / rng.uniform(slow, fast)
    tonic, mode = int(rng.choice(KEYS)), ("minor" if rng.random() < 0.5 else "major")
    progression = PROGRESSIONS[mode][int(rng.integers(len(PROGRESSIONS[mode])))]
    bars_per_chord = 2 if beats * beat < 1.2 and rng.random() < 0.5 else 1
    first = int(rng.integers(len(progression)))  # the excerpt starts anywhere in the progression
    bars = []
    for i in range(int(np.ceil(seconds / (beats * beat))) + 1):
        root_step, quality = NUMERALS[progression[(first + i // bars_per_chord) % len(progression)]]
        root = (tonic + root_step) % 12
        bars.append((i * beats * beat, (root, tuple((root + k) % 12 for k in QUALITIES[quality]))))
    scale = [p for p in range(24, 101) if (p - tonic) % 12 in SCALES[mode]]
    return {"genre": genre, "beats": beats, "beat": beat, "bars": bars, "scale": scale}


def lead_line(rng, piece, low: int, high: int) -> list[tuple]:
    """A melody between ``low`` and ``high``: chord tones on downbeats and long notes, scale steps in between,
    a long note closing every fourth bar now and then. Returns [(onset s, length s, pitch, velocity)]."""
    scale = [p for p in piece["scale"] if low <= p <= high]
    i, line, beat = len(scale) // 2, [], piece["beat"]
    for b, (t0, (_, pcs)) in enumerate(piece["bars"]):
        cells = RHYTHMS[piece["beats"]]
        cell = (piece["beats"],) if b % 4 == 3 and rng.random() < 0.5 else cells[int(rng.integers(len(cells)))]
        position = 0.0
        for length in cell:
            i = int(np.clip(i + rng.choice([-2, -1, -1, 0, 1, 1, 2]) - np.sign(i - len(scale) // 2) * (rng.random() < 0.2),
                            0, len(scale) - 1))
            if position == 0 or length >= 1:  # strong notes are chord tones
                tones = [j for j, p in enumerate(scale) if p % 12 in pcs]
                i = min(tones, key=lambda j: abs(j - i))
            if rng.random() > 0.06:
                line.append((t0 + position * beat, length * beat, scale[i], rng.uniform(80, 105) * (1.1 if position == 0 else 1)))
            position += length
    return line


def second_voice(rng, piece, line, *, steps: int = 2) -> list[tuple]:
    """The melody a diatonic third (``steps=2``) below, resting in some bars, as a second bandola or requinto plays it."""
    scale, bar = piece["scale"], piece["beats"] * piece["beat"]
    resting = {b for b in range(len(piece["bars"])) if rng.random() < 0.25}
    return [(onset, length, scale[max(0, scale.index(pitch) - steps)], velocity * 0.85)
            for onset, length, pitch, velocity in line if int(onset // bar) not in resting]


def arrange(rng, players: list[dict], piece: dict) -> list[tuple[list, float]]:
    """The note events of every player and the level of its part (dB): a solo player plays melody and accompaniment;
    in a group the bandola, else the requinto, tiple or guitar leads."""
    names = [p["instrument"] for p in players]
    lead = next(name for name in ("bandola", "requinto", "tiple", "guitar") if name in names)
    melody = lead_line(rng, piece, *LEAD_RANGE[lead])
    parts = []
    for player in players:
        name = player["instrument"]
        if len(players) == 1:
            if name == "guitar":  # fingerstyle: bass notes and soft chords under the melody
                notes = pick(rng, player, melody) + [n[:4] + (n[4] * 0.6,) + n[5:] for n in bordones(rng, player, piece)]
            elif name == "tiple":  # tiple solista: the melody over its own down strokes
                notes = pick(rng, player, melody, tremolo=0.15) + rasgueo(rng, player, piece, accent=0.55, downs_only=True)
            else:  # bandola: tremolo melody with double stops on long notes
                thirds = [n for n in second_voice(rng, piece, melody) if n[1] >= piece["beat"]]
                notes = pick(rng, player, melody, tremolo=0.6) + pick(rng, player, thirds, tremolo=0.6)
            parts.append((notes, ROLE_LEVEL_DB["solo"]))
        elif name == lead:
            parts.append((pick(rng, player, melody, tremolo=0.5 if name == "bandola" else 0.2), ROLE_LEVEL_DB["lead"]))
        elif name == "requinto":
            parts.append((pick(rng, player, second_voice(rng, piece, melody), tremolo=0.3), ROLE_LEVEL_DB["second"]))
        elif name == "tiple":
            parts.append((rasgueo(rng, player, piece), ROLE_LEVEL_DB["tiple"]))
        elif name == "guitar":
            notes = arpeggio(rng, player, piece) if "bass" in names else bordones(rng, player, piece)
            parts.append((notes, ROLE_LEVEL_DB["guitar"]))
        else:
            parts.append((bass_line(rng, player, piece), ROLE_LEVEL_DB["bass"]))
    return parts


def new_room(rng) -> dict:
    """The recording's room and chain: a reverberant tail (RT60 0.25–1.6 s, highs decaying twice as fast), the
    direct-to-reverberant ratio at 1 m, the microphone's colouring and the noise floor (SNR)."""
    rt60 = rng.uniform(0.25, 1.6)
    n = int(1.2 * rt60 * SR)
    t = np.arange(n) / SR
    noise = rng.standard_normal(n)
    low = signal.sosfilt(signal.butter(2, 2000 / (SR / 2), output="sos"), noise)
    tail = low * np.exp(-6.9 * t / rt60) + (noise - low) * np.exp(-6.9 * t / (0.5 * rt60))
    tail = np.r_[np.zeros(int(rng.uniform(0.01, 0.03) * SR)), tail * (1 - np.exp(-t / 0.01))]  # pre-delay, build-up
    return {"tail": tail / np.sqrt(np.sum(tail ** 2)), "drr_db": rng.uniform(-3, 12), "mic": _random_eq(rng, 3.0),
            "snr_db": rng.uniform(20, 45), "reflections": rng.uniform(0.1, 0.4, 5)}


def mix(rng, players: list[dict], signals: list[np.ndarray], room: dict) -> np.ndarray:
    """Each player at its distance (direct sound 1/d, delayed d / 343 m/s, five early reflections), all through the
    room's shared reverberant tail, then the microphone."""
    n = len(signals[0])
    dry, send = np.zeros(n), np.zeros(n)
    for player, x in zip(players, signals):
        d = player["distance"]
        h = np.zeros(int(0.05 * SR))
        h[int(d / 343 * SR)] = 1 / d
        for gain in room["reflections"]:  # walls, floor and ceiling: later and weaker than the direct sound
            h[int((d / 343 + rng.uniform(0.002, 0.03)) * SR)] += gain * rng.choice([-1, 1]) / (d + 1)
        dry += signal.fftconvolve(x, h)[:n]
        send += x
    wet = signal.fftconvolve(send, room["tail"])[:n] * 10 ** (-room["drr_db"] / 20)
    return signal.sosfilt(room["mic"], dry + wet)


def d1_ensemble(rng, group_rng, label: str, duration: float) -> np.ndarray:
    """D1 file: ``label`` ``_ninst01`` … ``_ninst05`` players; an excerpt of ``duration`` s from the middle of a piece.

    Returns
    -------
    np.ndarray, shape (duration * 16000,), float64 (peak normalised later)
    """
    size = int(label[-2:])
    options = LINEUPS[size]
    instruments = options[int(group_rng.choice(len(options), p=[share for _, share in options]))][0]
    players = [new_player(group_rng, name) for name in instruments]
    room = new_room(group_rng)
    lead_in = rng.uniform(1.0, 2.5)  # the excerpt starts inside the piece: strings and room already sound
    piece = new_piece(rng, lead_in + duration + 0.5)
    soundfont = soundfont_synth()  # one per file, shared by its players in their fixed order
    signals = []
    for player, (notes, level_db) in zip(players, arrange(rng, players, piece)):
        signals.append(render_player(player, notes, lead_in + duration, soundfont) * 10 ** (level_db / 20))
    x = mix(rng, players, signals, room)[int(lead_in * SR):]
    return _add_noise(rng, x, room["snr_db"])
