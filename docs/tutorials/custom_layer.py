# %% [markdown]
# # Adding your own layer kind
#
# A layer kind is a record type that says *what* the layer is and a `Kind` that says *how*
# it runs: a forward/backward pair with uniform signatures. The network's passes are folds
# over a sequence of records, so a new kind needs no change anywhere else. Here we add a
# leaky ReLU, $\text{out} = \max(x, \alpha x)$ with $0 < \alpha < 1$, whose derivative is
# $1$ where $x > 0$ and $\alpha$ elsewhere:
#
# $$\frac{\partial \ell}{\partial x}
#   = G \odot \big(\mathbf{1}[x > 0] + \alpha\,\mathbf{1}[x \le 0]\big).$$

# %%
import os

import attrs
import numpy as np

import handprop as hp
from handprop.nn import architecture as A
from handprop.nn import layers as L
from handprop.nn import network as N

SMALL = os.environ.get("HANDPROP_TUTORIAL_SMALL") == "1"


@attrs.frozen
class LeakyReLU:
    """``max(x, alpha x)``."""

    alpha: float = 0.01


def leaky_forward(spec, param, x, feed):
    out = np.where(x > 0, x, spec.alpha * x)
    return out, x > 0


def leaky_backward(spec, param, dout, positive, need_dx):
    return np.where(positive, dout, spec.alpha * dout), ()


A.register(LeakyReLU, A.Kind(leaky_forward, leaky_backward))

# %% [markdown]
# ## The network with the new kind
#
# `mlp` builds the course's sequence; we swap each ReLU for the leaky one.

# %%
sequence = tuple(LeakyReLU(0.1) if isinstance(s, A.ReLU) else s for s in A.mlp(1))
print(sequence)

config = hp.load_config("baseline").with_overrides(["n_train=2000" if SMALL else "n_train=20000"])
data = hp.load_data(config)
params = hp.init_params(config)


def cost_and_grads(params, X, y, lam):
    scores, tape = N.forward(params, X, sequence=sequence)
    loss, cache = L.softmax_cross_entropy_forward(scores, y)
    cost = loss + L.l2_penalty(tuple(p.W for p in params.layers), lam)
    return cost, N.backward(params, L.softmax_cross_entropy_backward(cache), tape, lam)


# %% [markdown]
# ## Gradcheck
#
# Central differences on a float64 copy, at random coordinates of every parameter.

# %%
rng = np.random.default_rng(0)
p64 = hp.Params(
    tuple(hp.AffineParams(p.W.astype(np.float64), p.b.astype(np.float64)) for p in params.layers)
)
X, y = data.train.X[:20].astype(np.float64), data.train.y[:20]
_, grads = cost_and_grads(p64, X, y, 0.01)


def perturbed(k, name, i, delta):
    """``p64`` with coordinate ``i`` of layer ``k``'s array ``name`` moved by ``delta``."""
    array = getattr(p64.layers[k], name).copy()
    array.reshape(-1)[i] += delta
    layers = list(p64.layers)
    layers[k] = attrs.evolve(layers[k], **{name: array})
    return hp.Params(tuple(layers))


worst = 0.0
for k, grad in enumerate(grads.layers):
    for name in ("W", "b"):
        g = getattr(grad, name).reshape(-1)
        for i in rng.choice(g.size, size=10, replace=False):
            up = cost_and_grads(perturbed(k, name, i, 1e-6), X, y, 0.01)[0]
            down = cost_and_grads(perturbed(k, name, i, -1e-6), X, y, 0.01)[0]
            num = (up - down) / 2e-6
            worst = max(worst, abs(num - g[i]) / max(1e-8, abs(num) + abs(g[i])))
print(f"max relative error against finite differences: {worst:.1e}")

# %% [markdown]
# ## Training it
#
# A few epochs of plain SGD with the new sequence: the loss falls and the accuracy rises
# above chance.

# %%
eta, lam, batch = 0.05, 0.001, 100
Xtr, ytr = data.train.X, data.train.y
for epoch in range(3 if SMALL else 10):
    order = rng.permutation(len(ytr))
    for start in range(0, len(ytr), batch):
        idx = order[start : start + batch]
        cost, grads = cost_and_grads(params, Xtr[idx], ytr[idx], lam)
        params = hp.Params(
            tuple(
                hp.AffineParams(p.W - eta * g.W, p.b - eta * g.b)
                for p, g in zip(params.layers, grads.layers, strict=True)
            )
        )
    scores, _ = N.forward(params, data.val.X, sequence=sequence)
    val_acc = float(np.mean(scores.argmax(axis=1) == data.val.y))
    print(
        f"epoch {epoch + 1}: last batch cost {cost:.3f}, validation accuracy {100 * val_acc:.1f} %"
    )
