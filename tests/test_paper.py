"""The paper's tasks T1–T6: manifests, label and group rules on file trees made here, linking, checking, and
verified, resumable downloads of local ``file://`` archives."""
from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import write_tone_task
from evalkit import cli
from evalkit.data import datasets
from evalkit.config import REPO_ROOT
from evalkit.data.synth import DEMO_CLASSES

#: The demo tasks D1–D6 carry the classes of the published tables (data/reference/README.md); the paper's
#: manifests must name the same ones.
REFERENCE_CLASSES = {f"T{task_id[1:]}": classes for task_id, classes in DEMO_CLASSES.items()}


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    """An empty data folder: no linked or fetched copies."""
    monkeypatch.setenv("EVALKIT_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


def make_copy(root: Path, task_id: str, files_per_group=2, groups=2) -> Path:
    """A tree in the manifest's layout with tones as audio: <root>/<class>/<recording>_<k>.wav."""
    classes = datasets.load_manifest(task_id)["classes"]
    write_tone_task(root, classes=classes, groups=groups, files_per_group=files_per_group, duration=0.5)
    for wav in root.rglob("*.wav"):  # the tone writer names files rec<g>__<k>; use the paper-style <rec>_<k>
        wav.rename(wav.with_name(wav.name.replace("__", "_")))
    return root


@pytest.mark.parametrize("task_id", datasets.PAPER_TASK_IDS)
def test_manifests_parse_and_name_the_published_classes(task_id):
    manifest = datasets.load_manifest(task_id)
    assert manifest["id"] == task_id
    assert manifest["classes"] == REFERENCE_CLASSES[task_id]
    assert manifest["source"]["availability"] and manifest["source"]["how_to_get"]
    re.compile(manifest["group_pattern"])
    assert task_id in (REPO_ROOT / "data" / "reference" / "paper_tables.csv").read_text().splitlines()[0]


@pytest.mark.parametrize("task_id,stem,group", [
    ("T1", "if_0112", "if_0112"), ("T1", "if_0112_3", "if_0112"), ("T1", "0020_ninst04", "0020"), ("T1", "rec07_3", "rec07"),
    ("T3", "01245_SP", "01245"), ("T3", "01245_SP_2", "01245"), ("T3", "rec07_3", "rec07"),
    ("T4", "pure_12", "pure"), ("T4", "talking_1_3", "talking_1"), ("T4", "atmo_low_5", "atmo_low"),
    ("T4", "stresstest_7", "stresstest"), ("T5", "rec07_3", "rec07"), ("T6", "rec07_3", "rec07"),
])
def test_group_rules_give_the_groups_their_manifests_document(task_id, stem, group):
    manifest = datasets.load_manifest(task_id)
    assert re.search(manifest["group_pattern"], stem).group(1) == group
    assert f"{stem}.wav -> {group}" in " ".join(manifest["group_rule"].split())  # the example is documented


def test_label_and_group_rules_on_a_tree_in_the_manifest_layout(tmp_path, data_home):
    root = make_copy(tmp_path / "T4copy", "T4", files_per_group=3, groups=2)
    task = datasets.paper_task("T4", root=root)
    files = task.files()
    assert task.id == "T4" and task.classes == REFERENCE_CLASSES["T4"]
    assert len(files) == 3 * 2 * 3
    for f in files:
        assert f.path.parent.name == f.label  # the label is the class folder
        assert f.group == f"{f.label}/{f.path.stem.rsplit('_', 1)[0]}"  # rec0_2 -> recording rec0
    assert len({f.group for f in files}) == 3 * 2


def test_a_missing_copy_says_what_to_download_from_where_and_where_to_put_it(data_home):
    with pytest.raises(FileNotFoundError) as error:
        datasets.paper_task("T1")
    message = str(error.value)
    assert "https://doi.org/10.5281/zenodo.3965447" in message
    assert str(data_home / "paper" / "T1") in message and "evalkit data link T1" in message
    with pytest.raises(FileNotFoundError, match="on request"):
        datasets.fetch("T5")  # not downloadable: says so and whom to ask


def test_a_copy_missing_a_class_is_reported_as_wrong(tmp_path, data_home):
    root = make_copy(tmp_path / "T5copy", "T5")
    shutil.rmtree(root / "K2")
    with pytest.raises(ValueError, match="K2"):
        datasets.link("T5", root)
    report = datasets.check_task("T5")
    assert report["status"] == "missing"  # nothing was linked


def test_link_then_check_through_the_command_line(tmp_path, data_home, capsys):
    root = make_copy(tmp_path / "my T3", "T3")
    assert cli.main(["data", "link", "t3", str(root)]) == 0
    assert yaml.safe_load((data_home / "local.yaml").read_text())["paper_data"]["T3"] == str(root.resolve())
    capsys.readouterr()
    assert cli.main(["data", "check"]) == 0
    out = capsys.readouterr().out
    assert "T3: present" in out and "16 files in 8 recording groups (SP 4, CH 4, SS 4, IN 4)" in out
    assert "T1: missing" in out and "zenodo.3965447" in out
    from evalkit import get_task
    assert [f.label for f in get_task("T3").files()].count("CH") == 4  # the registry resolves the linked copy
    (root / "CH").rename(root / "choir")
    assert cli.main(["data", "check", "T3"]) == 0
    assert "T3: wrong" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------
# Downloads


@pytest.fixture
def archive(tmp_path):
    """A zip of a T6-layout tree and its sha256."""
    tree = make_copy(tmp_path / "src" / "pucks", "T6")
    path = Path(shutil.make_archive(str(tmp_path / "pucks"), "zip", root_dir=tree.parent, base_dir="pucks"))
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_download_with_a_wrong_checksum_is_rejected_and_deleted(archive, tmp_path):
    path, _ = archive
    target = tmp_path / "dl" / "pucks.zip"
    with pytest.raises(ValueError, match="checksum mismatch"):
        datasets.download(path.as_uri(), target, sha256="0" * 64, progress=False)
    assert not target.exists() and not target.with_name("pucks.zip.part").exists()


def test_a_partial_download_resumes_where_it_stopped(archive, tmp_path):
    path, digest = archive
    data = path.read_bytes()
    target = tmp_path / "dl" / "pucks.zip"
    target.parent.mkdir()
    half = len(data) // 2
    target.with_name("pucks.zip.part").write_bytes(data[:half])  # an interrupted earlier download
    transferred = datasets.download(path.as_uri(), target, sha256=digest, progress=False)
    assert transferred == len(data) - half
    assert target.read_bytes() == data


def test_a_corrupt_partial_download_fails_the_checksum_and_the_next_attempt_starts_over(archive, tmp_path):
    path, digest = archive
    data = path.read_bytes()
    target = tmp_path / "dl" / "pucks.zip"
    target.parent.mkdir()
    part = target.with_name("pucks.zip.part")
    part.write_bytes(b"\0" * (len(data) // 3))  # not the start of the archive
    with pytest.raises(ValueError, match="sha256 checksum mismatch"):
        datasets.download(path.as_uri(), target, sha256=digest, progress=False)
    assert not part.exists() and not target.exists()
    assert datasets.download(path.as_uri(), target, md5=hashlib.md5(data).hexdigest(), progress=False) == len(data)
    assert target.read_bytes() == data


def test_fetch_downloads_verifies_and_unpacks_into_the_data_folder(archive, data_home, monkeypatch):
    path, digest = archive
    manifest = datasets.load_manifest("T6")
    manifest["archives"] = [{"url": path.as_uri(), "sha256": digest, "subfolder": "pucks"}]
    monkeypatch.setattr(datasets, "load_manifest", lambda task_id: manifest)
    root = datasets.fetch("T6", progress=False)
    assert root == data_home / "paper" / "T6"
    assert datasets.check_task("T6")["status"] == "present"
    assert sorted(p.name for p in root.iterdir()) == sorted(REFERENCE_CLASSES["T6"])


def engine_archive(tmp_path, splits=("train_cut", "test_cut")) -> tuple[Path, str]:
    """A zip laid out as IDMT-ISA-ELECTRIC-ENGINE.zip: IDMT-ISA-ELECTRIC-ENGINE/<split>/<class>/<recording>_<k>.wav."""
    top = tmp_path / "zip" / "IDMT-ISA-ELECTRIC-ENGINE"
    for split, recordings in zip(splits, (("pure",), ("talking_1", "atmo_low"))):
        tones = make_copy(tmp_path / "tones" / split, "T4", files_per_group=2, groups=len(recordings))
        for wav in tones.rglob("rec*_*.wav"):
            g, k = wav.stem[len("rec"):].split("_")
            target = top / split / wav.parent.name / f"{recordings[int(g)]}_{k}.wav"
            target.parent.mkdir(parents=True, exist_ok=True)
            wav.rename(target)
    path = Path(shutil.make_archive(str(tmp_path / "engine"), "zip", root_dir=top.parent, base_dir=top.name))
    return path, hashlib.md5(path.read_bytes()).hexdigest()


def test_fetch_rearranges_an_archive_organised_by_split_into_class_folders(tmp_path, data_home, monkeypatch):
    path, md5 = engine_archive(tmp_path)
    manifest = datasets.load_manifest("T4")
    assert manifest["class_folders"] == ["train_cut/{class}", "test_cut/{class}"]  # the released zip's layout
    manifest["archives"] = [{**manifest["archives"][0], "url": path.as_uri(), "md5": md5}]
    monkeypatch.setattr(datasets, "load_manifest", lambda task_id: manifest)
    root = datasets.fetch("T4", progress=False)
    files = datasets.paper_task("T4").files()
    assert sorted(p.name for p in root.iterdir()) == REFERENCE_CLASSES["T4"]
    assert {f.path.relative_to(root).parts[:2] for f in files} == {
        (c, s) for c in REFERENCE_CLASSES["T4"] for s in ("train_cut", "test_cut")}
    # every long recording is one group: clips of it never fall on both sides of a split
    assert {f.group.split("/")[1] for f in files} == {"pure", "talking_1", "atmo_low"}
    assert len(files) == 3 * 3 * 2


def test_fetch_of_an_archive_without_a_split_names_the_missing_folder(tmp_path, data_home, monkeypatch):
    path, md5 = engine_archive(tmp_path, splits=("train_cut",))
    manifest = datasets.load_manifest("T4")
    manifest["archives"] = [{**manifest["archives"][0], "url": path.as_uri(), "md5": md5}]
    monkeypatch.setattr(datasets, "load_manifest", lambda task_id: manifest)
    with pytest.raises(ValueError, match=r"no folder test_cut/engine1_good \(its top level holds: train_cut\)"):
        datasets.fetch("T4", progress=False)
    assert not (data_home / "paper" / "T4").exists()  # nothing half-unpacked is left as the task's data


def test_a_checksum_mismatch_says_where_the_manifest_checksum_came_from(tmp_path, data_home, monkeypatch):
    path, _ = engine_archive(tmp_path)
    manifest = datasets.load_manifest("T4")
    manifest["archives"] = [{**manifest["archives"][0], "url": path.as_uri()}]  # the manifest's md5: another file
    monkeypatch.setattr(datasets, "load_manifest", lambda task_id: manifest)
    with pytest.raises(ValueError, match="md5 checksum mismatch") as error:
        datasets.fetch("T4", progress=False)
    assert "third-party download code" in str(error.value) and "evalkit data link T4" in str(error.value)


# ------------------------------------------------------------------------------------------------
# The paper profile: everything missing in one message, and the work ahead


def test_book_on_the_paper_profile_lists_everything_missing_before_any_work(data_home, capsys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "openl3", None)
    monkeypatch.setitem(__import__("sys").modules, "tensorflow_hub", None)
    monkeypatch.setitem(__import__("sys").modules, "torch", None)
    assert cli.main(["book", "--profile", "paper", "--no-html", "--output", str(data_home / "book")]) == 2
    err = capsys.readouterr().err
    for task_id in datasets.PAPER_TASK_IDS:
        assert f"data {task_id} (missing)" in err
    for package in ("openl3", "tensorflow_hub", "torch"):
        assert f"'{package}', which is not installed" in err
    assert "running" not in err and not list((data_home / "book").rglob("*.ipynb"))  # no notebook ran


SMALL_PROFILE = {
    "name": "small", "repetitions": 3, "seed": 0,
    "embeddings": {"mfcc": "mfcc"}, "classifiers": ["svm", "d128"],
    "baseline": {"default": {"embedding": "spectrogram(kind=linear)", "classifier": "cnn(epochs=2)"}},
    "baseline_repetitions": 1,
    "tables": {"I": {"embeddings": ["mfcc"], "train_fraction": 0.8, "fusion": "late", "baseline": True},
               "III": {"embeddings": ["mfcc"], "train_fraction": 0.8, "fusion": ["late", "early"]}},
}


def test_estimate_counts_files_audio_extractions_and_fits(tmp_path, data_home):
    from evalkit.book.plan import plan
    from evalkit.book.preflight import describe_estimate, estimate
    from evalkit.book.profiles import validate

    for task_id in ("T3", "T4"):
        datasets.link(task_id, make_copy(tmp_path / task_id, task_id, files_per_group=2, groups=2))
    profile = validate({**SMALL_PROFILE, "tasks": ["T3", "T4"]})
    estimate = estimate(profile, plan(profile))
    assert estimate["missing"] == []
    assert estimate["tasks"]["T3"]["files"] == 4 * 2 * 2 and estimate["tasks"]["T4"]["files"] == 3 * 2 * 2
    assert abs(estimate["tasks"]["T3"]["hours"] - 16 * 0.5 / 3600) < 1e-6  # 0.5 s tones
    assert estimate["extractions"] == 2 * 2  # mfcc + the CNN's spectrogram patches, per task
    # per task: tables I and III: svm/d128 x late/early at 80 % (3 repetitions each) and the CNN at 80 %; the
    # detailed results: the svm and the CNN at 10 % as well; the teaching example (on the second task, T4): the svm
    # and the CNN at 40 %, one repetition each
    assert estimate["fits"] == 2 * (4 * 3 + 1 + 3 + 1) + 2 and estimate["cnn_fits"] == 2 * 2 + 1
    import tensorflow as tf

    gpus = len(tf.config.list_physical_devices("GPU"))
    assert estimate["gpus"] == gpus and f"(it sees {gpus})" in describe_estimate(estimate)


def test_estimate_lists_tasks_without_data_as_missing(tmp_path, data_home):
    from evalkit.book.plan import plan
    from evalkit.book.preflight import estimate
    from evalkit.book.profiles import validate

    datasets.link("T3", make_copy(tmp_path / "T3", "T3"))
    profile = validate({**SMALL_PROFILE, "tasks": ["T3", "T5"]})
    result = estimate(profile, plan(profile))
    assert result["missing"] == ["T5"] and list(result["tasks"]) == ["T3"]


@pytest.fixture
def vggish_profile(tmp_path, data_home):
    from evalkit.book.profiles import validate

    for task_id in ("T4", "T5"):
        datasets.link(task_id, make_copy(tmp_path / task_id, task_id))
    return validate({"name": "v", "tasks": ["T4", "T5"], "repetitions": 2, "seed": 0, "classifiers": ["svm"],
                     "embeddings": {"vggish": "vggish(postprocess=true)", "vggish-raw": "vggish(postprocess=false)"},
                     "tables": {"I": {"embeddings": ["vggish", "vggish-raw"], "train_fraction": 0.8}}})


def test_vggish_chance_runs_cross_post_processing_with_feature_scaling(vggish_profile, monkeypatch):
    import pandas as pd

    from evalkit.book.plan import vggish_runs
    from evalkit.book.profile import Profile
    from evalkit.book.vggish import vggish_chance_runs

    calls = []

    def run(self, task, embedding, classifier, *, train_fraction, label, **kwargs):
        assert embedding == self.spec(label)
        calls.append((task, label, classifier, train_fraction))
        return pd.DataFrame({"task": [task], "label": [label], "classifier": [classifier], "fusion": [kwargs["fusion"]],
                             "accuracy": [50.0]})

    monkeypatch.setattr(Profile, "run", run)
    runs = vggish_chance_runs(vggish_profile)
    assert calls == [(t, label, clf, 0.8) for t in ("T4", "T5") for label in ("vggish", "vggish-raw")
                     for clf in ("svm", "svm(scale=false)")]
    assert list(runs["postprocess"]) == [True, True, False, False] * 2
    assert list(runs["scaled"]) == [True, False] * 4
    assert vggish_runs(vggish_profile, tasks=("T6",)) == []  # none of the profile's tasks


@pytest.mark.parametrize("accuracy,verdict", [
    ({(True, True): 33.3, (True, False): 34.0, (False, True): 80.0, (False, False): 78.0}, "The post-processing explains"),
    ({(True, True): 80.0, (True, False): 34.0, (False, True): 80.0, (False, False): 33.0}, "Missing feature scaling explains"),
    ({(True, True): 80.0, (True, False): 34.0, (False, True): 80.0, (False, False): 70.0}, "together explain"),
    ({(True, True): 34.0, (True, False): 34.0, (False, True): 35.0, (False, False): 33.0}, "All variants sit at chance"),
    ({(True, True): 70.0, (True, False): 75.0, (False, True): 80.0, (False, False): 78.0}, "No variant sits at chance"),
    ({(True, True): 70.0, (True, False): 75.0, (False, True): 34.0, (False, False): 78.0},
     "At chance: raw, standardised; above chance: post-processed, standardised"),
])
def test_the_book_says_whether_post_processing_or_scaling_explains_vggish_at_chance(vggish_profile, accuracy, verdict):
    import pandas as pd

    from evalkit.book.vggish import vggish_chance_html

    runs = pd.DataFrame([{"task": task, "postprocess": post, "scaled": scaled, "accuracy": value}
                         for task in ("T4", "T5") for (post, scaled), value in accuracy.items()])
    text = vggish_chance_html(vggish_profile, runs)
    assert verdict in text and "chance: 33.3 %" in text  # T4 and T5 have three classes each
    assert f"<td>{accuracy[(True, True)]:.1f}</td><td>{accuracy[(True, False)]:.1f}</td>" in text
    assert vggish_chance_html(vggish_profile, pd.DataFrame()) == ""
