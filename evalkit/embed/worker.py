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
which the terminal sends to the caller too: a caller interrupted during a call ends its worker. The exception is
opt-in: a *warm* worker (``EVALKIT_KEEP_WARM``, :mod:`evalkit.embed.warm`) speaks the same protocol over a local
socket and outlives its callers until it has been idle for a while.
"""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import weakref

from ..config import WorkerError
from .protocol import (STDERR_KEPT, STDERR_QUOTED, _failure, _receive, _reraise, _send, _worker_environment,
                       answer_calls, load_handler)

#: Seconds a closing worker gets to exit by itself (end of stdin) before it is killed.
CLOSE_TIMEOUT = 10.0


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


class _ProcessChannel:
    """A worker process of this caller, spoken to over its stdin (requests) and a copy of its stdout (replies)."""

    def __init__(self, factory: str, kwargs: dict, python: str | None = None):
        self.factory, self.greeting = factory, kwargs  # the first message: the factory's arguments
        self.python = python or sys.executable
        self.stderr: collections.deque = collections.deque(maxlen=STDERR_KEPT)
        self.process = subprocess.Popen([self.python, "-m", __name__, factory], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_worker_environment())
        self.pid = self.process.pid
        self._reader = threading.Thread(target=_keep_lines, args=(self.process.stderr, self.stderr), daemon=True,
                                        name=f"stderr of model worker {factory}")
        self._reader.start()
        # the worker ends with this channel: at close(), when the ModelWorker is collected or the caller exits
        self._finalizer = weakref.finalize(self, _stop, self.process, os.getpid(), CLOSE_TIMEOUT)

    def send(self, message) -> None:
        _send(self.process.stdin, message)

    def receive(self):
        return _receive(self.process.stdout)

    def ready(self, info) -> None:
        """The worker's model is loaded (``info``: None for a worker of this caller)."""

    def gone(self) -> bool:
        return self.process.poll() is not None

    def close(self, timeout: float) -> None:
        if self._finalizer.detach() is not None:
            _stop(self.process, os.getpid(), timeout)

    def death(self, name: str, doing: str) -> str:
        """Reap the dead worker; what happened, in one line."""
        self.close(timeout=5.0)
        self._reader.join(timeout=1.0)  # until it has read the last lines
        lines = list(self.stderr)[-STDERR_QUOTED:]
        said = ("its last stderr lines: " + " | ".join(lines)) if lines else "it wrote nothing to stderr"
        python = "python" if self.python == sys.executable else self.python
        return (f"model worker {name} (pid {self.pid}, {python} -m {__name__} {self.factory}) "
                f"{_status(self.process.returncode)} while {doing}; {said}")


