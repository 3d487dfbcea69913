"""Every user-facing error is one line naming the file or parameter and the problem, exit status 2, found before any
work: options, group patterns, the parameters of every extractor and classifier (with their valid range), options
that do not fit together, training shares too small, and a task's bad files, all reported at once."""
from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest
import soundfile as sf

from evalkit import AudioError, FolderTask, ParameterError, get_classifier, get_extractor, get_task, run_experiment
from evalkit.cli import main
from evalkit.config import EvalkitError, EvalkitWarning
from evalkit.data.audio import check_audio_file
from evalkit.embed.cache import EmbeddingCache, extract_embeddings

from conftest import write_tone_task


def run_cli(argv, capsys):
    """Exit status and the lines evalkit wrote to stderr."""
    code = main(argv)
    return code, capsys.readouterr().err.splitlines()


def assert_one_line_error(code, lines, *expected, command="run"):
    """Exit status 2, one error line (and under it only the problems it lists, or warnings), no traceback."""
    errors = [line for line in lines if line.startswith(f"evalkit {command}: error:")]
    assert code == 2 and len(errors) == 1, lines
    others = [line for line in lines if line not in errors]
    assert all(line.startswith(("  - ", f"evalkit {command}: warning:")) for line in others), lines
    for text in expected:
        assert text in errors[0], (text, errors[0])


def tones_run(task_dir, *options):
    return ["run", "--task", str(task_dir), "--embedding", "mfcc", "--repetitions", "1", *options]


# ------------------------------------------------------------------------------------------------ options


@pytest.mark.parametrize("option, value, expected", [
    ("--repetitions", "0", "repetitions must be a whole number ≥ 1, not 0"),
    ("--repetitions", "-3", "repetitions must be a whole number ≥ 1, not -3"),
    ("--seed", "-1", "seed must be a whole number in [0, "),
    ("--train-fraction", "0.9", "train_fraction must be a number in (0, 0.8]"),
    ("--train-fraction", "0", "train_fraction must be a number in (0, 0.8]"),
    ("--train-fraction", "nan", "train_fraction must be a number in (0, 0.8]"),
])
def test_options_out_of_range_are_one_line_with_the_range(option, value, expected, tone_task_dir, capsys):
    argv = [a for a in tones_run(tone_task_dir) if a not in ("--repetitions", "1")] + [option, value]
    assert_one_line_error(*run_cli(argv, capsys), expected)


def test_usage_errors_are_one_line(tone_task_dir, capsys):
    assert_one_line_error(*run_cli(tones_run(tone_task_dir, "--repetitions", "abc"), capsys),
                          "--repetitions: invalid int value: 'abc'", "evalkit run --help")
    code, lines = run_cli(["run", "--task", "D3", "--bogus"], capsys)
    assert code == 2 and len(lines) == 1 and "unrecognized arguments: --bogus" in lines[0]


def test_the_python_api_raises_the_same_errors(tone_task_dir):
    for options, message in [({"repetitions": 0}, "repetitions"), ({"train_fraction": 0.95}, "train_fraction"),
                             ({"pooling": "mean+std"}, "early fusion"), ({"fusion": "middle"}, "fusion must be one of"),
                             ({"batch_size": 0}, "batch_size must be a whole number ≥ 1")]:
        with pytest.raises(ParameterError, match=message):
            run_experiment(tone_task_dir, "mfcc", "svm", **options, cache=False, store=False, progress=False)


# ------------------------------------------------------------------------------------------------ group patterns


@pytest.mark.parametrize("pattern, expected", [
    ("speech", "group pattern 'speech' has no capture group"),
    ("([a-z", "group pattern '([a-z' does not compile: unterminated character set"),
    ("(zzz)", "group pattern '(zzz)' matches none of its 24 file names (e.g. 'rec0__0')"),
    ("", "group pattern '' has no capture group"),
])
def test_a_group_pattern_that_cannot_group_the_files_is_an_error(pattern, expected, tone_task_dir, capsys):
    assert_one_line_error(*run_cli(tones_run(tone_task_dir, "--group-pattern", pattern), capsys), expected)
    with pytest.raises(ParameterError, match="group pattern"):
        FolderTask.from_folder(tone_task_dir, group_pattern=pattern).files()


