"""scripts/render_families.py (an instrument-family folder from another SoundFont, the unseen data of issue 24's CNN
check) and the reusable synthesiser of ``render_notes`` that it relies on."""
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import load_script
from evalkit.data.sounds import SR, render_notes, soundfont_synth
from evalkit.data.tasks import FolderTask


@pytest.fixture(scope="module")
def render_families():
    return load_script("render_families")


@pytest.fixture(scope="module")
def soundfont() -> Path:
    """pretty_midi's General-MIDI SoundFont: the only one a registry package ships (the real check uses another)."""
    import pretty_midi

    return Path(os.path.dirname(pretty_midi.__file__)) / "TimGM6mb.sf2"


def test_a_reused_synthesiser_renders_as_a_fresh_one(soundfont):
    notes = [(0, 0.0, 0.4, 60, 100), (0, 0.3, 0.5, 64, 90)]  # the second rings past the end: a tail to carry over
    fresh = render_notes(notes, {0: 40}, 0.5, soundfont=soundfont)
    loaded = soundfont_synth(soundfont)
    first = render_notes(notes, {0: 40}, 0.5, soundfont=loaded)
    second = render_notes(notes, {0: 40}, 0.5, soundfont=loaded)
    assert np.abs(fresh).max() > 0.01
    np.testing.assert_allclose(first, fresh, atol=1e-6)
    np.testing.assert_allclose(second, fresh, atol=1e-6)  # no tail of the first call in the second


def test_the_folder_is_a_task_of_five_families_grouped_by_take(render_families, soundfont, tmp_path):
    out = tmp_path / "families"
    assert render_families.main(["--soundfont", str(soundfont), "--out", str(out), "--takes", "2",
                                 "--files-per-take", "2", "--seconds", "0.5"]) == 0
    task = FolderTask.from_folder(out, group_pattern=r"^(take\d+)")
    files = task.files()
    assert task.classes == ["brass", "piano", "strings", "vocal", "woodwinds"]
    assert len(files) == 5 * 2 * 2 and {f.group.split("/")[1] for f in files} == {"take0", "take1"}
    import soundfile as sf

    audio, rate = sf.read(files[0].path)
    assert rate == SR and len(audio) == SR // 2 and np.abs(audio).max() > 0.05
    again = tmp_path / "again"
    render_families.main(["--soundfont", str(soundfont), "--out", str(again), "--takes", "2", "--files-per-take", "2",
                          "--seconds", "0.5"])
    np.testing.assert_array_equal(sf.read(again / "piano" / "take1_1.wav")[0], sf.read(out / "piano" / "take1_1.wav")[0])


@pytest.mark.parametrize("argv, message", [
    (["--soundfont", "missing.sf2"], "--soundfont missing.sf2: no such file"),
    (["--takes", "0"], "--takes must be at least 1"),
    (["--seconds", "0.1"], "--seconds must be between"),
])
def test_bad_arguments_are_one_line(render_families, soundfont, tmp_path, capsys, argv, message):
    base = ["--soundfont", str(soundfont), "--out", str(tmp_path / "x")]
    with pytest.raises(SystemExit) as stop:
        render_families.main(base + argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err
