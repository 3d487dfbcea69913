"""Warm model workers: a model worker that outlives its command, so that the next command starts without loading it.

Loading a model costs seconds (TensorFlow's import alone about 2 s); a book build or a series of ``evalkit extract``
commands loads the same one again and again. With ``EVALKIT_KEEP_WARM=SECONDS`` in the environment (``evalkit
extract|run|book --keep-warm [SECONDS]`` sets it), a :class:`~evalkit.embed.worker.ModelWorker` does not start a
worker of its own: it connects to the *warm* worker of its model over a local (Unix) socket, starting one if none
runs. The warm worker serves every caller of that model, one call at a time (two commands that run at once take
turns call by call), and exits after ``SECONDS`` without any caller connected, so it never lingers. Callers that
load the model in their own process (``keep_warm=0``) and Dask workers (which keep their models for the cluster's
life) never use it.

There is one warm worker per *key*: the factory and its arguments, the model's version, the interpreter, the
``PYTHONPATH`` and the source of evalkit's worker modules and of the factory's module, so that a new release or an
edited model never serves old numbers. Its files live in ``$XDG_RUNTIME_DIR/evalkit-warm`` (else
``<temp>/evalkit-warm-<uid>``), a folder only its user can enter: ``<key>.sock``, ``<key>.lock`` (held while a
caller connects or starts a worker, and by a worker while it decides to exit, so a caller never connects to a
worker on its way out), ``<key>.log`` (what the model printed, quoted when it dies) and ``<key>.json`` (name, pid,
idle timeout: ``evalkit warm`` lists them).

A warm worker that died is found when a caller connects (its socket refuses): the caller warns in one line and
starts a new one. One that dies during a call raises :class:`~evalkit.config.WorkerError` naming it and quoting its
log; the next call starts a new one.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from importlib.util import find_spec
from pathlib import Path

from ..config import ParameterError, WorkerError, warn
from .protocol import STDERR_QUOTED, _failure, _receive, _send, _worker_environment, answer_calls, load_handler

#: The environment variable that turns warm workers on: the idle timeout in seconds (0 or unset: off).
ENV = "EVALKIT_KEEP_WARM"
#: Seconds a caller waits for a new warm worker to listen on its socket.
START_TIMEOUT = 60.0
PROTOCOL = 1


def keep_warm_seconds(keep_warm: float | None = None, *, name: str = "keep_warm") -> float:
    """The idle timeout of a warm worker in seconds, 0 for none: ``keep_warm`` if given, else ``$EVALKIT_KEEP_WARM``;
    ``name``: what the caller calls ``keep_warm`` (e.g. ``--keep-warm``), for the error.

    Raises
    ------
    ParameterError
        The value is not a number of seconds ≥ 0.
    """
    source, value = (name, keep_warm) if keep_warm is not None else (ENV, os.environ.get(ENV, "").strip() or 0)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float("nan")
    if not seconds >= 0 or seconds == float("inf"):
        raise ParameterError(f"{source} must be a number of seconds ≥ 0 (the idle timeout of warm model workers; "
                             f"0: none), not {value!r}")
    if seconds and (sys.platform == "win32" or not hasattr(socket, "AF_UNIX")):
        raise ParameterError(f"{source}: warm model workers need Unix sockets and file locks (Linux, macOS), which "
                             f"{sys.platform} lacks; leave {source} out")
    return seconds


def warm_folder() -> Path:
    """The folder of the warm workers' sockets and logs, made if needed, accessible to this user only."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    folder = Path(runtime) / "evalkit-warm" if runtime else Path(tempfile.gettempdir()) / f"evalkit-warm-{os.getuid()}"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise WorkerError(f"warm model workers: {folder} must belong to this user and be private (mode 700), "
                          f"not uid {info.st_uid} mode {oct(info.st_mode & 0o777)}; remove it or unset {ENV}")
    return folder


def _source_digest(*modules: str) -> str:
    digest = hashlib.sha256()
    for module in modules:
        spec = find_spec(module)
        origin = spec.origin if spec is not None else None
        digest.update(Path(origin).read_bytes() if origin and os.path.isfile(origin) else module.encode())
    return digest.hexdigest()


