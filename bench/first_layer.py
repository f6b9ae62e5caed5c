"""The first layer's forward product, ``x (100, 3072) @ W (3072, m)`` in float32, by every
route NumPy and SciPy offer, measured side by side: ``python -m bench.first_layer``.

Rounds interleave the routes (each round times every route once, starting one route further
on), so a load that comes and goes on a shared machine reaches them all alike. NumPy's and
SciPy's routes call two BLAS libraries, each with its own threads, which keep spinning a while
after a call: the two groups are timed apart. The table gives the median over the
rounds, the rate, whether every round gave the route the same bits, and whether they are
the bits of ``x @ W`` (C-ordered W) at the same thread count. SciPy comes with the
``optuna`` extra; without it its routes are left out.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

N, D = 100, 3072
WIDTHS = (256, 1024, 2048, 4096)

Route = Callable[[], np.ndarray]


def routes(x: np.ndarray, W: np.ndarray) -> list[dict[str, Route]]:
    """Every way to compute ``x @ W``, by name, NumPy's then SciPy's; each returns the
    (100, m) product."""
    WF = np.asfortranarray(W)
    out = np.empty((x.shape[0], W.shape[1]), np.float32)
    numpy_routes: dict[str, Route] = {
        "x @ W": lambda: x @ W,
        "matmul(x, W, out=)": lambda: np.matmul(x, W, out=out),
        "dot(x, W, out=)": lambda: np.dot(x, W, out=out),
        "x @ W_F": lambda: x @ WF,
        "matmul(x, W_F, out=)": lambda: np.matmul(x, WF, out=out),
    }
    try:
        from scipy.linalg.blas import sgemm
    except ImportError:
        return [numpy_routes]
    # sgemm takes Fortran-ordered operands; the transposes of C arrays are, so none is copied
    scipy_routes: dict[str, Route] = {
        "sgemm(W^T, x^T)^T": lambda: sgemm(1.0, W.T, x.T).T,
        "sgemm(x^T, W^T, trans_a, trans_b)": lambda: sgemm(1.0, x.T, W.T, trans_a=1, trans_b=1),
        "sgemm(x^T, W_F, trans_a)": lambda: sgemm(1.0, x.T, WF, trans_a=1),
    }
    return [numpy_routes, scipy_routes]


def operands(m: int) -> tuple[np.ndarray, np.ndarray]:
    """A batch x (100, 3072) and a He-scaled W (3072, m), float32, C-ordered."""
    rng = np.random.default_rng(m)
    x = rng.standard_normal((N, D), dtype=np.float32)
    return x, (rng.standard_normal((D, m)) * np.sqrt(2 / D)).astype(np.float32)


def measure(m: int, threads: int, rounds: int) -> list[tuple[str, float, bool, bool]]:
    """``(route, median seconds, repeatable bits, bits of x @ W)`` per route at width ``m``."""
    x, W = operands(m)
    with threadpool_limits(threads, user_api="blas"):
        groups = routes(x, W)
        found = {name: route for group in groups for name, route in group.items()}
        reference = x @ W
        first = {name: route().copy() for name, route in found.items()}
        repeatable = dict.fromkeys(found, True)
        times: dict[str, list[float]] = {name: [] for name in found}
        for group in groups:
            names = list(group)
            for r in range(rounds):
                for name in names[r % len(names) :] + names[: r % len(names)]:
                    start = time.perf_counter()
                    out = group[name]()
                    times[name].append(time.perf_counter() - start)
                    repeatable[name] &= np.array_equal(out, first[name])
    return [
        (
            name,
            statistics.median(times[name]),
            repeatable[name],
            np.array_equal(first[name], reference),
        )
        for name in found
    ]


def same_across_threads(m: int, threads: list[int]) -> bool:
    """Whether ``x @ W`` has the same bits at every thread count of ``threads``."""
    x, W = operands(m)
    products = []
    for count in threads:
        with threadpool_limits(count, user_api="blas"):
            products.append(x @ W)
    return all(np.array_equal(p, products[0]) for p in products)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=60, help="timings per route (60)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="BLAS threads")
    args = parser.parse_args()
    print(f"| m | threads | route | ms | GFLOP/s | repeatable | bits of x @ W |\n|{'---|' * 7}")
    for m in WIDTHS:
        for threads in args.threads:
            for name, seconds, repeatable, same in measure(m, threads, args.rounds):
                rate = 2 * N * D * m / seconds / 1e9
                print(
                    f"| {m} | {threads} | `{name}` | {1e3 * seconds:.3f} | {rate:.1f} | "
                    f"{'yes' if repeatable else 'no'} | {'same' if same else 'differ'} |"
                )
    for m in WIDTHS:
        agree = "the same" if same_across_threads(m, args.threads) else "different"
        print(f"m={m}: x @ W has {agree} bits at {args.threads} threads")


if __name__ == "__main__":
    main()
