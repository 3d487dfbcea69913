"""Bad input: every problem is an AudioError / ValueError naming the file (or class) and the problem."""
import warnings

import numpy as np
import pytest
import soundfile as sf

from evalkit import AudioError, FolderTask, get_classifier, get_extractor, get_task, load_audio, run_experiment
from evalkit.config import UnknownNameError
from evalkit.embed.handcrafted import MFCCExtractor

from conftest import write_tone_task


def test_corrupt_empty_and_nan_files_name_the_file(tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00garbage" * 10)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    nan = tmp_path / "nan.wav"
    x = np.zeros(16000, dtype=np.float32)
    x[100] = np.nan
    sf.write(nan, x, 16000, subtype="FLOAT")
    no_samples = tmp_path / "nosamples.wav"
    sf.write(no_samples, np.zeros(0, dtype=np.float32), 16000)
    for path, problem in [(corrupt, "cannot be decoded"), (empty, "empty file"), (nan, "NaN or infinite"),
                          (no_samples, "no samples"), (tmp_path / "missing.wav", "not found")]:
        with pytest.raises(AudioError, match=problem) as info:
            load_audio(path, 16000)
        assert str(path) in str(info.value)


def test_multichannel_is_averaged_and_unusual_rates_are_resampled(tmp_path):
    t = np.arange(8000) / 8000
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), -np.sin(2 * np.pi * 440 * t) + 0.5], axis=1) * 0.5
    sf.write(tmp_path / "stereo8k.wav", stereo.astype(np.float32), 8000)
    mono = load_audio(tmp_path / "stereo8k.wav", 8000)
    np.testing.assert_allclose(mono, 0.125, atol=1e-4)  # the sines cancel, half the offset remains
    for rate in (8000, 96000):
        sf.write(tmp_path / f"r{rate}.wav", np.sin(2 * np.pi * 440 * np.arange(rate) / rate).astype(np.float32), rate)
        audio = load_audio(tmp_path / f"r{rate}.wav", 16000)
        assert audio.dtype == np.float32 and abs(len(audio) - 16000) <= 2
        spectrum = np.abs(np.fft.rfft(audio))
        assert abs(np.argmax(spectrum) - 440) <= 1  # 1 s at 16 kHz: bins are 1 Hz apart


def test_short_files_are_padded_to_one_window():
    extractor = MFCCExtractor(window=1.0, hop=0.5)
    emb, times = extractor.extract(np.random.default_rng(0).standard_normal(4000).astype(np.float32) * 0.1)
    assert emb.shape == (1, 120) and times.tolist() == [0.5]


def test_folder_task_ignores_non_audio_files_with_a_warning(tmp_path):
    root = write_tone_task(tmp_path / "t", groups=2, files_per_group=1, duration=0.5)
    (root / "low" / "notes.txt").write_text("not audio")
    (root / "low" / ".DS_Store").write_bytes(b"\0")
    task = FolderTask.from_folder(root, group_pattern="^(.*)__")
    with pytest.warns(UserWarning, match="ignored 1 non-audio file.*notes.txt"):
        files = task.files()
    assert len(files) == 6 and {f.label for f in files} == {"low", "mid", "high"}
    assert files[0].group == "high/rec0"


def test_a_corrupt_file_in_a_task_is_named_before_any_work(tmp_path):
    from evalkit import EmbeddingCache

    cache = EmbeddingCache(tmp_path / "cache")  # its own: other tests may have cached the same tones
    root = write_tone_task(tmp_path / "t", groups=2, files_per_group=2, duration=1.0)
    (root / "mid" / "rec9__0.wav").write_bytes(b"not a wav at all")
    task = FolderTask.from_folder(root)
    with pytest.raises(AudioError, match="rec9__0.wav.*cannot be decoded"):
        run_experiment(task, "mfcc", "svm", repetitions=1, cache=cache, store=False, progress=False)
    # the task is checked as a whole first: nothing was embedded (work kept after a failure mid-extraction is
    # tested in test_errors.py)
    from evalkit.data.audio import file_hash

    assert not [f for f in task.files() if f.path.name != "rec9__0.wav"
                and cache.get(MFCCExtractor(), file_hash(f.path)) is not None]


def test_folder_task_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        get_task(str(tmp_path / "nowhere"))
    root = write_tone_task(tmp_path / "t", classes=("a", "b"), groups=1, files_per_group=3, duration=0.5)
    with pytest.raises(ValueError, match="class folder\\(s\\) missing: c"):
        FolderTask.from_folder(root, classes=["a", "b", "c"])
    (root / "empty_class").mkdir()
    with pytest.raises(ValueError, match="empty_class contains no audio files"):
        FolderTask.from_folder(root).files()


def test_too_few_files_for_the_split_names_the_class(tmp_path):
    root = write_tone_task(tmp_path / "t", classes=("a", "b"), groups=3, files_per_group=1, duration=0.5)
    for extra in (root / "b").glob("rec[12]*"):
        extra.unlink()
    with pytest.raises(ValueError, match="class 'b' has 1 file"):
        run_experiment(FolderTask.from_folder(root), "mfcc", "svm", repetitions=1, cache=False, store=False,
                       progress=False)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(UnknownNameError, match="unknown task 'T9'.*D1, D2"):
        get_task("T9")
    with pytest.raises(UnknownNameError, match="unknown embedding 'openl4'.*mfcc.*musicnn"):
        get_extractor("openl4")
    with pytest.raises(UnknownNameError, match="unknown classifier 'rf'.*d128, d512, svm"):
        get_classifier("rf")
    with pytest.raises(ValueError, match="embedding 'mfcc' has no parameter 'n_mel'; its parameters: n_mfcc"):
        get_extractor("mfcc(n_mel=3)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert get_extractor("mfcc(n_mfcc=13)").dim == 78
