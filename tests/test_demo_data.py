"""The demo data sets: deterministic, resumable, well-formed audio with the paper's classes."""
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf

from evalkit.config import ParameterError
from evalkit.data.synth import DEMO_CLASSES, GENERATOR_VERSION, generate_demo_task, render_file


@pytest.mark.parametrize("task_id", list(DEMO_CLASSES))
def test_layout_format_and_content(task_id, tmp_path):
    folder = generate_demo_task(task_id, tmp_path, files_per_class=2, files_per_group=1, duration=1.5, progress=False)
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == sorted(DEMO_CLASSES[task_id])
    for label in DEMO_CLASSES[task_id]:
        files = sorted((folder / label).glob("*.wav"))
        assert [f.name for f in files] == [f"{label}_g000__0.wav", f"{label}_g001__0.wav"]
        for f in files:
            audio, rate = sf.read(f)
            info = sf.info(str(f))
            assert rate == 16000 and info.channels == 1 and info.subtype == "PCM_16" and len(audio) == 24000
            peak = np.abs(audio).max()
            assert np.all(np.isfinite(audio)) and 10 ** (-20.5 / 20) <= peak <= 10 ** (-2.9 / 20)
            assert audio.std() > 1e-4  # not silent (noPuck holds background noise)
    marker = json.loads((folder / ".complete.json").read_text())
    assert marker["files"] == 2 * len(DEMO_CLASSES[task_id]) and marker["generator"] == GENERATOR_VERSION
    assert not (folder / ".generating.json").exists()


@pytest.mark.parametrize("task_id", ["D3", "D4"])
def test_generation_is_deterministic(task_id, tmp_path):
    a = generate_demo_task(task_id, tmp_path / "a", files_per_class=2, files_per_group=2, duration=1.0, progress=False)
    b = generate_demo_task(task_id, tmp_path / "b", files_per_class=2, files_per_group=2, duration=1.0, progress=False)
    for path in sorted(a.rglob("*.wav")):
        assert path.read_bytes() == (b / path.relative_to(a)).read_bytes()
    other = render_file(task_id, DEMO_CLASSES[task_id][0], 0, 0, seed=21, duration=1.0)
    same_seed = render_file(task_id, DEMO_CLASSES[task_id][0], 0, 0, seed=20, duration=1.0)
    assert not np.allclose(other, same_seed)


HASHES = textwrap.dedent("""
    import hashlib, json, sys
    from evalkit.data.sounds import VOICES, speak
    from evalkit.data.synth import DEMO_CLASSES, render_file
    jobs = [("voice", voice) for voice in VOICES]
    jobs += [(task, label, group) for task in DEMO_CLASSES for label in DEMO_CLASSES[task] for group in (0, 1)]
    jobs += [("D3", "SP", group) for group in range(2, 6)]
    if sys.argv[1] == "reversed":
        jobs = jobs[::-1]
    out = {}
    for job in jobs:
        if job[0] == "voice":
            audio = speak("the old river sings to the market", job[1], 160, 50, 60, seed=3)
        else:
            audio = render_file(*job, 0, seed=20, duration=1.0)
        out["/".join(map(str, job))] = hashlib.sha256(audio.tobytes()).hexdigest()
    print(json.dumps(out))
""")


def test_every_file_and_voice_is_the_same_in_other_processes_and_orders():
    """Files depend only on their parameters: two fresh processes generating in opposite orders agree byte for byte.

    Covers every eSpeak NG voice (the breathy variants ``+f2``, ``+f5`` draw noise that eSpeak seeds from the clock
    unless told otherwise) and files of every task."""
    runs = [json.loads(subprocess.run([sys.executable, "-c", HASHES, order], capture_output=True, text=True,
                                      check=True).stdout) for order in ("forward", "reversed")]
    assert runs[0] == runs[1]
    voices = {k: v for k, v in runs[0].items() if k.startswith("voice/")}
    assert len(set(voices.values())) == len(voices)  # every voice (and variant) sounds different


