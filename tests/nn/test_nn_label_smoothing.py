"""Label smoothing in the softmax cross-entropy pair and the fused kernel, against
``torch.nn.functional.cross_entropy(label_smoothing=...)`` in float64."""

from __future__ import annotations

import numpy as np
import pytest

from handprop.errors import ConfigError
from handprop.kernels import reference as ref
from handprop.kernels.softmax import softmax_xent
from handprop.nn import layers as L

SMOOTHINGS = [0.0, 0.05, 0.1, 0.3, 1.0]


def _case(seed: int, n: int = 37, k: int = 10, scale: float = 3.0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return (scale * rng.standard_normal((n, k))).astype(dtype), rng.integers(0, k, n)


def _torch_loss_and_grad(scores: np.ndarray, y: np.ndarray, smoothing: float):
    torch = pytest.importorskip("torch")
    s = torch.tensor(scores, dtype=torch.float64, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(s, torch.tensor(y), label_smoothing=smoothing)
    loss.backward()
    return loss.item(), s.grad.numpy()


def _pair(scores, y, smoothing):
    loss, cache = L.softmax_cross_entropy_forward(scores, y, smoothing)
    return loss, L.softmax_cross_entropy_backward(cache)


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize(
    "fn", [_pair, softmax_xent, ref.softmax_xent], ids=["pair", "kernel", "ref"]
)
@pytest.mark.parametrize("scale", [1e-2, 3.0, 100.0])
def test_matches_torch_cross_entropy(fn, smoothing, scale):
    scores, y = _case(7, scale=scale)
    loss, grad = fn(scores, y, smoothing)
    t_loss, t_grad = _torch_loss_and_grad(scores, y, smoothing)
    loss_err = abs(loss - t_loss) / abs(t_loss)
    grad_err = float(np.max(np.abs(grad - t_grad)))
    print(
        f"{getattr(fn, '__name__', fn)} s={smoothing} scale={scale}: {loss_err:.1e} {grad_err:.1e}"
    )
    assert loss_err <= 1e-12
    assert grad_err <= 1e-12


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_kernel_matches_reference(dtype, smoothing):
    for seed in range(5):
        scores, y = _case(seed, n=5 + 20 * seed, k=3 + seed, dtype=dtype)
        loss, grad = softmax_xent(scores, y, smoothing)
        ref_loss, ref_grad = ref.softmax_xent(scores, y, smoothing)
        tol = 1e-6 if dtype == np.float32 else 1e-14
        assert grad.dtype == scores.dtype
        assert loss == pytest.approx(ref_loss, rel=1e-12)
        np.testing.assert_allclose(grad, ref_grad, rtol=tol, atol=tol / len(y))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_default_keeps_the_unsmoothed_bits(dtype):
    """No smoothing is the plain loss's arithmetic exactly: P - onehot(y), divided by n."""
    scores, y = _case(3, n=50, dtype=dtype)
    n = len(y)
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    z = probs.sum(axis=1, keepdims=True)
    probs /= z
    expected_loss = float(np.mean(np.log(z[:, 0]) - shifted[np.arange(n), y]))
    expected = probs.copy()
    expected[np.arange(n), y] -= 1
    expected /= n
    loss, grad = _pair(scores, y, 0.0)
    assert loss == expected_loss
    np.testing.assert_array_equal(grad, expected)
    for fn in (softmax_xent, ref.softmax_xent):
        a, b = fn(scores, y), fn(scores, y, 0.0)
        assert a[0] == b[0]
        np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("smoothing", [-0.1, 1.5, float("nan")])
@pytest.mark.parametrize("fn", [L.softmax_cross_entropy_forward, softmax_xent])
def test_smoothing_outside_0_1_is_refused(fn, smoothing):
    with pytest.raises(ConfigError, match=r"label smoothing must be in \[0, 1\]") as err:
        fn(np.zeros((2, 3)), np.array([0, 1]), smoothing)
    assert "\n" not in str(err.value)