def test_a_group_pattern_that_matches_some_files_warns_with_counts(tone_task_dir):
    task = FolderTask.from_folder(tone_task_dir, group_pattern="^(rec[01])__")
    with pytest.warns(EvalkitWarning, match=r"matches 12 of 24 file names; the other 12 \(e.g. 'rec2__0'\)"):
        files = task.files()
    assert {f.group for f in files if f.label == "low"} == {"low/rec0", "low/rec1"} | {
        f"low/rec{g}__{k}" for g in (2, 3) for k in (0, 1)}


def test_demo_and_paper_tasks_refuse_a_group_pattern(capsys):
    assert_one_line_error(*run_cli(["run", "--task", "D3", "--embedding", "mfcc", "--group-pattern", "speech"], capsys),
                          "task D3: group_pattern (--group-pattern) is for folder tasks")
    for task_id in ("D3", "T1"):
        with pytest.raises(ParameterError, match="is for folder tasks"):
            get_task(task_id, group_pattern="^(.*)__")
    with pytest.raises(ParameterError, match="unexpected parameter\\(s\\) colour; valid: root, seed"):
        get_task("D3", colour="red")


def test_groups_span_classes_is_a_folder_tasks_true_or_false(tone_task_dir, capsys, tmp_path, monkeypatch):
    assert_one_line_error(*run_cli(["run", "--task", "D3", "--embedding", "mfcc", "--groups-span-classes"], capsys),
                          "task D3: groups_span_classes (--groups-span-classes) is for folder tasks")
    for task_id in ("D3", "T1"):
        with pytest.raises(ParameterError, match="groups_span_classes .* is for folder tasks"):
            get_task(task_id, groups_span_classes=True)
    with pytest.raises(ParameterError, match="^task task: groups_span_classes must be one of false, true, not 'yes'$"):
        FolderTask.from_folder(tone_task_dir, groups_span_classes="yes")
    with pytest.raises(ParameterError, match="groups_span_classes must be one of false, true, not 1$"):
        get_task(str(tone_task_dir), groups_span_classes=1)
    import evalkit.data.datasets as datasets

    manifest = datasets.resource_path("data/manifests/T1.yaml").read_text(encoding="utf-8")
    (tmp_path / "T1.yaml").write_text(manifest + "groups_span_classes: sometimes\n", encoding="utf-8")
    monkeypatch.setattr(datasets, "resource_path", lambda _: tmp_path / "T1.yaml")
    with pytest.raises(ParameterError, match=r"T1.yaml: groups_span_classes must be true or false, not 'sometimes'$"):
        datasets.load_manifest("T1")


# ------------------------------------------------------------------------------------------------ parameters


