"""The messages between a caller and a model worker (:mod:`evalkit.embed.worker`, :mod:`evalkit.embed.warm`): every
message is an 8-byte little-endian length and a pickle (protocol 5); a failure travels as a tuple that the caller
re-raises as the original exception type (or :class:`~evalkit.config.WorkerError`) with the remote traceback. Also
what both kinds of worker share: the environment a worker starts in, loading its handler, answering calls."""
from __future__ import annotations

import contextlib
import importlib
import io
import os
import pickle
import site
import struct
import sys
import traceback
from pathlib import Path


_HEADER = struct.Struct("<Q")
#: Lines of a worker's stderr kept for error messages, and how many of them a message quotes.
STDERR_KEPT, STDERR_QUOTED = 50, 4

class RemoteTraceback(Exception):
    """The traceback of an exception raised inside a worker (attached as ``__cause__`` of the re-raised one)."""

    def __str__(self) -> str:
        return "\n" + self.args[0]


def _send(stream, message) -> None:
    payload = pickle.dumps(message, protocol=5)
    stream.write(_HEADER.pack(len(payload)))
    stream.write(payload)
    stream.flush()


class _Unpickler(pickle.Unpickler):
    """Reads the pickles of a worker in another interpreter whose numpy is of another major version (the paper
    interpreter's numpy 1.26 beside numpy 2): numpy 2 pickles its arrays with functions of ``numpy._core.*``, numpy 1
    with ``numpy.core.*``; each name is read as this numpy's (the same functions)."""

    def find_class(self, module: str, name: str):
        if module.startswith(("numpy.core", "numpy._core")):
            import numpy

            private = int(numpy.__version__.split(".")[0]) >= 2
            module = ("numpy._core" if private else "numpy.core") + module.partition("core")[2]
        return super().find_class(module, name)


def _receive(stream):
    """The next message, or None at the end of the stream (the other side is gone)."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    payload = stream.read(size)
    return _Unpickler(io.BytesIO(payload)).load() if len(payload) == size else None


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


def load_handler(factory: str, kwargs: dict):
    """``function(**kwargs)`` of ``"package.module:function"``: the handler that answers the calls."""
    module, _, function = factory.partition(":")
    return getattr(importlib.import_module(module), function)(**kwargs)


def answer_calls(handler, requests, replies, lock=None) -> None:
    """Answer the calls of ``requests`` on ``replies`` until the requests end or the caller is gone; ``lock``: held
    during each call (a warm worker serves several callers, one call at a time)."""
    while (request := _receive(requests)) is not None:
        args, call_kwargs = request
        try:
            with lock or contextlib.nullcontext():
                reply = ("ok", handler(*args, **call_kwargs))
        except Exception as error:  # noqa: BLE001 - reported to the caller, which raises it
            reply = _failure(error)
        try:
            _send(replies, reply)
        except (BrokenPipeError, ConnectionResetError):  # the caller is gone
            return
        except Exception as error:  # noqa: BLE001 - e.g. a result that cannot be pickled
            _send(replies, _failure(error))
