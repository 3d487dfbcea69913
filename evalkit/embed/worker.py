"""Model workers: a model in an interpreter of its own, started as ``python -m evalkit.embed.worker``.

Some models must not share a process with the caller: musicnn's TF1 graph needs eager execution switched off, which
would break Keras training in the caller. A worker made by :mod:`multiprocessing` with the ``spawn`` method re-imports
the caller's ``__main__`` module, so a script without an ``if __name__ == "__main__":`` guard ran again inside the
worker and died. A :class:`ModelWorker` instead starts ``<this python> -m evalkit.embed.worker <module:factory>``,
which imports evalkit and the model's module only, whatever the caller is: a script, ``python -c``, a notebook or an
interactive session.

Protocol, over the worker's stdin (requests) and a duplicate of its original stdout (replies); everything the model
prints goes to stderr, of which the caller keeps the last lines for error messages. Every message is an 8-byte
little-endian length and a pickle (protocol 5):

- caller → worker, once: the factory's keyword arguments (a dict); the worker calls ``factory(**kwargs)``, which
  loads the model and returns the handler, and replies ``("ready", None)`` or a failure;
- caller → worker, per call: ``(args, kwargs)``; reply ``("ok", handler(*args, **kwargs))`` or a failure
  ``("raise", pickled exception or None, "module.Type", message, traceback text)``.

The worker exits when its stdin closes: at :meth:`ModelWorker.close`, when the caller's interpreter exits or when the
caller dies (a call in progress is finished first), so no worker outlives its caller. It ignores Ctrl-C (SIGINT),
which the terminal sends to the caller too: a caller interrupted during a call ends its worker.
"""
from __future__ import annotations

import collections
import importlib
import os
import pickle
import signal
import site
import struct
import subprocess
import sys
import threading
import traceback
import weakref
from pathlib import Path

from ..config import WorkerError

_HEADER = struct.Struct("<Q")
#: Lines of a worker's stderr kept for error messages, and how many of them a message quotes.
STDERR_KEPT, STDERR_QUOTED = 50, 4
#: Seconds a closing worker gets to exit by itself (end of stdin) before it is killed.
CLOSE_TIMEOUT = 10.0


class RemoteTraceback(Exception):
    """The traceback of an exception raised inside a worker (attached as ``__cause__`` of the re-raised one)."""

    def __str__(self) -> str:
        return "\n" + self.args[0]


