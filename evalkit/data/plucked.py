"""Plucked-string instruments of the D1 demo data: Colombian Andean guitar, tiple, requinto, bandola and bass.

Every string of every course is a channel of its own in the General-MIDI SoundFont of ``pretty_midi``
(TimGM6mb.sf2, played by ``tinysoundfont``), with its own small mistuning and octave, so that the tripled courses of
the tiple (the middle string of its three lower courses an octave below) and requinto and the doubled courses of the
bandola beat and shimmer as real courses do. The playing techniques write note events per course: strummed chords
(rasgueo: strings struck 10–40 ms apart, down strokes low to high, up strokes high to low over the upper courses,
muted chops), picked single-note lines (punteo, with plectrum tremolo on long notes), the guitar's bass runs and
chords (bordones), finger-picked arpeggios and a bass line. A string sounds one note at a time: a new note on it
damps the previous one, as a finger or the next stroke does.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import signal

from .sounds import SR, _random_eq, soundfont_synth

INSTRUMENTS = {  # open MIDI pitch of each course (low → high) and the octave offset of each string of a course
    "guitar": ((40, 45, 50, 55, 59, 64), ((0,),) * 6),
    # tiple: D G B courses of two steel strings with a wound one an octave lower between them, then the E4 course
    # of three unison strings, below the B4 strings (re-entrant, as on the real instrument)
    "tiple": ((62, 67, 71, 64), ((0, -12, 0),) * 3 + ((0, 0, 0),)),
    "requinto": ((60, 65, 69, 74), ((0, 0, 0),) * 4),  # tiple requinto: unison triple courses C F A D
    "bandola": ((54, 59, 64, 69, 74, 79), ((0, 0),) * 2 + ((0, 0, 0),) * 4),  # in fourths; 16 strings
    "bass": ((28, 33, 38, 43), ((0,),) * 4),
}
PROGRAMS = {  # General-MIDI programs per string of a course, one set drawn per recording
    "guitar": [(24,)],                                  # nylon-string guitar
    "tiple": [(25, 25, 25), (25, 24, 25)],              # steel strings (octave string sometimes duller)
    "requinto": [(25, 25, 25), (25, 105, 25)],          # steel strings, sometimes with a banjo-bright string
    "bandola": [(25, 25, 25), (25, 105, 25), (105, 25, 25)],  # steel courses, played with a plectrum
    "bass": [(32,), (33,)],                             # acoustic or fingered bass
}
BODY_HIGHPASS = {"guitar": 70, "tiple": 150, "requinto": 180, "bandola": 160, "bass": 35}  # Hz: small bodies
DECAY_DB_PER_S = {"guitar": 4.0, "tiple": 10.0, "requinto": 12.0, "bandola": 16.0, "bass": 3.0}  # added, at middle C
MISTUNING_CENTS = {"guitar": 3, "tiple": 8, "requinto": 8, "bandola": 7, "bass": 3}      # spread within a course


def new_player(rng, instrument: str) -> dict:
    """One musician with one instrument, fixed for a recording: strings, tuning, tone, level, place, timing.

    Parameters
    ----------
    rng : np.random.Generator
        The recording's generator.
    instrument : {"guitar", "tiple", "requinto", "bandola", "bass"}
    """
    courses, octaves = INSTRUMENTS[instrument]
    options = PROGRAMS[instrument]
    spread = MISTUNING_CENTS[instrument]
    return {
        "instrument": instrument,
        "programs": options[int(rng.integers(len(options)))],
        # cents per (course, string): the course's common error plus each string's own
        "tuning": rng.normal(0, 3, (len(courses), 1)) + rng.normal(0, spread, (len(courses), max(map(len, octaves)))),
        "tone": np.vstack([signal.butter(2, BODY_HIGHPASS[instrument] * rng.uniform(0.8, 1.25) / (SR / 2), "highpass",
                                         output="sos"), _random_eq(rng, 5.0)]),
        "level_db": rng.uniform(-3, 3),
        "distance": rng.uniform(0.7, 3.0),       # metres from the microphone
        "timing": rng.normal(0, 0.008),          # the musician plays a little early or late
        "jitter": rng.uniform(0.003, 0.012),     # s, timing spread of single notes or strokes
        "tremolo_rate": rng.uniform(10, 16),
        "decay": rng.uniform(0.7, 1.4),          # old or new strings, a damping hand: faster or slower decay     # plectrum strokes per second on long notes
        "position": int(rng.choice([0, 0, 0, 2, 5])),  # lowest fret of the chord shapes this player prefers
    }


def course_for(instrument: str, pitch: int, max_fret: int = 9) -> tuple[int, int]:
    """The course a ``pitch`` is played on (the one with the lowest fret, the higher course on a tie) and the playable
    pitch. Pitches outside the instrument's range move by octaves into it. Returns ``(course index, pitch)``."""
    courses = INSTRUMENTS[instrument][0]
    while pitch < min(courses):
        pitch += 12
    while pitch > max(courses) + max_fret:
        pitch -= 12
    frets = [(pitch - open_pitch, -c) for c, open_pitch in enumerate(courses) if 0 <= pitch - open_pitch <= max_fret]
    return -min(frets)[1], pitch


