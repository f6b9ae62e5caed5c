"""Each Numba kernel against its plain-NumPy reference (``handprop.kernels.reference``)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.conftest import Measure
from bench.workloads import BATCH, FLIP_PROB, MAX_SHIFT, SHIFT_PROB, synthetic_pool
from handprop.kernels import reference
from handprop.kernels.augment import draw_augmentation, gather_augment, hflip, translate
from handprop.kernels.dropout import dropout_mask
from handprop.kernels.relu import relu_backward, relu_forward

IMPLS = ("handprop", "numpy")
DTYPE = "float32"
WIDTHS = (50, 1024)


def _pick(impl: str, name: str, kernel: object) -> object:
    return kernel if impl == "handprop" else getattr(reference, name)


def _activations(width: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    a, dout = rng.standard_normal((2, BATCH, width), dtype=np.float32)
    return a, dout


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("width", WIDTHS)
def test_bench_relu_forward(measure: Measure, width: int, impl: str) -> None:
    a, _ = _activations(width)
    fn = _pick(impl, "relu_forward", relu_forward)
    measure(fn, a, case=f"relu_forward {BATCH}x{width}", impl=impl, dtype=DTYPE)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("width", WIDTHS)
def test_bench_relu_backward(measure: Measure, width: int, impl: str) -> None:
    a, dout = _activations(width)
    out = np.maximum(a, 0)
    fn = _pick(impl, "relu_backward", relu_backward)
    measure(fn, dout, out, case=f"relu_backward {BATCH}x{width}", impl=impl, dtype=DTYPE)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("width", WIDTHS)
def test_bench_dropout_mask(measure: Measure, width: int, impl: str) -> None:
    rng = np.random.default_rng(0)
    fn = _pick(impl, "dropout_mask", dropout_mask)
    measure(
        fn, rng, (BATCH, width), 0.2, np.float32,
        case=f"dropout_mask {BATCH}x{width}", impl=impl, dtype=DTYPE,
    )  # fmt: skip


def _augmentation(n: int = BATCH):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    return draw_augmentation(
        rng, n, flip_prob=FLIP_PROB, max_shift=MAX_SHIFT, shift_prob=SHIFT_PROB
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_bench_hflip(measure: Measure, impl: str) -> None:
    X = synthetic_pool(DTYPE, BATCH)[0]
    fn = _pick(impl, "hflip", hflip)
    measure(fn, X, _augmentation().flip, case=f"hflip {BATCH} images", impl=impl, dtype=DTYPE)


@pytest.mark.parametrize("impl", IMPLS)
def test_bench_translate(measure: Measure, impl: str) -> None:
    X = synthetic_pool(DTYPE, BATCH)[0]
    fn = _pick(impl, "translate", translate)
    measure(
        fn, X, _augmentation().shift, "zero",
        case=f"translate {BATCH} images", impl=impl, dtype=DTYPE,
    )  # fmt: skip


@pytest.mark.parametrize("impl", IMPLS)
def test_bench_gather_augment(measure: Measure, impl: str) -> None:
    X = synthetic_pool(DTYPE)[0]
    idx = np.random.default_rng(2).permutation(len(X))[:BATCH]
    fn = _pick(impl, "gather_augment", gather_augment)
    measure(
        fn, X, idx, _augmentation(), "zero",
        case=f"gather_augment {BATCH} images", impl=impl, dtype=DTYPE,
    )  # fmt: skip
