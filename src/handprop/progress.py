"""Progress of long commands: tqdm bars on a terminal, periodic plain lines elsewhere.

A :class:`Progress` is the observer a driver (the training fold, a search's trial loop,
the reproduce suite) reports to: :meth:`~Progress.start` a task of ``total`` units,
:meth:`~Progress.advance` it, :meth:`~Progress.close` it. It may also carry an overall
:class:`Count` (a whole suite or search, in :data:`WORK_UNIT`: estimated work, so that a
step of a wide net weighs more than one of a narrow net) that every task advances by its
``share`` per unit. On a terminal both show as tqdm bars; when the stream is not a
terminal, a plain line (no carriage return) is printed when a task starts, every
:data:`EVERY_SECONDS` seconds or :data:`EVERY_FRACTION` of it, and when it ends.
Reporting reads the counts only: it changes nothing a driver computes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, Any

import attrs
from tqdm.auto import tqdm

EVERY_SECONDS = 30.0
EVERY_FRACTION = 0.1
#: The unit of overall counts (see :meth:`handprop.train.config.TrainConfig.step_gflop`).
WORK_UNIT = "GFLOP"
Clock = Callable[[], float]


def clock_text(seconds: float) -> str:
    """``"1:02:03"`` or ``"2:03"``: a duration in whole seconds."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@attrs.define
class Count:
    """``done`` of ``total`` units since ``began`` (clock seconds), ``first`` of them done
    before (resumed work, not counted in the rate)."""

    label: str
    total: float
    unit: str = "step"
    done: float = 0
    first: float = 0
    began: float = 0.0

    def text(self, now: float) -> str:
        """``"baseline: 1200/5880 steps (20 %), 150 steps/s, ETA 0:31"``."""
        elapsed = now - self.began
        rate = (self.done - self.first) / elapsed if elapsed > 0 else 0.0
        share = f" ({100 * self.done / self.total:.0f} %)" if self.total else ""
        left = self.total - self.done
        eta = f", ETA {clock_text(left / rate)}" if rate > 0 and left > 0 else ""
        units = self.unit if self.unit == WORK_UNIT else f"{self.unit}s"
        return (
            f"{self.label}: {self.done:.0f}/{self.total:.0f} {units}{share}, "
            f"{rate:.3g} {units}/s, elapsed {clock_text(elapsed)}{eta}"
        )


class Progress:
    """The observer of one task at a time, optionally within an ``overall`` count.

    ``stream`` (default stderr) decides the form: bars if it is a terminal, else lines.
    """

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        overall: Count | None = None,
        clock: Clock = time.monotonic,
        bars: bool | None = None,
    ):
        self.stream = stream if stream is not None else sys.stderr
        self.bars = self.stream.isatty() if bars is None else bars
        self.clock = clock
        self.overall = overall
        if overall is not None:
            overall.began = clock()
        self.task: Count | None = None
        self.share = 1.0
        self._bar: Any = None
        self._overall_bar: Any = None
        self._next_time = self._next_done = 0.0
        self._last_done = -1.0

    def start(self, label: str, total: int, *, done: int = 0, unit: str = "step",
              share: float = 1.0) -> None:  # fmt: skip
        """Begin a task of ``total`` units, ``done`` of them already done; each unit is
        ``share`` units of the overall count."""
        now = self.clock()
        self.task, self.share = Count(label, total, unit, done, done, now), share
        if self.bars:
            if self.overall is not None and self._overall_bar is None:
                o = self.overall
                self._overall_bar = tqdm(
                    total=round(o.total), initial=round(o.done), desc=o.label, unit=o.unit,
                    file=self.stream, position=0, leave=False, dynamic_ncols=True,
                )  # fmt: skip
            self._bar = tqdm(
                total=total, initial=done, desc=label, unit=unit, file=self.stream,
                position=1 if self.overall is not None else 0, leave=False, dynamic_ncols=True,
            )  # fmt: skip
        else:
            self._line(now)

    def advance(self, n: int = 1) -> None:
        """``n`` more units of the task done."""
        if self.task is None:
            return
        self.task.done += n
        if self.overall is not None:
            self.overall.done += n * self.share
        if self._bar is not None:
            self._bar.update(n)
            if self._overall_bar is not None:
                self._overall_bar.n = round(self.overall.done) if self.overall else 0
                self._overall_bar.refresh()
            return
        now = self.clock()
        if now >= self._next_time or self.task.done >= self._next_done:
            self._line(now)

    def reach(self, done: float) -> None:
        """Set the overall count to at least ``done`` (work finished before, or skipped)."""
        if self.overall is not None:
            self.overall.done = max(self.overall.done, done)
            if self._overall_bar is not None:
                self._overall_bar.n = round(self.overall.done)
                self._overall_bar.refresh()

    def postfix(self, **values: str) -> None:
        """Extra values shown beside the task's bar (the bar only)."""
        if self._bar is not None:
            self._bar.set_postfix(values, refresh=False)

    def close(self) -> None:
        """End the task (its last line when not on a terminal)."""
        if self.task is None:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.task.done != self._last_done:
            self._line(self.clock())
        self.task = None

    def finish(self) -> None:
        """End the overall count too."""
        self.close()
        if self._overall_bar is not None:
            self._overall_bar.close()
            self._overall_bar = None

    def _line(self, now: float) -> None:
        assert self.task is not None
        text = self.task.text(now)
        if self.overall is not None:
            text += f" | {self.overall.text(now)}"
        print(text, file=self.stream, flush=True)
        self._last_done = self.task.done
        self._next_time = now + EVERY_SECONDS
        step = max(1.0, EVERY_FRACTION * self.task.total)
        self._next_done = (self.task.done // step + 1) * step
