"""Matrix products whose BLAS thread count is chosen per product shape by measurement.

OpenBLAS splits a product's rows and columns between its threads, never the inner
dimension, so every thread count gives the same bits (the bit-identity hashes of
``tests/nn`` hold with 1 and 2 threads). Which count is faster depends on the shape and on
the machine's load: a small product loses to the cost of waking a second thread, and on a
machine shared with other work a second thread that is not scheduled stalls the whole
product (here up to 10x). So :func:`matmul` times each product shape with one thread and
with OpenBLAS's current count, uses the faster one, and measures the other again now and
then (:data:`EXPLORE_SHARE`). Without exactly one OpenBLAS (other libraries may round
differently per thread count), under a one-thread limit, or for vector-shaped products,
it is plain ``a @ b``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

#: Time spent measuring a shape's slower thread count again, as a share of its products'
#: time: the slower count is tried again once the faster one's calls have saved up its
#: extra cost times this share (often when they are close, rarely when far apart).
EXPLORE_SHARE = 0.05
#: Timed calls per thread count before the first choice.
WARMUP = 2
#: Weight of a new timing in a count's moving average, and the cap on a timing relative to
#: that average (one stall of a busy machine moves it only so far).
ALPHA = 0.25
SPIKE = 4.0

Key = tuple[Any, ...]


class ThreadChooser:
    """Per-shape choice between 1 thread and ``lib.get_num_threads()`` (> 1) for ``a @ b``.

    ``lib`` has ``get_num_threads()`` and ``set_num_threads(n)`` (a threadpoolctl
    controller); ``clock`` returns seconds. The count is restored after every product.
    """

    def __init__(self, lib: Any, clock: Callable[[], float] = time.perf_counter) -> None:
        self._lib = lib
        self._clock = clock
        #: per (shapes, layouts, top): [exploration budget, [average, timings] per count]
        self._stats: dict[Key, list[Any]] = {}

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        top = self._lib.get_num_threads()
        if top < 2 or a.ndim != 2 or b.ndim != 2 or a.shape[0] < 2 or b.shape[1] < 2:
            return a @ b
        key = (a.shape, b.shape, a.flags.c_contiguous, b.flags.c_contiguous, top)
        stats = self._stats.get(key)
        if stats is None:
            stats = self._stats[key] = [0.0, [0.0, 0], [0.0, 0]]
        one, many = stats[1], stats[2]
        if one[1] < WARMUP or many[1] < WARMUP:
            pick = one if one[1] <= many[1] else many
        else:
            fast, slow = (one, many) if one[0] <= many[0] else (many, one)
            stats[0] += EXPLORE_SHARE * fast[0]  # the budget for measuring the slow count
            pick = fast
            if stats[0] >= slow[0] - fast[0]:
                pick, stats[0] = slow, 0.0
        single = pick is one
        if single:
            self._lib.set_num_threads(1)
        try:
            start = self._clock()
            out = a @ b
            seconds = self._clock() - start
        finally:
            if single:
                self._lib.set_num_threads(top)
        if pick[1]:  # a moving average, each timing capped at SPIKE x the average
            seconds = (1 - ALPHA) * pick[0] + ALPHA * min(seconds, SPIKE * pick[0])
        pick[0] = seconds
        pick[1] += 1
        return out


@functools.cache
def chooser() -> ThreadChooser | None:
    """The process's chooser for NumPy's OpenBLAS: the only OpenBLAS loaded, or the one
    NumPy's wheel bundles (``numpy.libs``) beside others (SciPy's); else None."""
    from threadpoolctl import ThreadpoolController

    libs = ThreadpoolController().select(internal_api="openblas").lib_controllers
    if len(libs) > 1:
        libs = [lib for lib in libs if Path(lib.filepath).parent.name == "numpy.libs"]
    return ThreadChooser(libs[0]) if len(libs) == 1 else None


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for 2-D ``a`` (n, k) and ``b`` (k, m), with the faster BLAS thread count
    for its shape (the same bits with any count)."""
    found = chooser()
    return a @ b if found is None else found.matmul(a, b)