class ModelWorker:
    """A model in a worker interpreter, called like a function: ``worker(*args, **kwargs)``.

    Parameters
    ----------
    factory : str
        ``"package.module:function"``; the worker calls ``function(**kwargs)`` once, which loads the model and
        returns the handler that every call runs.
    name : str
        What the worker holds, for error messages (e.g. ``"musicnn MSD_musicnn"``).
    version : str
        The model's version (e.g. its package's), part of the key of a warm worker.
    keep_warm : float, optional
        Seconds a *warm* worker waits idle for the next caller (:mod:`evalkit.embed.warm`): the model is then
        served by a worker shared by every caller of the same model, which outlives this one. None (default): the
        environment variable ``EVALKIT_KEEP_WARM`` decides, read at each start; 0: a worker of this caller only.
    python : str, optional
        The interpreter the worker runs in (default: this one, ``sys.executable``): another venv's Python, with
        evalkit and the model's packages, runs a model that this interpreter's stack cannot
        (:mod:`evalkit.embed.legacy`). Messages are pickles of protocol 5, which Python >= 3.8 reads.
    **kwargs
        Picklable arguments of the factory.

    The worker starts on :meth:`start` or on the first call, holds one model, and runs one call at a time. An
    exception of the handler is raised again here (the worker lives on); a worker that dies raises
    :class:`~evalkit.config.WorkerError` naming it, its exit code or signal and its last stderr lines, and the next
    call starts a new one. :meth:`close` (or the end of a ``with`` block, or the caller's exit) ends it (a warm
    worker: the connection to it).
    """

    def __init__(self, factory: str, *, name: str, version: str = "", keep_warm: float | None = None,
                 python: str | None = None, **kwargs):
        self.factory, self.name, self.version, self.keep_warm, self.kwargs = factory, name, version, keep_warm, kwargs
        self.python = python
        self._channel: _ProcessChannel | None = None
        self._lock = threading.Lock()
        self._ready = False
        self._owner_pid = os.getpid()

    # -- life cycle ----------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether this caller's worker (or its connection to a warm one) exists and the worker has not exited."""
        return self._owned() and not self._channel.gone()

    @property
    def pid(self) -> int | None:
        return self._channel.pid if self._owned() else None

    @property
    def warm(self) -> bool:
        """Whether the worker in use is a warm one, shared with other callers."""
        return self._owned() and not isinstance(self._channel, _ProcessChannel)

    def _owned(self) -> bool:
        if self._channel is not None and os.getpid() != self._owner_pid:  # a forked copy: the worker is the parent's
            self._channel, self._owner_pid = None, os.getpid()
        return self._channel is not None

    def start(self) -> "ModelWorker":
        """Start the worker process if it is not running (without waiting for its model to load)."""
        with self._lock:
            if not self._owned():
                self._launch()
        return self

    def _launch(self) -> None:
        if not (self.python or sys.executable):
            raise WorkerError(f"model worker {self.name}: cannot start, this Python does not know its interpreter "
                              "(sys.executable is empty)")
        from .warm import WarmChannel, keep_warm_seconds  # not at the top: warm imports this module

        idle = keep_warm_seconds(self.keep_warm)
        self._ready = False
        if idle:
            self._channel = WarmChannel(self.factory, self.kwargs, name=self.name, version=self.version, idle=idle,
                                        python=self.python)
        else:
            self._channel = _ProcessChannel(self.factory, self.kwargs, self.python)
        self._write(self._channel.greeting, "starting")

    def close(self) -> None:
        """End the worker process and wait for it (it starts again on the next call); a warm worker lives on."""
        with self._lock:
            self._end(timeout=CLOSE_TIMEOUT)

    def _end(self, timeout: float):
        channel = self._channel if self._owned() else None
        self._channel, self._ready = None, False
        if channel is not None:
            channel.close(timeout)
        return channel

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:  # a copy in another process starts its own worker
        return {"factory": self.factory, "name": self.name, "version": self.version, "keep_warm": self.keep_warm,
                "python": self.python, "kwargs": self.kwargs}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["factory"], name=state["name"], version=state.get("version", ""),
                      keep_warm=state.get("keep_warm"), python=state.get("python"), **state["kwargs"])

    def __repr__(self) -> str:
        state = f"pid {self.pid}{' (warm)' if self.warm else ''}" if self.running else "not running"
        return f"<ModelWorker {self.name} ({self.factory}), {state}>"

    # -- calls ---------------------------------------------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        """Run the handler on ``args`` and ``kwargs`` in the worker and return its result."""
        with self._lock:
            if not self._owned():
                self._launch()
            if self._ready and self._channel.gone():
                self._died("waiting for a call")
            try:
                self._write((args, kwargs), "receiving a call" if self._ready else "starting")
                if not self._ready:
                    self._channel.ready(self._read("starting"))
                    self._ready = True
                return self._read("computing")
            except (KeyboardInterrupt, SystemExit):
                self._end(timeout=0)  # a reply is still on its way: the protocol cannot resume
                raise

    def _write(self, message, doing: str) -> None:
        try:
            self._channel.send(message)
        except (BrokenPipeError, ConnectionResetError, ValueError):  # ValueError: the pipe was closed
            self._died(doing)

    def _read(self, doing: str):
        try:
            reply = self._channel.receive()
        except (ConnectionResetError, OSError):
            reply = None
        if reply is None:
            self._died(doing)
        if reply[0] == "raise":
            if doing == "starting":  # the worker exits when its model cannot be loaded
                self._end(timeout=CLOSE_TIMEOUT)
            _reraise(reply)
        return reply[1]

    def _died(self, doing: str):
        """Forget the dead worker and raise the one-line :class:`WorkerError` that says what happened."""
        channel, self._channel, self._ready = self._channel, None, False
        raise WorkerError(channel.death(self.name, doing))


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
        handler = load_handler(factory, kwargs)
    except BaseException as error:  # noqa: BLE001 - reported to the caller, which raises it
        _send(replies, _failure(error))
        return 1
    _send(replies, ("ready", None))
    answer_calls(handler, requests, replies)
    return 0


if __name__ == "__main__":
    sys.exit(main())