def _send(stream, message) -> None:
    payload = pickle.dumps(message, protocol=5)
    stream.write(_HEADER.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def _receive(stream):
    """The next message, or None at the end of the stream (the other side is gone)."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    payload = stream.read(size)
    return pickle.loads(payload) if len(payload) == size else None


def _failure(error: BaseException) -> tuple:
    """A reply that carries ``error``: the exception pickled on its own (unpickled by the caller only when the caller
    has imported its module already, so that, e.g., a TensorFlow error does not import TensorFlow there)."""
    try:
        pickled = pickle.dumps(error, protocol=5)
        pickle.loads(pickled)
    except Exception:  # noqa: BLE001 - an exception that does not survive pickling is described by text
        pickled = None
    kind = type(error)
    return ("raise", pickled, f"{kind.__module__}.{kind.__qualname__}", str(error),
            "".join(traceback.format_exception(error)))


def _reraise(reply: tuple):
    _, pickled, kind, message, remote = reply
    module = kind.rpartition(".")[0]
    error = None
    if pickled is not None and (module in sys.modules or module == "builtins"):
        try:
            error = pickle.loads(pickled)
        except Exception:  # noqa: BLE001 - fall back to the text
            error = None
    if not isinstance(error, BaseException):
        error = RuntimeError(f"{kind}: {message}")
    raise error from RemoteTraceback(remote)


def _keep_lines(stream, lines: collections.deque) -> None:
    """Read a worker's stderr to its end, keeping the last lines (a thread of the caller; also keeps the pipe from
    filling up and blocking the worker)."""
    for raw in iter(stream.readline, b""):
        text = raw.decode("utf-8", errors="replace").rstrip()
        if text:
            lines.append(text[:300])
    stream.close()


def _stop(process: subprocess.Popen, owner_pid: int, timeout: float) -> None:
    """End a worker: close its stdin (it exits at the end of its requests), kill it if it does not, and reap it.
    Does nothing in a forked copy of the caller, whose worker belongs to the parent."""
    if os.getpid() != owner_pid:
        return
    for stream in (process.stdin, process.stdout):
        try:
            stream.close()
        except OSError:
            pass
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _status(returncode: int) -> str:
    """``exited with exit code 3``, ``was ended by signal SIGKILL (...)``."""
    if returncode >= 0:
        return f"exited with exit code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = str(-returncode)
    hint = " (killed: often the system running out of memory)" if -returncode == signal.SIGKILL else ""
    return f"was ended by signal {name}{hint}"


class ModelWorker:
    """A model in a worker interpreter, called like a function: ``worker(*args, **kwargs)``.

    Parameters
    ----------
    factory : str
        ``"package.module:function"``; the worker calls ``function(**kwargs)`` once, which loads the model and
        returns the handler that every call runs.
    name : str
        What the worker holds, for error messages (e.g. ``"musicnn MSD_musicnn"``).
    **kwargs
        Picklable arguments of the factory.

    The worker starts on :meth:`start` or on the first call, holds one model, and runs one call at a time. An
    exception of the handler is raised again here (the worker lives on); a worker that dies raises
    :class:`~evalkit.config.WorkerError` naming it, its exit code or signal and its last stderr lines, and the next
    call starts a new one. :meth:`close` (or the end of a ``with`` block, or the caller's exit) ends it.
    """

    def __init__(self, factory: str, *, name: str, **kwargs):
        self.factory, self.name, self.kwargs = factory, name, kwargs
        self._process: subprocess.Popen | None = None
        self._stderr: collections.deque = collections.deque(maxlen=STDERR_KEPT)
        self._lock = threading.Lock()
        self._stderr_reader: threading.Thread | None = None
        self._ready = False
        self._finalizer = None
        self._owner_pid = os.getpid()

    # -- life cycle ----------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether a worker process of this caller exists and has not exited."""
        return self._owned() and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._owned() else None

    def _owned(self) -> bool:
        if self._process is not None and os.getpid() != self._owner_pid:  # a forked copy: the worker is the parent's
            self._process, self._finalizer, self._owner_pid = None, None, os.getpid()
        return self._process is not None

    def start(self) -> "ModelWorker":
        """Start the worker process if it is not running (without waiting for its model to load)."""
        with self._lock:
            if not self._owned():
                self._launch()
        return self

    def _launch(self) -> None:
        if not sys.executable:
            raise WorkerError(f"model worker {self.name}: cannot start, this Python does not know its interpreter "
                              "(sys.executable is empty)")
        self._stderr = collections.deque(maxlen=STDERR_KEPT)
        self._process = subprocess.Popen([sys.executable, "-m", __name__, self.factory], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_worker_environment())
        self._stderr_reader = threading.Thread(target=_keep_lines, args=(self._process.stderr, self._stderr),
                                               daemon=True, name=f"stderr of model worker {self.name}")
        self._stderr_reader.start()
        self._ready = False
        self._finalizer = weakref.finalize(self, _stop, self._process, self._owner_pid, CLOSE_TIMEOUT)
        self._write(self.kwargs, "starting")

    def close(self) -> None:
        """End the worker process and wait for it (it starts again on the next call)."""
        with self._lock:
            self._end(timeout=CLOSE_TIMEOUT)

    def _end(self, timeout: float) -> subprocess.Popen | None:
        process, finalizer = (self._process, self._finalizer) if self._owned() else (None, None)
        self._process, self._finalizer, self._ready = None, None, False
        if finalizer is not None:
            finalizer.detach()
            _stop(process, self._owner_pid, timeout)
        return process

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:  # a copy in another process starts its own worker
        return {"factory": self.factory, "name": self.name, "kwargs": self.kwargs}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["factory"], name=state["name"], **state["kwargs"])

    def __repr__(self) -> str:
        return f"<ModelWorker {self.name} ({self.factory}), {'pid %d' % self.pid if self.running else 'not running'}>"

    # -- calls ---------------------------------------------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        """Run the handler on ``args`` and ``kwargs`` in the worker and return its result."""
        with self._lock:
            if not self._owned():
                self._launch()
            if self._ready and self._process.poll() is not None:
                self._died("waiting for a call")
            try:
                self._write((args, kwargs), "receiving a call" if self._ready else "starting")
                if not self._ready:
                    self._read("starting")
                    self._ready = True
                return self._read("computing")
            except (KeyboardInterrupt, SystemExit):
                self._end(timeout=0)  # a reply is still on its way: the protocol cannot resume
                raise

    def _write(self, message, doing: str) -> None:
        try:
            _send(self._process.stdin, message)
        except (BrokenPipeError, ConnectionResetError, ValueError):  # ValueError: the pipe was closed
            self._died(doing)

    def _read(self, doing: str):
        reply = _receive(self._process.stdout)
        if reply is None:
            self._died(doing)
        if reply[0] == "raise":
            if doing == "starting":  # the worker exits when its model cannot be loaded
                self._end(timeout=CLOSE_TIMEOUT)
            _reraise(reply)
        return reply[1]

    def _died(self, doing: str):
        """Reap the dead worker and raise the one-line :class:`WorkerError` that says what happened."""
        pid, reader = self._process.pid, self._stderr_reader
        process = self._end(timeout=5.0)
        reader.join(timeout=1.0)  # until it has read the last lines
        lines = list(self._stderr)[-STDERR_QUOTED:]
        said = ("its last stderr lines: " + " | ".join(lines)) if lines else "it wrote nothing to stderr"
        raise WorkerError(f"model worker {self.name} (pid {pid}, python -m {__name__} {self.factory}) "
                          f"{_status(process.returncode)} while {doing}; {said}")


