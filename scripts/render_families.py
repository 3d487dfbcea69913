"""A folder task of five instrument families rendered from any General-MIDI SoundFont: data no demo task is made of.

The demo's D2 renders its families (brass, piano, strings, vocal, woodwinds; the General-MIDI programs of
``evalkit.data.synth.FAMILIES``) from pretty_midi's TimGM6mb.sf2. Rendered from another SoundFont, the same
programs sound different (other samples, envelopes and tunings), so a model that reaches a good accuracy here has
learnt instrument families, not one SoundFont. Each class has ``--takes`` takes (a program of the family, a
register, a tempo and a loudness, shared by the take's files: the recording group) of ``--files-per-take`` solo
phrases of ``--seconds`` seconds, 16 kHz mono WAV, named ``take<k>_<i>.wav``. Usage::

    python scripts/render_families.py --soundfont /usr/share/sounds/sf3/MuseScore_General_Lite.sf3 --out families
    .venv/bin/evalkit run --task families --group-pattern '^(take\\d+)' --classifier cnn --train-fraction 0.8 \\
        --repetitions 3

(Debian's musescore-general-soundfont-small ships MuseScore_General_Lite.sf3, MIT licence; fluid-soundfont-gm ships
FluidR3_GM.sf2, MIT.) The same arguments give the same files.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from evalkit.data.sounds import MAJOR, MINOR, SR, render_notes, soundfont_synth
from evalkit.data.synth import FAMILIES


def phrase(rng: np.random.Generator, *, centre: int, beat_seconds: float, velocity: int, seconds: float) -> list:
    """A random walk over a major or minor scale around ``centre`` (MIDI pitch): ``(channel, start_s, length_s,
    pitch, velocity)`` notes of ½–2 beats, with a rest now and then."""
    root, steps = int(rng.integers(0, 12)), (MAJOR if rng.random() < 0.5 else MINOR)
    scale = [p for p in range(centre - 9, centre + 10) if (p - root) % 12 in steps]
    notes, start, index = [], 0.0, len(scale) // 2
    while start < seconds:
        length = beat_seconds * float(rng.choice([0.5, 1, 1, 1.5, 2]))
        index = int(np.clip(index + rng.integers(-2, 3), 0, len(scale) - 1))
        if rng.random() > 0.1:
            notes.append((0, start, 0.9 * length, scale[index], int(np.clip(velocity + rng.integers(-10, 11), 30, 127))))
        start += length
    return notes


def render_folder(out: Path, *, soundfont: Path, takes: int, files_per_take: int, seconds: float, seed: int) -> int:
    """Write the folder task; return the number of files written."""
    loaded = soundfont_synth(soundfont)  # once: an SF3 decodes all its samples when it loads
    written = 0
    for c, (family, (programs, (low, high))) in enumerate(sorted(FAMILIES.items())):
        (out / family).mkdir(parents=True, exist_ok=True)
        for take in range(takes):
            rng = np.random.default_rng([seed, c, take])
            program = int(rng.choice(programs))
            centre, beat = int(rng.integers(low + 9, high - 8)), 60 / rng.uniform(60, 140)
            velocity, gain = int(rng.integers(60, 110)), 10 ** (rng.uniform(-12, 0) / 20)
            for i in range(files_per_take):
                notes = phrase(rng, centre=centre, beat_seconds=beat, velocity=velocity, seconds=seconds)
                audio = render_notes(notes, {0: program}, seconds, soundfont=loaded)
                peak = np.abs(audio).max()
                audio = gain * 0.9 * audio / peak if peak > 0 else audio
                audio = audio + 10 ** (-60 / 20) * rng.standard_normal(len(audio))  # a recording's noise floor
                sf.write(out / family / f"take{take}_{i}.wav", audio.astype(np.float32), SR)
                written += 1
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--soundfont", type=Path, required=True, help="a General-MIDI SoundFont (.sf2 or .sf3)")
    parser.add_argument("--out", type=Path, required=True, help="the folder to write (one sub-folder per class)")
    parser.add_argument("--takes", type=int, default=6, help="takes (recording groups) per class (default 6)")
    parser.add_argument("--files-per-take", type=int, default=4, help="files per take (default 4)")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each file (default 4)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.soundfont.is_file():
        parser.error(f"--soundfont {args.soundfont}: no such file")
    for name in ("takes", "files_per_take"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not 0.5 <= args.seconds <= 60:
        parser.error("--seconds must be between 0.5 and 60")
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"--out {args.out}: exists and is not empty")
    n = render_folder(args.out, soundfont=args.soundfont, takes=args.takes, files_per_take=args.files_per_take,
                      seconds=args.seconds, seed=args.seed)
    print(f"{n} files in {args.out} ({len(FAMILIES)} classes from {args.soundfont.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
