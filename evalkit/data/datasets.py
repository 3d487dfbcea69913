"""The paper's six data sets T1–T6: manifests, locating a copy, downloading, checking.

Each task has a manifest ``data/manifests/T<n>.yaml`` (shipped inside the package too): its source (DOI / page, availability, licence), the
archives ``evalkit data fetch`` downloads (URL + checksum, where known), the folder layout evalkit expects (one
sub-folder per class) and the regular expression that gives every file its recording group; an optional
``groups_span_classes: true`` makes one recording filed under several class folders one group (default false: a
group belongs to its class folder, see :class:`~evalkit.data.tasks.FolderTask`).

A task's audio is looked up, in this order, in the folder linked with ``evalkit data link T1 /path`` (stored in
``data/local.yaml``, git-ignored) and in ``data/paper/T1`` (where ``evalkit data fetch`` unpacks). Offline or
without a copy, every entry point says what to download, from where, and where to put it.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import yaml

from ..config import MissingDataError, ParameterError, UnknownNameError, data_dir, resource_path
from .tasks import FolderTask

PAPER_TASK_IDS = ("T1", "T2", "T3", "T4", "T5", "T6")
CHUNK = 1 << 20


def load_manifest(task_id: str) -> dict:
    """The manifest of a paper task (``"T1"`` … ``"T6"``) as a dict, validated."""
    task_id = str(task_id).upper()
    if task_id not in PAPER_TASK_IDS:
        raise UnknownNameError("paper task", task_id, list(PAPER_TASK_IDS))
    path = resource_path(f"data/manifests/{task_id}.yaml")
    manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    missing = [k for k in ("id", "name", "classes", "source", "layout", "group_pattern", "archives") if k not in manifest]
    if missing:
        raise ParameterError(f"manifest {path}: missing key(s) {', '.join(missing)}")
    if not isinstance(manifest.get("groups_span_classes", False), bool):
        raise ParameterError(f"manifest {path}: groups_span_classes must be true or false, not "
                             f"{manifest['groups_span_classes']!r}")
    for archive in manifest["archives"]:
        if not archive.get("url") or not (archive.get("sha256") or archive.get("md5")):
            raise ParameterError(f"manifest {path}: every archive needs a url and a sha256 or md5 checksum")
    return manifest


def paper_task_names() -> dict[str, str]:
    """``{"T1": name, ...}`` from the manifests."""
    return {t: load_manifest(t)["name"] for t in PAPER_TASK_IDS}


# ------------------------------------------------------------------------------------------------
# Where a task's audio is


def _local_config_path() -> Path:
    return data_dir() / "local.yaml"


def _linked() -> dict:
    path = _local_config_path()
    if not path.exists():
        return {}
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return dict(config.get("paper_data") or {})


def default_root(task_id: str) -> Path:
    """Where ``evalkit data fetch`` unpacks a task: ``data/paper/<id>``."""
    return data_dir() / "paper" / task_id


def task_root(task_id: str) -> Path:
    """The folder holding a task's class sub-folders: the linked copy, else ``data/paper/<id>``."""
    task_id = str(task_id).upper()
    linked = _linked().get(task_id)
    return Path(linked).expanduser() if linked else default_root(task_id)


def link(task_id: str, path) -> Path:
    """Point a task at a copy the user already has (recorded in ``data/local.yaml``); checks the layout first."""
    manifest = load_manifest(task_id)
    path = Path(path).expanduser().resolve()
    _build(manifest, path)  # raises with a precise message when the folder does not fit the manifest
    config_path = _local_config_path()
    config = (yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}) if config_path.exists() else {}
    config.setdefault("paper_data", {})[manifest["id"]] = str(path)
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(yaml.safe_dump(config, sort_keys=True), encoding="utf-8")
    return path


def how_to_get(manifest: dict) -> str:
    """What to download, from where, and where to put it (one paragraph)."""
    source = manifest["source"]
    where = source.get("page") or "no public page is known"
    return (f"{manifest['id']} ({manifest['name']}): data set '{source['dataset']}', availability: "
            f"{source['availability']}; source: {where}. {source['how_to_get']} Put it so that "
            f"{default_root(manifest['id'])}/<class>/ holds the audio of each class ({', '.join(manifest['classes'])}), "
            f"or link an existing copy: evalkit data link {manifest['id']} /path/to/copy"
            + (f", or download it: evalkit data fetch {manifest['id']}" if manifest["archives"] else ""))