def _worker_environment() -> dict:
    """The caller's environment, with this evalkit first on the path (unless it is installed in site-packages) and
    without the working folder on the path (``PYTHONSAFEPATH``, Python ≥ 3.11), so that files of the caller's
    folder cannot shadow the modules the worker imports."""
    env = dict(os.environ, PYTHONSAFEPATH="1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    root = str(Path(__file__).resolve().parents[2])
    installed = {str(Path(p).resolve()) for p in [*site.getsitepackages(), site.getusersitepackages()]}
    if root not in installed:
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    return env


def main(argv: list[str] | None = None) -> int:
    """The worker: load the model with ``factory(**kwargs)``, then answer calls until stdin ends."""
    (factory,) = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the caller, which then ends this worker
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever the model prints (Python or C) goes to stderr, not into the replies
    requests = os.fdopen(os.dup(0), "rb")
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # and a model reading stdin cannot eat a request
    kwargs = _receive(requests)
    if kwargs is None:
        return 0
    try:
        module, _, function = factory.partition(":")
        handler = getattr(importlib.import_module(module), function)(**kwargs)
    except BaseException as error:  # noqa: BLE001 - reported to the caller, which raises it
        _send(replies, _failure(error))
        return 1
    _send(replies, ("ready", None))
    while (request := _receive(requests)) is not None:
        args, call_kwargs = request
        try:
            reply = ("ok", handler(*args, **call_kwargs))
        except Exception as error:  # noqa: BLE001 - reported to the caller, which raises it
            reply = _failure(error)
        try:
            _send(replies, reply)
        except BrokenPipeError:  # the caller is gone
            return 0
        except Exception as error:  # noqa: BLE001 - e.g. a result that cannot be pickled
            _send(replies, _failure(error))
    return 0


if __name__ == "__main__":
    sys.exit(main())