def test_an_unknown_voice_is_an_error():
    from evalkit.data.sounds import speak

    with pytest.raises(ParameterError, match="en-gb"):
        speak("hello", "en-gb", 160, 50, 50)  # not an eSpeak NG voice name: it used to fall back to "en" silently


def test_resume_and_parameter_mismatch(tmp_path):
    folder = generate_demo_task("D6", tmp_path, files_per_class=2, files_per_group=2, duration=1.0, progress=False)
    victim = folder / "puckA" / "puckA_g000__1.wav"
    original = victim.read_bytes()
    victim.unlink()
    (folder / ".complete.json").unlink()  # as after an interrupted run
    generate_demo_task("D6", tmp_path, files_per_class=2, files_per_group=2, duration=1.0, progress=False)
    assert victim.read_bytes() == original
    with pytest.raises(ParameterError, match=f"{folder} holds .*files_per_class 2 \\(wanted 3\\).*delete"):
        generate_demo_task("D6", tmp_path, files_per_class=3, files_per_group=2, duration=1.0, progress=False)
    marker = json.loads((folder / ".complete.json").read_text())
    (folder / ".complete.json").write_text(json.dumps({**marker, "generator": "2"}))  # data of an older evalkit
    with pytest.raises(ParameterError, match=f"generator '2' \\(wanted '{GENERATOR_VERSION}'\\)"):
        generate_demo_task("D6", tmp_path, files_per_class=2, files_per_group=2, duration=1.0, progress=False)


def test_an_interrupted_generation_of_other_parameters_is_not_resumed(tmp_path):
    folder = tmp_path / "D5"
    folder.mkdir()
    (folder / ".generating.json").write_text(json.dumps({"task": "D5", "seed": 7}))
    with pytest.raises(ParameterError, match="seed 7 \\(wanted 20\\)"):
        generate_demo_task("D5", tmp_path, files_per_class=2, duration=1.0, progress=False)


@pytest.mark.parametrize("bad, message", [({"files_per_class": 0}, "files_per_class must be a whole number >= 1"),
                                          ({"files_per_group": 1.5}, "files_per_group must be a whole number"),
                                          ({"duration": 0.1}, "duration must be 0.5–60 seconds"),
                                          ({"seed": "x"}, "seed must be a whole number")])
def test_bad_parameters_are_named_before_any_work(bad, message, tmp_path):
    from evalkit.data.registry import demo_task

    with pytest.raises(ParameterError, match=message):
        demo_task("D4", root=tmp_path, **bad)
    assert not any(tmp_path.iterdir())


def test_default_demo_tasks_hold_40_recordings_per_class_in_a_folder_named_by_version_and_parameters():
    """At a 10 % training share, 4 recordings per class; data of another generator version lie beside, unused."""
    from evalkit.config import data_dir
    from evalkit.data.registry import demo_task

    task = demo_task("D1")
    assert task.files_per_class // task.files_per_group == 40 and task.duration == 3.0
    assert task.root == data_dir() / "demo" / f"v{GENERATOR_VERSION}-s20-n40-g1-d3" / "D1"
    assert demo_task("D1", files_per_class=8).root.parent.name == f"v{GENERATOR_VERSION}-s20-n8-g1-d3"


def test_classes_differ_in_their_physics(tmp_path):
    """Impacts of the pucks ring at material-specific frequencies; noPuck has no impacts."""
    def centroid(label):
        values = []
        for g in range(3):
            x = render_file("D6", label, g, 0, seed=20, duration=2.0)
            spectrum = np.abs(np.fft.rfft(x))
            values.append(np.sum(spectrum * np.fft.rfftfreq(len(x), 1 / 16000)) / spectrum.sum())
        return np.mean(values)

    def crest(label):
        x = render_file("D6", label, 0, 0, seed=20, duration=2.0)
        return np.abs(x).max() / x.std()

    assert crest("puckA") > 1.5 * crest("noPuck")
    assert abs(centroid("puckI") - centroid("puckG")) > 100