@pytest.mark.parametrize("spec, expected", [
    ("mfcc(n_mfcc=0)", "mfcc: n_mfcc must be a whole number in [1, 40], not 0"),
    ("mfcc(n_mfcc=41)", "mfcc: n_mfcc must be a whole number in [1, 40], not 41"),
    ("mfcc(n_mfcc=abc)", "mfcc: n_mfcc must be a whole number in [1, 40], not 'abc'"),
    ("mfcc(n_mfcc=2.5)", "mfcc: n_mfcc must be a whole number in [1, 40], not 2.5"),
    ("mfcc(hop=-1)", "mfcc: hop must be a number ≥ 0.01 s, not -1"),
    ("mfcc(hop=0.015)", "mfcc: hop must be a whole number of the 10-ms feature steps"),
    ("mfcc(window=0)", "mfcc: window must be a number ≥ 0.01 s, not 0"),
    ("mfcc(sample_rate=100)", "mfcc: sample_rate must be a whole number in [8000, 192000] Hz, not 100"),
    ("musicnn(hop=0)", "musicnn: hop must be a number ≥ 0.016 s, not 0"),
    ("musicnn(window=none)", "musicnn: window must be a number ≥ 0.016 s, not None"),
    ("musicnn(batch_size=0)", "musicnn: batch_size must be a whole number ≥ 1, not 0"),
    ("birdnet(hop=0)", "birdnet: hop must be a number ≥ 0.001 s, not 0"),
    ("speech-embedding(window=0.5)", "speech-embedding: window must be a number ≥ 0.782 s, not 0.5"),
    ("speech-embedding(hop=-1)", "speech-embedding: hop must be a number > 0 s, not -1"),
    ("spectrogram(patch=0)", "spectrogram: patch must be a whole number ≥ 1, not 0"),
    ("spectrogram(kind=log)", "spectrogram: kind must be one of linear, mel, not 'log'"),
    ("cnn-input-t3(n_fft=abc)", "spectrogram: n_fft must be a whole number ≥ 16, not 'abc'"),
])
def test_every_extractor_parameter_out_of_range_is_named_with_its_range(spec, expected, tone_task_dir, capsys):
    with pytest.raises(ParameterError) as info:
        get_extractor(spec)
    assert expected in str(info.value)
    argv = [a if a != "mfcc" else spec for a in tones_run(tone_task_dir)]
    assert_one_line_error(*run_cli(argv, capsys), expected)


@pytest.mark.parametrize("spec, expected", [
    ("d128(hidden_units=0)", "hidden_units must be a whole number ≥ 1, not 0"),
    ("d128(dropout=2)", "dropout must be a number in [0, 1), not 2"),
    ("d512(dropout=1)", "dropout must be a number in [0, 1), not 1"),
    ("d128(epochs=0)", "epochs must be a whole number ≥ 1, not 0"),
    ("d128(epochs=3.0)", "epochs must be a whole number ≥ 1, not 3.0"),
    ("d128(learning_rate=0)", "learning_rate must be a number in (0, 1], not 0"),
    ("d128(validation_fraction=1)", "validation_fraction must be a number in [0, 1), not 1"),
    ("svm(C=0)", "svm: C must be a number > 0, not 0"),
    ("svm(max_iter=abc)", "svm: max_iter must be a whole number ≥ 1, not 'abc'"),
    ("svm(scale=maybe)", "svm: scale must be one of true, false, not 'maybe'"),
    ("cnn(epochs=0)", "cnn: epochs must be a whole number ≥ 1, not 0"),
    ("cnn(min_epochs=-1)", "cnn: min_epochs must be a whole number ≥ 1, not -1"),
    ("cnn(clipnorm=0)", "cnn: clipnorm must be a number > 0, not 0"),
    ("cnn-han(batch_size=0)", "cnn: batch_size must be a whole number ≥ 1, not 0"),
])
def test_every_classifier_parameter_out_of_range_is_named_with_its_range(spec, expected, tone_task_dir, capsys):
    with pytest.raises(ParameterError) as info:
        get_classifier(spec)
    assert expected in str(info.value)
    argv = tones_run(tone_task_dir, "--classifier", spec)
    if spec.startswith("cnn"):  # the CNNs bring their own input
        argv = [a for a in argv if a not in ("--embedding", "mfcc")]
    assert_one_line_error(*run_cli(argv, capsys), expected)


def test_a_parameter_set_after_construction_is_checked_when_training():
    model = get_classifier("d128").set_params(dropout=1.5)
    with pytest.raises(ParameterError, match="dropout"):
        model.fit(np.zeros((4, 2)), np.array([0, 0, 1, 1]))


def test_extract_refuses_a_batch_size_below_one(tone_task_dir, capsys):
    argv = ["extract", "--task", str(tone_task_dir), "--embedding", "mfcc", "--batch-size", "0"]
    assert_one_line_error(*run_cli(argv, capsys), "--batch-size must be a whole number ≥ 1, not 0", command="extract")