def chord_shape(instrument: str, chord: tuple[int, tuple[int, ...]], *, position: int = 0,
                root_in_bass: bool = False) -> list[tuple[int, int]]:
    """A playable chord shape: ``(course, pitch)`` per sounding course, low to high.

    Searches hand positions from ``position`` upwards (frets within a span of four, open strings in the first
    positions) for the lowest shape of adjacent courses that sounds the root and the third (and the seventh of a
    seventh chord). With ``root_in_bass`` the courses below the lowest root are left out (guitar accompaniment). The
    search finds the familiar shapes (on the guitar C = x32010, G = 320003, E7 = 020100, B7 = x21202, Bm = x24432).

    Parameters
    ----------
    chord : (root pitch class, pitch classes of the chord)
    """
    root, pcs = chord
    courses = INSTRUMENTS[instrument][0]
    needed = {pcs[1]} | ({pcs[3]} if len(pcs) > 3 else set()) | {root}
    for start in list(range(position, 10)) + list(range(0, position)):
        frets = list(range(max(start, 1), start + 4)) + ([0] if start <= 2 else [])
        shape, rooted = [], not root_in_bass
        for c, open_pitch in enumerate(courses):
            usable = sorted((f for f in frets if (open_pitch + f) % 12 in pcs), key=lambda f: (f == 0 and start > 0, f))
            roots = [f for f in usable if (open_pitch + f) % 12 == root]
            fret = roots[0] if roots and not rooted else (usable[0] if usable else None)
            rooted = rooted or fret in roots
            shape.append(None if fret is None else (c, open_pitch + fret))
        if root_in_bass:  # the courses below the lowest root stay silent
            shape = shape[next((i for i, n in enumerate(shape) if n and n[1] % 12 == root), len(shape)):]
        while shape and shape[0] is None:
            shape.pop(0)
        if None not in shape and len(shape) >= min(3, len(courses)) and needed <= {p % 12 for _, p in shape}:
            return shape
    raise ValueError(f"no {instrument} shape for chord {chord}")  # pragma: no cover - every chord type has one


# ----------------------------------------------------------------------------------------------- techniques
# A note event is (onset s, length s, course, pitch, velocity 1–127, seconds between the strings of the course).

def _when(rng, player, t):
    return max(0.0, t + player["timing"] + rng.normal(0, player["jitter"]))