def test_a_demo_task_is_generated_by_prepare_only(tmp_path):
    from evalkit import get_task
    from evalkit.config import MissingDataError

    task = get_task("D5", root=tmp_path, files_per_class=2, files_per_group=2, duration=1.0)
    assert not task.is_prepared and not (tmp_path / "D5").exists()  # resolving a task generates nothing
    with pytest.raises(MissingDataError, match="prepare"):
        task.files()
    assert task.prepare(progress=False) is task and task.is_prepared
    files = task.files()
    assert len(files) == 2 * 3 and {f.label for f in files} == set(DEMO_CLASSES["D5"])  # whole groups of 2 files
    assert {f.group for f in files} == {"K1/K1_g000", "K2/K2_g000", "K3/K3_g000"}  # from the file names
    other = get_task("D5", root=tmp_path, files_per_class=2, files_per_group=1, duration=1.0)
    assert not other.is_prepared  # the folder holds other parameters: not taken for this task's data


def _frets(instrument, chord, **kw):
    from evalkit.data.plucked import INSTRUMENTS, chord_shape

    shape = dict(chord_shape(instrument, chord, **kw))
    return "".join(str(shape[c] - o) if c in shape else "x" for c, o in enumerate(INSTRUMENTS[instrument][0]))


def test_d1_plays_the_familiar_chord_shapes():
    C, G, E7, B7, Bm = (0, (0, 4, 7)), (7, (7, 11, 2)), (4, (4, 8, 11, 2)), (11, (11, 3, 6, 9)), (11, (11, 2, 6))
    assert [_frets("guitar", c, root_in_bass=True) for c in (C, G, E7, B7, Bm)] == \
        ["x32010", "320003", "020100", "x21202", "x24432"]
    assert [_frets("tiple", c) for c in (C, G, Bm)] == ["2010", "0003", "4432"]  # the guitar's top four courses


def test_d1_strums_spread_the_strings_down_low_to_high_and_up_high_to_low():
    from evalkit.data.plucked import chord_shape, new_player, strum

    rng = np.random.default_rng(0)
    player = {**new_player(rng, "tiple"), "timing": 0.0, "jitter": 0.0}
    shape = chord_shape("tiple", (7, (7, 11, 2)))
    for _ in range(20):
        down = strum(rng, player, 1.0, shape, "D", 1.0, 0.5)
        last = down[-1][0] + 2 * down[-1][5]  # the last course's third string
        assert [n[2] for n in down] == [0, 1, 2, 3] and 0.010 <= last - down[0][0] <= 0.040 + 1e-9
        up = strum(rng, player, 1.0, shape, "U", 1.0, 0.5)
        assert [n[2] for n in up] in ([3, 2], [3, 2, 1]) and all(a[0] < b[0] for a, b in zip(up, up[1:]))


def test_d1_tiple_courses_ring_with_their_octave_string():
    """The B course of the tiple sounds B4 and, from its middle string, B3; the E course is three unison strings."""
    from evalkit.data.plucked import new_player, render_player

    player = new_player(np.random.default_rng(1), "tiple")

    def level_db(course, pitch, hz):
        x = render_player(player, [(0.05, 1.0, course, pitch, 100, 0.002)], 1.0)
        spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        freqs = np.fft.rfftfreq(len(x), 1 / 16000)
        return 20 * np.log10(spectrum[np.abs(freqs - hz) < hz * 0.03].max() / spectrum.max())

    assert level_db(2, 71, 246.9) > -20  # B3 below the B4 strings
    assert level_db(3, 64, 164.8) < -30  # nothing an octave below E4


def test_d1_line_ups_have_one_distinct_instrument_per_player():
    from evalkit.data.andean import LINEUPS

    for size, options in LINEUPS.items():
        assert abs(sum(share for _, share in options) - 1) < 1e-9
        for instruments, _ in options:
            assert len(instruments) == size == len(set(instruments))
