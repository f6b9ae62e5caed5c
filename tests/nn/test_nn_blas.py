"""Products with the BLAS thread count chosen per shape: the same bits as ``a @ b``, the
faster count used, the slower one measured again now and then, the count restored."""

from __future__ import annotations

import numpy as np
import pytest
import threadpoolctl

from handprop.nn import blas
from handprop.nn.blas import ThreadChooser

#: The products of a training step and an evaluation: (n, d) @ (d, m) and the transposes.
SHAPES = [(100, 3072, 50), (100, 50, 10), (3072, 100, 50), (100, 3072, 256), (5000, 3072, 256)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("n", "k", "m"), SHAPES)
def test_every_thread_count_gives_the_bits_of_a_plain_product(n, k, m, dtype):
    rng = np.random.default_rng(n + k + m)
    a = rng.standard_normal((n, k)).astype(dtype)
    b = rng.standard_normal((k, m)).astype(dtype)
    found = blas.chooser()
    threads = None if found is None else found._lib.get_num_threads()
    for x, y in ((a, b), (np.ascontiguousarray(a.T).T, b)):  # also a transposed operand
        expected = (x @ y).tobytes()
        for _ in range(2 * blas.WARMUP + 2):  # both counts, then the chosen one
            assert blas.matmul(x, y).tobytes() == expected
        if found is not None:
            assert found._lib.get_num_threads() == threads


class FakeBlas:
    """A thread-count controller that records every change."""

    def __init__(self, threads: int = 2) -> None:
        self.threads, self.changes = threads, []

    def get_num_threads(self) -> int:
        return self.threads

    def set_num_threads(self, n: int) -> None:
        self.threads = n
        self.changes.append(n)


class FakeClock:
    """Each product takes ``cost[threads]`` seconds."""

    def __init__(self, lib: FakeBlas, cost: dict[int, float]) -> None:
        self.lib, self.cost, self.now, self.reads = lib, cost, 0.0, 0

    def __call__(self) -> float:
        self.reads += 1
        if self.reads % 2 == 0:  # the read after the product
            self.now += self.cost[self.lib.threads]
        return self.now


def counts_used(cost: dict[int, float], calls: int) -> list[int]:
    lib = FakeBlas()
    chooser = ThreadChooser(lib, FakeClock(lib, cost))
    used = []
    a, b = np.ones((4, 3)), np.ones((3, 5))
    for _ in range(calls):
        before = len(lib.changes)
        np.testing.assert_array_equal(chooser.matmul(a, b), a @ b)
        used.append(1 if len(lib.changes) > before else 2)
        assert lib.threads == 2  # restored
    return used


def test_the_faster_count_is_used_and_the_slower_measured_again_rarely():
    used = counts_used({1: 1.0, 2: 3.0}, 400)
    assert used[:4] == [1, 2, 1, 2]  # warm-up: both counts
    explored = used[4:].count(2)
    # the slower count costs 2 s more; 5 % of the faster one's 1 s pays for it every 40 calls
    assert explored == pytest.approx(396 / 41, abs=1)
    used = counts_used({1: 3.0, 2: 1.0}, 100)
    assert used[4:].count(1) <= 3


def test_close_counts_are_both_measured_often():
    used = counts_used({1: 1.0, 2: 1.01}, 200)
    assert used[4:].count(2) > 20


def test_one_thread_limits_and_vector_shapes_are_plain_products():
    lib = FakeBlas(threads=1)
    chooser = ThreadChooser(lib, FakeClock(lib, {1: 1.0}))
    chooser.matmul(np.ones((4, 3)), np.ones((3, 5)))
    lib2 = FakeBlas()
    chooser2 = ThreadChooser(lib2, FakeClock(lib2, {1: 1.0, 2: 1.0}))
    for a, b in ((np.ones((1, 3)), np.ones((3, 5))), (np.ones((4, 3)), np.ones((3, 1)))):
        np.testing.assert_array_equal(chooser2.matmul(a, b), a @ b)
    assert lib.changes == [] and lib2.changes == []


def test_the_count_is_restored_when_the_product_fails():
    lib = FakeBlas()
    chooser = ThreadChooser(lib, FakeClock(lib, {1: 1.0, 2: 1.0}))
    with pytest.raises(ValueError):
        chooser.matmul(np.ones((4, 3)), np.ones((2, 5)))
    assert lib.changes == [1, 2] and lib.threads == 2


class FakeController:
    def __init__(self, paths):
        self.lib_controllers = [type("Lib", (), {"filepath": p})() for p in paths]

    def select(self, internal_api):
        assert internal_api == "openblas"
        return self


@pytest.mark.parametrize(
    ("paths", "chosen"),
    [
        (["/x/scipy.libs/libopenblas.so", "/x/numpy.libs/libopenblas64_.so"], 1),
        (["/usr/lib/libopenblas.so"], 0),
        (["/x/scipy.libs/libopenblas.so", "/y/libopenblas.so"], None),
        ([], None),
    ],
)
def test_numpys_openblas_is_the_one_controlled(monkeypatch, paths, chosen):
    controller = FakeController(paths)
    monkeypatch.setattr(threadpoolctl, "ThreadpoolController", lambda: controller)
    found = blas.chooser.__wrapped__()
    if chosen is None:
        assert found is None
    else:
        assert found is not None and found._lib is controller.lib_controllers[chosen]
