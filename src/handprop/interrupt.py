"""Ctrl-C ends a command with one line, wherever in Python it lands.

Two places hide an interrupt from ``except KeyboardInterrupt``:

- a weakref callback or ``__del__`` (an import's module-lock callback is one): Python
  prints "Exception ignored in ..." with a traceback and carries on. The unraisable hook
  re-delivers the interrupt to the main thread.
- class creation: a ``KeyboardInterrupt`` inside ``__set_name__`` (matplotlib's axes do
  work there while importing) comes out as a ``RuntimeError`` caused by it.

:func:`install` records every SIGINT, :func:`interrupted` tells the command line's
last handler whether an exception stands for one, and :func:`leave` ends the process.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any, NoReturn

_received = False


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    global _received
    _received = True
    raise KeyboardInterrupt


def _deliver(gate: threading.Lock) -> None:
    with gate:  # held by the hook until its last call
        pass
    _thread.interrupt_main()


def _hook(unraisable: Any) -> None:
    if issubclass(unraisable.exc_type, KeyboardInterrupt):
        # From another thread, so that it lands after this hook and the callback return;
        # not a daemon, so that an exit waits for it instead of finalising under it.
        gate = threading.Lock()
        gate.acquire()
        threading.Thread(target=_deliver, args=(gate,), name="redeliver Ctrl-C").start()
        gate.release()
    else:
        sys.__unraisablehook__(unraisable)


def install() -> None:
    """Record SIGINTs and re-deliver those swallowed by callbacks (main thread only)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_sigint)
    sys.unraisablehook = _hook


def interrupted(err: BaseException) -> bool:
    """Whether ``err`` is a Ctrl-C, was caused by one, or followed one."""
    seen: set[int] = set()
    link: BaseException | None = err
    while link is not None and id(link) not in seen:
        if isinstance(link, KeyboardInterrupt):
            return True
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return _received


def leave(code: int) -> NoReturn:
    """Exit with ``code``; after a Ctrl-C (130) without the interpreter's finalisation.

    An interrupt that cut an extension module's import short can leave state on which
    finalisation aborts ("Fatal Python error", SIGABRT). Files, locks and workers were
    cleaned up while the interrupt unwound the stack; what is left is as safe to drop as
    after a kill.
    """
    if code != 130:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(130)