def strum(rng, player, t, shape, direction, accent, length, *, spread=None):
    """One stroke over a chord ``shape``: ``"D"`` down (low → high), ``"U"`` up (the upper courses, high → low) or
    ``"X"`` a muted chop (all courses, damped at once); the strings sound ``spread`` (10–40 ms) apart in all."""
    if direction == "U":
        shape = shape[-int(rng.integers(2, 4)):][::-1]
    spread = rng.uniform(0.010, 0.040) * (0.6 if direction == "U" else 1.0) if spread is None else spread
    n_strings = sum(len(INSTRUMENTS[player["instrument"]][1][c]) for c, _ in shape)
    step, start, velocity = spread / max(n_strings - 1, 1), _when(rng, player, t), 100 * accent
    notes, k = [], 0
    for c, pitch in shape:
        strings = len(INSTRUMENTS[player["instrument"]][1][c])
        v = velocity * (1 - 0.25 * k / max(n_strings, 1)) * rng.uniform(0.9, 1.1)  # the stroke loses energy
        notes.append((start + k * step, 0.05 if direction == "X" else length, c, pitch, v * (0.7 if direction == "X" else 1), step))
        k += strings
    return notes


def pick(rng, player, line, *, tremolo=0.0, max_fret=9):
    """Single-note line (punteo): one plectrum stroke per note; notes of at least 0.3 s are played tremolo (repeated
    alternate strokes at the player's rate) with probability ``tremolo``. ``line``: (onset, length, pitch, velocity)."""
    notes = []
    instrument = player["instrument"]
    for onset, length, pitch, velocity in line:
        course, pitch = course_for(instrument, pitch, max_fret)
        inner = rng.uniform(0.001, 0.004)  # the plectrum crosses the strings of a course
        if length >= 0.3 and rng.random() < tremolo:
            period = 1 / player["tremolo_rate"]
            for j, t in enumerate(np.arange(onset, onset + length - period / 2, period)):
                notes.append((_when(rng, player, t), period * 1.5, course, pitch, velocity * (1.0 if j % 2 == 0 else 0.8), inner))
        else:
            notes.append((_when(rng, player, onset), length, course, pitch, velocity, inner))
    return notes


STRUMS = {  # rasgueo patterns of one bar per beats per bar: (beat, stroke, accent); X is a muted chop (apagado)
    3: [((0, "D", 1.0), (1, "D", 0.8), (2, "D", 0.8)),
        ((0, "D", 1.0), (1, "X", 0.9), (1.5, "U", 0.6), (2, "D", 0.8), (2.5, "U", 0.6)),
        ((0, "D", 1.0), (0.5, "U", 0.5), (1, "D", 0.8), (1.5, "U", 0.6), (2, "X", 0.9), (2.5, "U", 0.6)),
        ((0, "X", 0.9), (1, "D", 0.9), (2, "D", 0.8))],
    2: [((0, "D", 1.0), (0.5, "U", 0.6), (1, "D", 0.8), (1.5, "U", 0.6)),
        ((0, "D", 1.0), (1, "X", 0.9), (1.5, "U", 0.6)),
        ((0, "D", 1.0), (0.75, "U", 0.5), (1, "D", 0.8), (1.5, "U", 0.6))],
}


def rasgueo(rng, player, piece, *, accent=1.0, downs_only=False):
    """Strummed chords: one of the bar patterns of :data:`STRUMS` (drawn per piece) over the chord shape of each bar."""
    pattern = STRUMS[piece["beats"]][int(rng.integers(len(STRUMS[piece["beats"]])))]
    notes, beat = [], piece["beat"]
    for t0, chord in piece["bars"]:
        shape = chord_shape(player["instrument"], chord, position=player["position"])
        for b, stroke, strength in pattern:
            if not downs_only or stroke == "D":
                notes += strum(rng, player, t0 + b * beat, shape, stroke, accent * strength, 1.5 * beat)
    return notes


