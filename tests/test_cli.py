import subprocess
import sys

import pytest

from evalkit.cli import main


def test_run_prints_a_results_table(tone_task_dir, tmp_path, capsys):
    code = main(["run", "--task", str(tone_task_dir), "--embedding", "mfcc", "--classifier", "svm",
                 "--train-fraction", "0.8", "0.4", "--repetitions", "2", "--results", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "mean" in out and "±" in out and "0.4" in out and "0.8" in out


@pytest.mark.parametrize("argv,message", [
    (["run", "--task", "D7", "--embedding", "mfcc"], "unknown task 'D7'"),
    (["run", "--task", "TONES", "--embedding", "nope"], "unknown embedding 'nope'"),
    (["run", "--task", "TONES", "--embedding", "mfcc", "--classifier", "forest"], "unknown classifier 'forest'"),
])
def test_errors_are_one_line_with_the_valid_names(argv, message, tone_task_dir, capsys):
    argv = [str(tone_task_dir) if a == "TONES" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "valid" in err and "Traceback" not in err


def test_help_explains_each_option():
    out = subprocess.run([sys.executable, "-m", "evalkit.cli", "run", "--help"], capture_output=True, text=True).stdout
    for option in ("--task", "--embedding", "--classifier", "--fusion", "--train-fraction", "--repetitions", "--seed"):
        assert option in out
    assert "late: average frame-wise" in out


def _first_words(text):
    return {line.split()[0] for line in text.splitlines() if line.strip()}


def test_listings_name_every_task_embedding_and_classifier(capsys):
    from evalkit.data.registry import list_tasks
    from evalkit.embed.registry import EMBEDDINGS
    from evalkit.learn.registry import CLASSIFIERS

    assert main(["tasks"]) == 0
    assert set(list_tasks()) <= _first_words(capsys.readouterr().out)
    assert main(["embeddings"]) == 0
    out = capsys.readouterr().out
    assert set(EMBEDDINGS.names()) <= _first_words(out)
    for line in out.splitlines():  # an embedding that cannot be built says why and what to install
        if "unavailable" in line:
            assert "pip install" in line or "download" in line
    assert "mfcc" in out and "120 values every 0.5 s" in out
    assert main(["classifiers"]) == 0
    assert set(CLASSIFIERS.names()) <= _first_words(capsys.readouterr().out)


def test_help_and_usage_errors_return_their_status_in_process(capsys):
    assert main(["run", "--help"]) == 0 and "--group-pattern" in capsys.readouterr().out
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("evalkit run: error: the following arguments are required: --task")
