"""The demo data sets: deterministic, resumable, well-formed audio with the paper's classes."""
import json

import numpy as np
import pytest
import soundfile as sf

from evalkit.data.synth import DEMO_CLASSES, generate_demo_task, render_file


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
    assert marker["files"] == 2 * len(DEMO_CLASSES[task_id])


@pytest.mark.parametrize("task_id", ["D3", "D4"])
def test_generation_is_deterministic(task_id, tmp_path):
    a = generate_demo_task(task_id, tmp_path / "a", files_per_class=2, duration=1.0, progress=False)
    b = generate_demo_task(task_id, tmp_path / "b", files_per_class=2, duration=1.0, progress=False)
    for path in sorted(a.rglob("*.wav")):
        assert path.read_bytes() == (b / path.relative_to(a)).read_bytes()
    other = render_file(task_id, DEMO_CLASSES[task_id][0], 0, 0, seed=21, duration=1.0)
    same_seed = render_file(task_id, DEMO_CLASSES[task_id][0], 0, 0, seed=20, duration=1.0)
    assert not np.allclose(other, same_seed)


def test_resume_and_parameter_mismatch(tmp_path):
    folder = generate_demo_task("D6", tmp_path, files_per_class=2, duration=1.0, progress=False)
    victim = folder / "puckA" / "puckA_g000__1.wav"
    original = victim.read_bytes()
    victim.unlink()
    (folder / ".complete.json").unlink()  # as after an interrupted run
    generate_demo_task("D6", tmp_path, files_per_class=2, duration=1.0, progress=False)
    assert victim.read_bytes() == original
    with pytest.raises(ValueError, match=f"{folder}.*other parameters"):
        generate_demo_task("D6", tmp_path, files_per_class=3, duration=1.0, progress=False)


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

    task = get_task("D5", root=tmp_path, files_per_class=2, duration=1.0)
    assert not task.is_prepared and not (tmp_path / "D5").exists()  # resolving a task generates nothing
    with pytest.raises(MissingDataError, match="prepare"):
        task.files()
    assert task.prepare(progress=False) is task and task.is_prepared
    files = task.files()
    assert len(files) == 4 * 3 and {f.label for f in files} == set(DEMO_CLASSES["D5"])  # whole groups of 4 files
    assert {f.group for f in files} == {"K1/K1_g000", "K2/K2_g000", "K3/K3_g000"}  # from the file names