def bordones(rng, player, piece, *, runs=0.35):
    """Guitar accompaniment: the bass note of each chord on the downbeat, a light chord on the other beats (two beats
    apart in 2/4: root and fifth), and now and then a bass run (bordón) into the next chord."""
    notes, beats, beat = [], piece["beats"], piece["beat"]
    for i, (t0, chord) in enumerate(piece["bars"]):
        shape = chord_shape("guitar", chord, position=player["position"], root_in_bass=True)
        bass_course, bass_pitch = shape[0]
        upper = shape[-3:]
        fifth_course, fifth_pitch = course_for("guitar", bass_pitch + 7 if bass_pitch + 7 <= 52 else bass_pitch - 5)
        notes.append((_when(rng, player, t0), beats * beat, bass_course, bass_pitch, rng.uniform(85, 105), 0.0))
        if beats == 2:
            notes += strum(rng, player, t0 + 0.5 * beat, upper, "D", 0.6, 0.4 * beat, spread=rng.uniform(0.004, 0.012))
            notes.append((_when(rng, player, t0 + beat), beat, fifth_course, fifth_pitch, rng.uniform(75, 95), 0.0))
            notes += strum(rng, player, t0 + 1.5 * beat, upper, "D", 0.55, 0.4 * beat, spread=rng.uniform(0.004, 0.012))
            continue
        run = i + 1 < len(piece["bars"]) and rng.random() < runs
        for b in range(1, beats - (1 if run else 0)):
            notes += strum(rng, player, t0 + b * beat, upper, "D", 0.6, 0.8 * beat, spread=rng.uniform(0.004, 0.012))
        if run:  # three eighth notes walking by scale steps into the next chord's root, from below or above
            target = chord_shape("guitar", piece["bars"][i + 1][1], position=player["position"], root_in_bass=True)[0][1]
            below = [p for p in piece["scale"] if target - 6 <= p < target][-3:]
            above = [p for p in piece["scale"] if target < p <= target + 6][:3][::-1]
            for j, p in enumerate(above if rng.random() < 0.4 and target < 50 else below):
                course, p = course_for("guitar", p, 5)
                notes.append((_when(rng, player, t0 + (beats - 1 + j / 3) * beat), beat / 3, course, p, rng.uniform(75, 95), 0.0))
    return notes


def arpeggio(rng, player, piece):
    """Finger-picked broken chords in eighth notes (thumb on the lowest string, then the fingers upwards and back)."""
    notes, beat = [], piece["beat"]
    order = [0, 2, 3, 4, 3, 2, 1, 3]
    for t0, chord in piece["bars"]:
        shape = chord_shape(player["instrument"], chord, position=player["position"], root_in_bass=True)
        for k in range(2 * piece["beats"]):
            course, pitch = shape[min(order[k % len(order)], len(shape) - 1)]
            notes.append((_when(rng, player, t0 + k * beat / 2), 2 * beat, course, pitch, rng.uniform(60, 85) * (1.2 if k == 0 else 1), 0.0))
    return notes


def bass_line(rng, player, piece):
    """Bass: the root on the downbeat, the fifth on the last beat (3/4) or the second (2/4), sometimes a passing note."""
    notes, beats, beat = [], piece["beats"], piece["beat"]
    for i, (t0, chord) in enumerate(piece["bars"]):
        root = 28 + (chord[0] - 4) % 12  # E1 … D#2
        events = [(0, root), (beats - 1, root + 7 if root + 7 <= 45 else root - 5)]
        if i + 1 < len(piece["bars"]) and rng.random() < 0.3:  # approach the next root from a step below or above
            following = 28 + (piece["bars"][i + 1][1][0] - 4) % 12
            events[-1] = (beats - 0.5, following + int(rng.choice([-1, 1, 2])))
        for b, pitch in events:
            course, pitch = course_for("bass", pitch, 7)
            notes.append((_when(rng, player, t0 + b * beat), beat * (beats - b), course, pitch, rng.uniform(80, 110), 0.0))
    return notes


# ----------------------------------------------------------------------------------------------- rendering

def _expression(synth, channel, gain):
    """Set a channel's 14-bit expression (CC 11 and 43) for an amplitude ``gain`` (tinysoundfont's gain is the cube
    of the controller value)."""
    value = int(16383 * gain ** (1 / 3) + 0.5)
    synth.control_change(channel, 11, value >> 7)
    synth.control_change(channel, 43, value & 127)