# ------------------------------------------------------------------------------------------------ combinations


@pytest.mark.parametrize("options, expected", [
    (["--pooling", "mean+std"], "pooling 'mean+std' is for early fusion"),
    (["--classifier", "cnn", "--fusion", "early"], "classifier 'cnn' classifies spectrogram patches"),
    (["--classifier", "cnn-han"], "classifier 'cnn-han' learns from spectrogram patches, not from mfcc"),
])
def test_options_that_do_not_fit_together_are_refused(options, expected, tone_task_dir, capsys):
    argv = tones_run(tone_task_dir, *options)
    if options[:2] == ["--classifier", "cnn"]:  # the CNN without an embedding: its own input
        argv = [a for a in argv if a not in ("--embedding", "mfcc")]
    assert_one_line_error(*run_cli(argv, capsys), expected)


def test_a_training_share_with_fewer_than_two_recordings_per_class_is_refused_before_any_work(tone_task_dir, capsys,
                                                                                                 tmp_path):
    code, lines = run_cli(tones_run(tone_task_dir, "--train-fraction", "0.8", "0.01", "--results", str(tmp_path)),
                          capsys)
    assert_one_line_error(code, lines, "train_fraction 0.01 (seed 0) leaves 3 class(es) without the 2 training "
                                       "recordings")
    problems = [line for line in lines if line.startswith("  - ")]
    assert len(problems) == 3 and "class 'high': 1 training file(s) from 1 recording(s)" in problems[0]
    assert not list(tmp_path.rglob("*.json"))  # not even the valid 80 % share was computed
    with pytest.raises(ParameterError, match="class 'low': 1 training file"):
        run_experiment(tone_task_dir, "mfcc", "svm", train_fraction=0.04, cache=False, store=False, progress=False)


# ------------------------------------------------------------------------------------------------ a task as a whole