def _build(manifest: dict, root: Path) -> FolderTask:
    if not root.is_dir():
        raise MissingDataError(f"no data for {manifest['id']} at {root}. {how_to_get(manifest)}")
    try:
        task = FolderTask.from_folder(root, group_pattern=manifest["group_pattern"], classes=manifest["classes"],
                                      id=manifest["id"], name=manifest["name"], kind="paper",
                                      groups_span_classes=manifest.get("groups_span_classes", False))
        task.files()  # fails now, naming the class folder, if one holds no audio
    except ValueError as error:
        raise ParameterError(f"{manifest['id']}: {error}. Expected layout: {manifest['layout']}") from None
    return task


def paper_task(task_id: str, root=None, **params) -> FolderTask:
    """The paper's task ``T1`` … ``T6`` from its linked or fetched copy (``root`` overrides both).

    Raises
    ------
    FileNotFoundError
        No copy: the message says what to download, from where, and where to put it.
    ValueError
        A copy that does not fit the manifest (missing class folder, class folder without audio).
    """
    if params:
        raise ParameterError(f"paper task {task_id}: unexpected parameter(s) {', '.join(params)} (only 'root')")
    manifest = load_manifest(task_id)
    return _build(manifest, Path(root) if root is not None else task_root(manifest["id"]))


# ------------------------------------------------------------------------------------------------
# Checking


def check_task(task_id: str) -> dict:
    """What is present for a task: ``{"task", "status": present|missing|wrong, "root", "files", "groups",
    "per_class", "message"}``."""
    manifest = load_manifest(task_id)
    root = task_root(manifest["id"])
    report = {"task": manifest["id"], "root": str(root), "files": 0, "groups": 0, "per_class": {}}
    try:
        task = _build(manifest, root)
    except FileNotFoundError:
        return {**report, "status": "missing", "message": how_to_get(manifest)}
    except ValueError as error:
        return {**report, "status": "wrong", "message": str(error)}
    files = task.files()
    per_class = Counter(f.label for f in files)
    return {**report, "status": "present", "files": len(files), "groups": len({f.group for f in files}),
            "per_class": {c: per_class.get(c, 0) for c in manifest["classes"]}, "message": ""}


def check(task_ids=PAPER_TASK_IDS) -> list[dict]:
    """:func:`check_task` for several tasks."""
    return [check_task(t) for t in task_ids]


# ------------------------------------------------------------------------------------------------
# Downloading