def render_player(player: dict, notes: list, seconds: float, soundfont=None) -> np.ndarray:
    """Render one musician's note events with the SoundFont; every string its own channel, tuning and decay.

    Events are placed to the sample (not to a block), so that the 10–40-ms spread of a strum is heard as played. The
    SoundFont's samples ring far longer than small steel-strung instruments do (a bandola note fades within about a
    second, hence the tremolo): a string's expression falls exponentially from each of its notes, updated every
    10 ms, faster for higher notes (:data:`DECAY_DB_PER_S`, at middle C, doubling every two octaves up).

    Parameters
    ----------
    player : dict
        From :func:`new_player`.
    notes : list of (onset s, length s, course, pitch, velocity, seconds between the strings of the course)
    seconds : float
    soundfont : (tinysoundfont.Synth, SoundFont id), optional
        A synthesiser to reuse (loading the SoundFont takes 35 ms): the players of one file share one, rendered in
        a fixed order, with all sound stopped in between, so a file never depends on what was rendered before it.

    Returns
    -------
    np.ndarray, shape (seconds * 16000,), float64 mono, after the body filter and level
    """
    courses, octaves = INSTRUMENTS[player["instrument"]]
    first = np.cumsum([0] + [len(strings) for strings in octaves])  # channel of each course's first string (≤ 16)
    synth, sfid = soundfont or soundfont_synth()
    synth.sounds_off()
    for c in range(len(courses)):
        for s in range(len(octaves[c])):
            synth.program_select(int(first[c] + s), sfid, 0, int(player["programs"][s]), False)
            synth.set_tuning(int(first[c] + s), float(player["tuning"][c, s]) / 100)
    played: dict[int, list] = {}  # channel -> (start, end, pitch, velocity) of each note its string plays
    for onset, length, c, pitch, velocity, step in notes:
        for s, octave in enumerate(octaves[c]):
            start = onset + s * step
            v = int(np.clip(round(velocity * (0.85 if octave else 1.0)), 1, 127))
            played.setdefault(int(first[c] + s), []).append((start, start + max(length, 0.02), pitch + octave, v))
    events = []
    for channel, string_notes in played.items():
        string_notes.sort()
        for i, (start, end, pitch, velocity) in enumerate(string_notes):
            if i + 1 < len(string_notes):  # the next note on this string damps this one
                end = min(end, string_notes[i + 1][0])
            if end - start >= 0.01:
                events += [(int(start * SR), 1, channel, pitch, velocity), (int(end * SR), 0, channel, pitch, 0)]
    events.sort(key=lambda e: (e[0], e[1]))  # at one instant a string stops before it is struck again
    total, block = int(seconds * SR), 160
    decay = DECAY_DB_PER_S[player["instrument"]] * player["decay"] / 8.686  # nepers per second at middle C
    out, position, k, ringing, gains = np.zeros(total), 0, 0, {}, {}

    def advance(to):
        nonlocal position
        if to > position:
            stereo = np.frombuffer(synth.generate(to - position), dtype=np.float32)
            out[position:to] = stereo[0::2] + stereo[1::2]
            position = to

    for block_start in range(0, total, block):
        for channel, (struck, rate) in ringing.items():
            gain = math.exp(-rate * (block_start - struck))
            if gains[channel] - gain > 0.02 * gains[channel] and gain > 1e-4:  # steps of 0.2 dB, down to -80 dB
                _expression(synth, channel, gain)
                gains[channel] = gain
        block_end = min(block_start + block, total)
        while k < len(events) and events[k][0] < block_end:
            sample, on, channel, pitch, velocity = events[k]
            advance(max(sample, position))
            if on:
                _expression(synth, channel, 1.0)
                gains[channel] = 1.0
                ringing[channel] = (position, decay * 2 ** ((pitch - 60) / 24) / SR)  # nepers per sample
                synth.noteon(channel, pitch, velocity)
            else:
                synth.noteoff(channel, pitch)
            k += 1
        advance(block_end)
    return signal.sosfilt(player["tone"], out) * 10 ** (player["level_db"] / 20)