def warm_key(factory: str, kwargs: dict, version: str, python: str | None = None) -> str:
    """16 hex digits naming the warm worker of ``factory(**kwargs)`` at ``version`` (see the module's text)."""
    module = factory.partition(":")[0]
    parts = [factory, pickle.dumps(sorted(kwargs.items()), protocol=5).hex(), version, python or sys.executable,
             os.environ.get("PYTHONPATH", ""), _source_digest(__name__, "evalkit.embed.protocol", module)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path, blocking: bool = True):
    """Hold the lock file ``path`` (yields False at once if ``blocking`` is False and another process holds it)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            import fcntl  # here: Unix only, and only warm workers lock (keep_warm_seconds refuses other systems)

            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # also releases the lock


def _connect(path: Path) -> socket.socket | None:
    """A connection to the socket at ``path``, or None when nothing listens there."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        return None
    return sock


def _log_tail(path: Path) -> str:
    try:
        lines = [line.strip()[:300] for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    return ("its last log lines: " + " | ".join(lines[-STDERR_QUOTED:])) if lines else "its log is empty"


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WarmChannel:
    """A caller's connection to the warm worker of a model, which it starts if none runs (see the module's text)."""

    def __init__(self, factory: str, kwargs: dict, *, name: str, version: str, idle: float, python: str | None = None):
        self.factory, self.name, self.python = factory, name, python or sys.executable
        self.key = warm_key(factory, kwargs, version, python)
        folder = warm_folder()
        self.path, self.log = folder / f"{self.key}.sock", folder / f"{self.key}.log"
        self.pid = None
        with _locked(folder / f"{self.key}.lock"):
            sock = _connect(self.path)
            if sock is None:
                if self.path.exists():  # a worker that exits when idle removes its socket: this one died
                    warn(f"the warm model worker {name} ({self.path}) is gone, {_log_tail(self.log)}; "
                         "starting a new one")
                    self.path.unlink(missing_ok=True)
                sock = self._start(kwargs, idle)
        self._sock = sock
        self._stream = sock.makefile("rwb")
        self.greeting = {"protocol": PROTOCOL, "key": self.key}

    def _start(self, kwargs: dict, idle: float) -> socket.socket:
        """Start a warm worker (it listens, then detaches, then loads its model) and connect to it."""
        with open(self.log, "wb") as log:
            starter = subprocess.Popen([self.python, "-m", __name__, self.factory, str(self.path), str(idle),
                                        self.key, self.name], stdin=subprocess.PIPE, stdout=log, stderr=log,
                                       env=_worker_environment(), start_new_session=True)  # no Ctrl-C of ours
        try:
            _send(starter.stdin, kwargs)
            starter.stdin.close()
            code = starter.wait(timeout=START_TIMEOUT)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            starter.kill()
            code = starter.wait()
        sock = _connect(self.path) if code == 0 else None
        if sock is None:
            raise WorkerError(f"warm model worker {self.name} ({self.path}) could not start (exit code {code}); "
                              f"{_log_tail(self.log)}")
        return sock

    def send(self, message) -> None:
        _send(self._stream, message)

    def receive(self):
        return _receive(self._stream)

    def ready(self, info) -> None:
        self.pid = info["pid"]

    def gone(self) -> bool:
        return self.pid is not None and not _alive(self.pid)

    def close(self, timeout: float) -> None:
        """Close this caller's connection (the warm worker lives on for the next one)."""
        for closing in (self._stream, self._sock):
            with contextlib.suppress(OSError):
                closing.close()

    def death(self, name: str, doing: str) -> str:
        self.close(0)
        deadline = time.monotonic() + 2.0  # a worker that just died may not be reaped yet
        while _alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        what = "closed the connection" if _alive(self.pid) else "is gone (it exited or was killed)"
        return (f"warm model worker {name} (pid {self.pid}, {self.path}) {what} while {doing}; "
                f"{_log_tail(self.log)}")


# -- the warm worker -----------------------------------------------------------------------------------------------


class _Server:
    """The warm worker's state: its model, the callers connected, and when the last one left."""

    def __init__(self, listener: socket.socket, path: Path, key: str, idle: float):
        self.listener, self.path, self.key, self.idle = listener, path, key, idle
        self.handler, self.failure = None, None
        self.callers, self.last = 0, time.monotonic()
        self.state = threading.Lock()
        self.calls = threading.Lock()  # one call at a time: the model uses every core
        self.inode = path.stat().st_ino

    def serve(self, connection: socket.socket) -> None:
        """Answer one caller: the greeting, then its calls until it disconnects."""
        with connection, connection.makefile("rwb") as stream:
            try:
                hello = _receive(stream)
                if hello is None:  # the caller left before its greeting
                    return
                if self.failure is not None:
                    _send(stream, self.failure)
                elif not isinstance(hello, dict) or hello.get("key") != self.key:
                    _send(stream, _failure(WorkerError(f"warm model worker {self.path}: a caller of another model "
                                                       f"or evalkit version connected ({hello!r})")))
                else:
                    _send(stream, ("ready", {"pid": os.getpid()}))
                    answer_calls(self.handler, stream, stream, lock=self.calls)
            except OSError:
                pass  # the caller is gone
            finally:
                with self.state:
                    self.callers -= 1
                    self.last = time.monotonic()

    def accept_until_idle(self) -> None:
        """Serve callers, each in a thread, until no caller has been connected for ``idle`` seconds."""
        self.listener.settimeout(min(1.0, max(0.05, self.idle / 4)))
        while True:
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                if self._may_exit():
                    return
                continue
            connection.settimeout(None)
            with self.state:
                self.callers += 1
            threading.Thread(target=self.serve, args=(connection,), daemon=True).start()

    def _may_exit(self) -> bool:
        """Whether the worker is idle; if so its socket is removed, under the callers' lock, so that no caller
        connects to it on its way out."""
        with self.state:
            if self.callers or time.monotonic() - self.last < self.idle:
                return False
        with _locked(self.path.with_suffix(".lock"), blocking=False) as held:
            if not held or select.select([self.listener], [], [], 0)[0]:
                return False  # a caller is connecting
            self.remove()
            return True

    def remove(self) -> None:
        """Remove the socket, if it is still this worker's, and stop listening."""
        with contextlib.suppress(OSError):
            if self.path.stat().st_ino == self.inode:
                self.path.unlink()
        self.listener.close()
        self.path.with_suffix(".json").unlink(missing_ok=True)


def serve(factory: str, path: str, idle: float, key: str, name: str) -> int:
    """The warm worker: listen on ``path``, detach from the caller that started it, load the model, serve callers
    until idle for ``idle`` seconds."""
    kwargs = _receive(sys.stdin.buffer)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    path = Path(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(64)
    sys.stdout.flush()
    if os.fork():  # the starter exits: the caller knows the socket listens; this process is nobody's child
        os._exit(0)
    server = _Server(listener, path, key, idle)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `evalkit warm --stop`: remove the socket first
    try:
        path.with_suffix(".json").write_text(json.dumps({"name": name, "pid": os.getpid(), "factory": factory,
                                                         "idle": idle, "started": time.time()}))
        try:
            server.handler = load_handler(factory, kwargs)
            print(f"warm model worker {name}: ready (pid {os.getpid()}, exits after {idle:g} s idle)", flush=True)
        except BaseException as error:  # noqa: BLE001 - every caller that connected before the exit is told
            server.failure = _failure(error)
            print(server.failure[-1], flush=True)
            server.idle = 0.0
        server.accept_until_idle()
    finally:
        server.remove()
    return 0


def running_warm_workers() -> list[dict]:
    """The warm workers of this user that run: name, pid, factory, idle timeout, start time, socket path."""
    folder = warm_folder()
    found = []
    for info in sorted(folder.glob("*.json")):
        with contextlib.suppress(OSError, ValueError):
            entry = json.loads(info.read_text())
            if _alive(entry.get("pid")):
                found.append({**entry, "socket": str(info.with_suffix(".sock"))})
    return found


def stop_warm_workers() -> list[dict]:
    """Ask every running warm worker of this user to exit (SIGTERM); return those asked."""
    workers = running_warm_workers()
    for entry in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(entry["pid"], signal.SIGTERM)
    return workers


if __name__ == "__main__":
    _factory, _path, _idle, _key, _name = sys.argv[1:]
    sys.exit(serve(_factory, _path, float(_idle), _key, _name))