@pytest.fixture
def broken_task(tmp_path):
    root = write_tone_task(tmp_path / "broken", groups=3, files_per_group=1, duration=1.0)
    (root / "low" / "corrupt.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)
    (root / "mid" / "empty.wav").write_bytes(b"")
    nan = np.zeros(16000, np.float32)
    nan[7] = np.nan
    sf.write(root / "mid" / "nan.wav", nan, 16000, subtype="FLOAT")
    (root / "single").mkdir()
    sf.write(root / "single" / "only.wav", np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1,
             16000)
    return root


def test_a_task_reports_all_its_problems_together_before_any_work(broken_task, tmp_path, capsys):
    cache = EmbeddingCache(tmp_path / "cache")
    with pytest.raises(AudioError) as info:
        run_experiment(broken_task, "mfcc", "svm", repetitions=1, cache=cache, store=False, progress=False)
    problems = info.value.problems
    assert len(problems) == 4 and "4 problem(s) in its 13 files; nothing was computed" in str(info.value)
    for name, problem in [("corrupt.wav", "cannot be decoded"), ("empty.wav", "empty file (0 bytes)"),
                          ("nan.wav", "1 samples are NaN or infinite"),
                          ("'single'", "has 1 file(s) in 1 recording group(s)")]:
        assert any(name in p and problem in p for p in problems), (name, problems)
    assert not list((tmp_path / "cache").rglob("*.npz"))  # nothing was embedded
    code, lines = run_cli(["run", "--task", str(broken_task), "--embedding", "mfcc"], capsys)
    assert_one_line_error(code, lines, "task broken: 4 problem(s)")
    assert sum(line.startswith("  - ") for line in lines) == 4 and len(lines) == 5


def test_extraction_keeps_the_files_finished_before_a_corrupt_one(tmp_path):
    """What :func:`run_experiment` now refuses up front, :func:`extract_embeddings` still meets on files it is
    given: the files before the bad one are cached, so a second attempt only computes the rest."""
    root = write_tone_task(tmp_path / "t", groups=2, files_per_group=2, duration=1.0)
    (root / "mid" / "rec9__0.wav").write_bytes(b"not a wav at all")
    paths = sorted(root.rglob("*.wav"))
    cache = EmbeddingCache(tmp_path / "cache")
    with pytest.raises(AudioError, match="rec9__0.wav.*cannot be decoded"):
        extract_embeddings(paths, get_extractor("mfcc"), cache=cache, batch_size=4, progress=False)
    assert len(list((tmp_path / "cache").rglob("*.npz"))) >= 4


def test_silent_and_constant_files_and_stray_files_are_one_line_warnings(tmp_path, capsys):
    root = write_tone_task(tmp_path / "quiet", groups=3, files_per_group=1, duration=1.0)
    sf.write(root / "low" / "silent.wav", np.zeros(16000, np.float32), 16000)
    sf.write(root / "mid" / "dc.wav", np.full(16000, 0.25, np.float32), 16000)
    sf.write(root / "high" / "whisper.wav", np.full(16000, 1e-6, np.float32) * np.sign(np.sin(np.arange(16000))),
             16000, subtype="FLOAT")
    (root / "high" / "notes.txt").write_text("not audio")
    assert check_audio_file(root / "low" / "silent.wav").warning == "silent (every sample is 0)"
    assert "constant (DC) signal of 0.25" in check_audio_file(root / "mid" / "dc.wav").warning
    assert "near silent (peak -120 dBFS)" in check_audio_file(root / "high" / "whisper.wav").warning
    code, lines = run_cli(["extract", "--task", str(root), "--embedding", "mfcc", "--cache", str(tmp_path / "c")],
                          capsys)
    assert code == 0
    warned = [line for line in lines if line.startswith("evalkit extract: warning:")]
    assert len(warned) == 2, lines
    assert "ignored 1 non-audio file(s)" in warned[0] and "notes.txt" in warned[0]
    assert "3 of 12 files are silent or constant (used as they are)" in warned[1]
    assert not any("UserWarning" in line or "warnings.warn" in line for line in lines)


def test_errors_are_evalkit_errors_with_their_problems_listed():
    error = ParameterError.with_problems("task X: 2 problems", ["a.wav: empty", "b.wav: NaN"])
    assert isinstance(error, EvalkitError) and error.problems == ("a.wav: empty", "b.wav: NaN")
    assert str(error).splitlines() == ["task X: 2 problems", "  - a.wav: empty", "  - b.wav: NaN"]


def test_a_valid_spec_builds_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert get_extractor("mfcc(n_mfcc=13, hop=0.25)").dim == 78
        assert get_classifier("d512(dropout=0, epochs=5)").hidden_units == 512


# ------------------------------------------------------------------------------------------------ random command lines

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis (requirements.txt) is not installed")
st = hypothesis.strategies

#: Values each option may take: valid ones, and ones every check must refuse ("bad": found before the task's files
#: are read; "late": found from the files of the small tone task, e.g. a share too small for it).
VALID = {
    "--embedding": ["mfcc", "mfcc(n_mfcc=13)", "cnn-input-t3", "musicnn", "birdnet(hop=2)"],
    "--classifier": ["svm", "d128", "svm(C=0.5)", "cnn(epochs=2)"],
    "--fusion": ["late", "early"],
    "--pooling": ["mean"],
    "--train-fraction": ["0.8", "0.5"],
    "--repetitions": ["1", "2"],
    "--seed": ["0", "7"],
    "--batch-size": ["1", "16"],
}
BAD = {
    "--embedding": ["mfcc(n_mfcc=0)", "mfcc(n_mfcc=abc)", "mfcc(hop=-1)", "mfcc(window=0)", "musicnn(hop=0)",
                    "birdnet(hop=-2)", "speech-embedding(window=0.1)", "spectrogram(kind=x)", "nope", "mfcc(",
                    "mfcc(n_mel=3)", "", "mfcc(n_mfcc=1e400)"],
    "--classifier": ["d128(hidden_units=0)", "d128(dropout=2)", "d128(epochs=0)", "cnn(epochs=0)", "svm(C=-1)",
                     "forest", "svm(scale=2)", "cnn(arch=resnet)", "d512(batch_size=0.5)"],
    "--fusion": ["middle", ""],
    "--pooling": ["median"],
    "--train-fraction": ["0", "-0.5", "0.81", "1", "nan", "inf", "abc"],
    "--repetitions": ["0", "-1", "abc", "1.5", ""],
    "--seed": ["-1", "4294967296", "x"],
    "--batch-size": ["0", "-4", "many"],
    "--group-pattern": ["speech", "([a-z", "(", "(?:rec)", "(zzz)"],
    "--task": ["D7", "/no/such/folder", "T9", ""],
}
LATE = {"--train-fraction": ["0.01", "0.05"], "--group-pattern": ["(zzz)"]}


@st.composite
def command_lines(draw, tone_task):
    """A command line for ``run`` or ``extract`` with at least one value that a check must refuse."""
    command = draw(st.sampled_from(["run", "extract"]))
    options = ["--embedding", "--group-pattern"] + (
        ["--classifier", "--fusion", "--pooling", "--train-fraction", "--repetitions", "--seed"] if command == "run"
        else ["--batch-size"])
    chosen = draw(st.lists(st.sampled_from(options), unique=True))
    bad_option = draw(st.sampled_from([o for o in options + ["--task"] if o in BAD]))
    late = bad_option in LATE and draw(st.booleans())
    argv = [command]
    if bad_option != "--task":
        argv += ["--task", draw(st.sampled_from([tone_task, "D3"])) if not late else tone_task]
    for option in sorted(set(chosen) - {bad_option, "--group-pattern"}):
        argv += [option, draw(st.sampled_from(VALID[option]))]
    argv += [bad_option, draw(st.sampled_from((LATE if late else BAD)[bad_option]))]
    if command == "extract" and "--embedding" not in argv:
        argv += ["--embedding", "mfcc"]
    junk = draw(st.lists(st.text(alphabet="-=()[]ab01 .,", max_size=8), max_size=1)) if draw(st.integers(0, 4)) == 0 \
        else []  # now and then a stray token, which argparse refuses first
    return argv + junk


def test_random_command_lines_never_give_a_traceback(tone_task_dir):
    """Random command lines with at least one bad value: exit status 2, one error line, never a traceback."""
    tone_task = str(tone_task_dir)

    @hypothesis.settings(max_examples=80, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(command_lines(tone_task))
    def check(argv):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
        lines = err.getvalue().splitlines()
        assert code == 2, (argv, lines)
        assert "Traceback" not in err.getvalue(), (argv, lines)
        errors = [line for line in lines if ": error: " in line]
        assert len(errors) == 1 and errors[0].startswith("evalkit"), (argv, lines)
        assert all(line in errors or line.startswith("  - ") or ": warning: " in line for line in lines), (argv, lines)

    check()


# ------------------------------------------------------------------------------------------------ follow-ups


@pytest.mark.parametrize("batch_size", [0, -4, 2.5, "16", None])
def test_extract_embeddings_refuses_a_batch_size_below_one_before_reading_a_file(batch_size, tmp_path):
    with pytest.raises(ParameterError) as info:
        extract_embeddings([tmp_path / "no-such-file.wav"], get_extractor("mfcc"), cache=False,
                           batch_size=batch_size, progress=False)
    assert str(info.value) == f"extract_embeddings: batch_size must be a whole number ≥ 1, not {batch_size!r}"


@pytest.mark.parametrize("spec, expected", [
    ("openl3(content=speech)", "openl3: content must be one of music, env, not 'speech'"),
    ("openl3(input_repr=mfcc)", "openl3: input_repr must be one of mel128, mel256, linear, not 'mfcc'"),
    ("openl3(embedding_size=256)", "openl3: embedding_size must be one of 512, 6144, not 256"),
    ("openl3(hop=0)", "openl3: hop must be a number > 0 s, not 0"),
    ("openl3(hop=abc)", "openl3: hop must be a number > 0 s, not 'abc'"),
    ("openl3(batch_size=0)", "openl3: batch_size must be a whole number ≥ 1, not 0"),
    ("vggish(postprocess=maybe)", "vggish: postprocess must be one of true, false, not 'maybe'"),
    ("vggish(postprocess=1)", "vggish: postprocess must be one of true, false, not 1"),
    ("vggish(handle=3)", "vggish: handle must be a TensorFlow Hub handle or a folder (text), not 3"),
    ("kumar(hop=0)", "kumar: hop must be a number > 0 s, not 0"),
    ("kumar(hop=-1)", "kumar: hop must be a number > 0 s, not -1"),
    ("kumar(hop=inf)", "kumar: hop must be a number > 0 s, not inf"),
])
def test_paper_embedding_parameters_are_checked_before_their_package_is_needed(spec, expected, monkeypatch,
                                                                             tone_task_dir, capsys):
    """The packages are made unimportable: a bad parameter must be named before the constructor asks for them."""
    import sys

    for module in ("openl3", "tensorflow_hub", "torch"):
        monkeypatch.setitem(sys.modules, module, None)  # `import module` fails
    with pytest.raises(ParameterError) as info:
        get_extractor(spec)
    assert str(info.value) == expected
    argv = [a if a != "mfcc" else spec for a in tones_run(tone_task_dir)]
    assert_one_line_error(*run_cli(argv, capsys), expected)


def test_valid_paper_embedding_parameters_reach_the_package_check(monkeypatch):
    import sys

    from evalkit import MissingPackageError

    for module in ("openl3", "tensorflow_hub", "torch"):
        monkeypatch.setitem(sys.modules, module, None)
    for spec in ("openl3(content=env, embedding_size=6144, hop=0.5)", "vggish(postprocess=false)", "kumar(hop=0.5)"):
        with pytest.raises(MissingPackageError):
            get_extractor(spec)


def test_evalkit_exports_its_warning_class():
    import evalkit

    assert evalkit.EvalkitWarning is EvalkitWarning and "EvalkitWarning" in evalkit.__all__
    with pytest.warns(evalkit.EvalkitWarning, match="^one line$"):
        from evalkit.config import warn

        warn("one\n   line")


def test_the_book_preflight_lists_every_problem_of_every_task_at_once(broken_task, tmp_path):
    """Before any work, ``evalkit book`` checks each task of the profile as a whole: the bad files of a user's folder
    and the problems of a second folder come in one list, next to a missing paper task."""
    from evalkit.book.preflight import check_profile
    from evalkit.book.profiles import validate

    other = write_tone_task(tmp_path / "other", groups=3, files_per_group=1, duration=1.0)
    (other / "low" / "rec0__0.wav").write_bytes(b"")
    profile = validate({"name": "mine", "tasks": [str(broken_task), str(other)], "repetitions": 1,
                        "embeddings": {"mfcc": "mfcc"}, "classifiers": ["svm"]}, where="(test)")
    problems = check_profile(profile)
    assert len(problems) == 5, problems
    assert all(p.startswith("task broken: ") for p in problems[:4]) and any("corrupt.wav" in p for p in problems)
    assert problems[4].startswith("task other: ") and "empty file (0 bytes)" in problems[4]
    assert check_profile(validate({"name": "fine", "tasks": ["D3"], "repetitions": 1, "embeddings": {"mfcc": "mfcc"},
                                   "classifiers": ["svm"]}, where="(test)")) == []


# ------------------------------------------------------------------------------------------------ folders and keywords


def _unusable_folder(tmp_path):
    """A path whose folder cannot be created: its parent is a file (as /proc/x is for root, who may write anywhere)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    return blocker / "data"


@pytest.mark.parametrize("command", [
    ["run", "--task", "D3", "--embedding", "mfcc"],
    ["extract", "--task", "D3", "--embedding", "mfcc"],
    ["book", "--profile", "test", "--no-html"],
])
def test_a_data_folder_that_cannot_be_created_is_one_line_before_any_work(command, tmp_path, monkeypatch, capsys):
    folder = _unusable_folder(tmp_path)
    monkeypatch.setenv("EVALKIT_DATA", str(folder))
    code, lines = run_cli(command, capsys)
    assert_one_line_error(code, lines, f"data folder ($EVALKIT_DATA) {folder} cannot be created: Not a directory",
                          command=command[0])
    assert not any(tmp_path.rglob("*.wav")), "audio was generated before the error"


@pytest.mark.parametrize("option, what", [("--cache", "embedding cache (--cache)"), ("--results", "results folder (--results)")])
def test_a_cache_or_results_folder_that_cannot_be_created_is_one_line(option, what, tone_task_dir, tmp_path, capsys):
    folder = _unusable_folder(tmp_path)
    command = "extract" if option == "--cache" else "run"
    argv = (["extract", "--task", str(tone_task_dir), "--embedding", "mfcc"] if command == "extract"
            else tones_run(tone_task_dir)) + [option, str(folder)]
    assert_one_line_error(*run_cli(argv, capsys), f"{what} {folder} cannot be created: Not a directory", command=command)


def test_a_read_only_folder_is_named_by_the_python_api_before_any_work(tone_task_dir, tmp_path):
    import os

    from evalkit import ResultStore

    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):  # root may write anywhere: a folder under a file stands in for it
            folder = _unusable_folder(tmp_path)
        with pytest.raises(ParameterError, match=f"results folder {folder} cannot be"):
            run_experiment(tone_task_dir, "mfcc", "svm", repetitions=1, cache=False, store=ResultStore(folder),
                           progress=False)
        with pytest.raises(ParameterError, match=f"embedding cache {folder} cannot be"):
            extract_embeddings(sorted(tone_task_dir.rglob("*.wav"))[:1], get_extractor("mfcc"),
                               cache=EmbeddingCache(folder), progress=False)
    finally:
        (tmp_path / "read-only").chmod(0o700)


@pytest.mark.parametrize("spec, expected", [
    ("mfcc(nmfcc=13)", "embedding 'mfcc' has no parameter 'nmfcc'; its parameters: n_mfcc, window, hop, sample_rate"),
    ("musicnn(layers=penultimate)", "embedding 'musicnn' has no parameter 'layers'; its parameters: "),
    ("birdnet(hop_s=1)", "embedding 'birdnet' has no parameter 'hop_s'; its parameters: "),
])
def test_an_unknown_extractor_keyword_names_the_valid_ones(spec, expected, tone_task_dir, capsys):
    code, lines = run_cli(["run", "--task", str(tone_task_dir), "--embedding", spec, "--repetitions", "1"], capsys)
    assert_one_line_error(code, lines, expected)
    assert "__init__" not in lines[0] and "unexpected keyword" not in lines[0]


@pytest.mark.parametrize("spec, expected", [
    ("svm(c=1)", "classifier 'svm' has no parameter 'c'; its parameters: C, max_iter, scale, random_state"),
    ("d128(units=64)", "classifier 'd128' has no parameter 'units'; its parameters: hidden_units, "),
    ("cnn(epoch=3)", "classifier 'cnn' has no parameter 'epoch'; its parameters: arch, input_shape, epochs, "),
])
def test_an_unknown_classifier_keyword_names_the_valid_ones(spec, expected, tone_task_dir, capsys):
    code, lines = run_cli(tones_run(tone_task_dir, "--classifier", spec), capsys)
    assert_one_line_error(code, lines, expected)
