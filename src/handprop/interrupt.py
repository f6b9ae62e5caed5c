"""Ctrl-C that lands inside a weakref callback or ``__del__`` is re-delivered, not lost.

Python reports an exception raised in such a callback as "Exception ignored in ..." with
a traceback and carries on; an import's module-lock callback is one. The command line
installs :func:`redeliver_interrupts` so the interrupt reaches the main thread again and
ends the command with its one-line "interrupted" message.
"""

from __future__ import annotations

import _thread
import sys
from typing import Any


def _hook(unraisable: Any) -> None:
    if issubclass(unraisable.exc_type, KeyboardInterrupt):
        # From another thread, so that it lands after this hook and the callback return.
        _thread.start_new_thread(_thread.interrupt_main, ())
    else:
        sys.__unraisablehook__(unraisable)


def redeliver_interrupts() -> None:
    """Install the unraisable hook that turns a swallowed Ctrl-C into a pending one."""
    sys.unraisablehook = _hook