def _open_from(url: str, offset: int):
    """A byte stream of ``url`` from ``offset`` on, and whether the source honoured the offset."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        handle = open(urllib.request.url2pathname(parsed.path), "rb")
        handle.seek(offset)
        return handle, True
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    response = urllib.request.urlopen(request, timeout=60)  # noqa: S310 - URLs come from the project's manifests
    return response, offset > 0 and getattr(response, "status", None) == 206


def download(url: str, target, *, sha256: str | None = None, md5: str | None = None, progress: bool = True) -> int:
    """Download ``url`` to ``target`` with resume and checksum verification; return the bytes transferred.

    An interrupted download leaves ``target + ".part"``, which the next call continues (HTTP Range, or a seek for
    ``file://``). The checksum is computed by ``pooch.file_hash``; a finished download whose checksum differs is
    deleted and rejected with a :class:`~evalkit.config.ParameterError` (a ValueError).

    The transfer itself is the project's own: pooch's downloaders always start over into a fresh temporary file
    (no resume of a partial download) and know no ``file://`` URLs.
    """
    import pooch
    from tqdm import tqdm

    target = Path(target)
    if not (sha256 or md5):
        raise ParameterError(f"download {url}: no checksum given; refusing to trust an unverified archive")
    algorithm, expected = ("sha256", sha256) if sha256 else ("md5", md5)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    try:
        stream, resumed = _open_from(url, offset)
    except OSError as error:
        raise MissingDataError(f"download {url}: {error} (no network? download it by hand to {target})") from None
    if not resumed:
        offset = 0
    transferred = 0
    with stream, open(part, "ab" if resumed else "wb") as out, \
            tqdm(desc=target.name, unit="B", unit_scale=True, initial=offset, disable=not progress) as bar:
        for block in iter(lambda: stream.read(CHUNK), b""):
            out.write(block)
            transferred += len(block)
            bar.update(len(block))
    actual = pooch.file_hash(str(part), alg=algorithm)
    if actual != expected.lower():
        part.unlink()
        raise ParameterError(f"download {url}: {algorithm} checksum mismatch (expected {expected}, got {actual}); "
                             "the file was deleted, run the command again to download it anew")
    os.replace(part, target)
    return transferred


def fetch(task_id: str, *, progress: bool = True) -> Path:
    """Download (resumably, verified) and unpack a task's archives into ``data/paper/<id>``; return that folder.

    The unpacked tree must fit the manifest (one folder per class) before it replaces anything. An archive
    organised by split rather than by class is rearranged as the manifest's ``class_folders`` says.
    """
    manifest = load_manifest(task_id)
    if not manifest["archives"]:
        raise MissingDataError(f"{manifest['id']} has no download this project can fetch by itself. "
                               f"{how_to_get(manifest)}")
    root = default_root(manifest["id"])
    downloads = data_dir() / "paper" / "_downloads"
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root.parent) as tmp:  # same file system: the final move is a rename
        unpacked = Path(tmp) / "unpacked"
        for archive in manifest["archives"]:
            name = archive.get("filename") or Path(urllib.parse.urlparse(archive["url"]).path).name
            path = downloads / name
            if not path.exists():
                try:
                    download(archive["url"], path, sha256=archive.get("sha256"), md5=archive.get("md5"),
                             progress=progress)
                except ValueError as error:
                    where = archive.get("checksum_source")
                    raise ParameterError(f"{manifest['id']}: {error}" + (f" (the manifest's checksum comes from {where}; "
                                         "if the data set's page lists another, download the archive by hand and use "
                                         f"`evalkit data link {manifest['id']} PATH`)" if where else "")) from None
            try:
                shutil.unpack_archive(str(path), str(unpacked))
            except (shutil.ReadError, ValueError, OSError) as error:
                raise ParameterError(f"{manifest['id']}: cannot unpack {path}: {error}") from None
        if manifest.get("class_folders"):
            source = arrange_class_folders(manifest, unpacked, Path(tmp) / "arranged")
        else:
            subfolder = manifest["archives"][0].get("subfolder", "") if len(manifest["archives"]) == 1 else ""
            source = unpacked / subfolder
        _build(manifest, source)  # the unpacked tree must fit the manifest before it replaces anything
        if root.exists():
            shutil.rmtree(root)
        shutil.move(str(source), str(root))
    return root


def arrange_class_folders(manifest: dict, unpacked: Path, target: Path) -> Path:
    """Move the class folders of an archive organised by split into ``target/<class>/<split>/``.

    ``manifest["class_folders"]`` lists paths inside the archive with a ``{class}`` placeholder, e.g.
    ``["train_cut/{class}", "test_cut/{class}"]``; each becomes a sub-folder (named by its first path part) of its
    class folder, so the files of every split count for the class. An archive whose content sits in one top-level
    folder is looked into. A path that is missing for a class is reported with what the archive does hold.
    """
    base = unpacked
    if not (base / _split_folder(manifest["class_folders"][0])).exists():
        entries = [p for p in base.iterdir() if not p.name.startswith(".")]
        if len(entries) == 1 and entries[0].is_dir():  # e.g. IDMT-ISA-ELECTRIC-ENGINE/train_cut/...
            base = entries[0]
    for label in manifest["classes"]:
        for pattern in manifest["class_folders"]:
            inner = pattern.replace("{class}", label)
            source = base / inner
            if not source.is_dir():
                found = ", ".join(sorted(p.name for p in base.iterdir())) if base.is_dir() else "nothing"
                raise ParameterError(f"{manifest['id']}: the archive has no folder {inner} "
                                     f"(its top level holds: {found}); expected layout: {manifest['layout']}")
            destination = target / label / _split_folder(pattern)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(source), str(destination))
    return target


def _split_folder(pattern: str) -> str:
    """The split a class folder pattern names (``"train_cut/{class}"`` → ``"train_cut"``; ``"{class}"`` → ``""``)."""
    first = Path(pattern).parts[0]
    return "" if "{class}" in first else first
