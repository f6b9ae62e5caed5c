# %% [markdown]
# # Gradients, derived and checked
#
# Every layer of handprop is a pure pair: `forward` returns the output and a cache,
# `backward` takes the upstream gradient $G = \partial \ell / \partial \text{out}$ and the
# cache and returns the gradients of the inputs and parameters. This page derives each
# pair's backward pass in a few lines, shows the code of `handprop.nn.layers` that
# implements it, and checks it live, in float64, against PyTorch autograd and against
# central finite differences, on real CIFAR-10 images.
#
# The check of a layer $f$: draw a random upstream gradient $G$ and differentiate the
# scalar $\ell = \sum_{ij} G_{ij}\, f(x)_{ij}$, whose gradient with respect to the output is
# exactly $G$.

# %%
import inspect
import os

import numpy as np
import torch

import handprop as hp
from handprop.nn import layers as L

SMALL = os.environ.get("HANDPROP_TUTORIAL_SMALL") == "1"
N = 8 if SMALL else 100  # images in the batch
H = 16 if SMALL else 50  # hidden units
FD_COORDS = 20 if SMALL else 200  # coordinates checked by finite differences

config = hp.load_config("baseline").with_overrides(["n_val=1000"])
data = hp.load_data(config)
rng = np.random.default_rng(0)
X = data.train.X[:N].astype(np.float64)
y = data.train.y[:N].astype(np.int64)
print("batch", X.shape, X.dtype, "labels", y[:8])


# %%
def show(fn):
    """Print a function's source: the code beside the math."""
    print(inspect.getsource(fn))


def fd_error(f, x, grad, coords=FD_COORDS, h=1e-6):
    """Max relative error of ``grad`` against central differences of scalar ``f`` at ``x``."""
    worst = 0.0
    flat = x.reshape(-1)
    for i in rng.choice(flat.size, size=min(coords, flat.size), replace=False):
        old = flat[i]
        flat[i] = old + h
        up = f()
        flat[i] = old - h
        down = f()
        flat[i] = old
        numeric = (up - down) / (2 * h)
        analytic = grad.reshape(-1)[i]
        worst = max(worst, abs(numeric - analytic) / max(1e-8, abs(numeric) + abs(analytic)))
    return worst


def torch_error(ours, theirs):
    """Max absolute difference of our gradient and PyTorch's."""
    return float(np.max(np.abs(ours - theirs.detach().numpy())))


def report(name, **errors):
    print(f"{name:>12}: " + ", ".join(f"{k} {v:.1e}" for k, v in errors.items()))


# %% [markdown]
# ## Affine: $\text{out} = xW + b$
#
# With $x \in \mathbf{R}^{n\times d}$, $W \in \mathbf{R}^{d\times m}$ and
# $\text{out}_{ij} = \sum_k x_{ik} W_{kj} + b_j$:
#
# $$\frac{\partial \ell}{\partial W_{kj}} = \sum_i G_{ij}\, x_{ik}
#   \;\Rightarrow\; \frac{\partial \ell}{\partial W} = x^\top G,\qquad
#   \frac{\partial \ell}{\partial x} = G W^\top,\qquad
#   \frac{\partial \ell}{\partial b} = \sum_i G_{i\cdot}.$$
#
# The bias is added to every row, so its gradient sums over the batch.

# %%
show(L.affine_forward)
show(L.affine_backward)

# %%
W = rng.normal(0, 0.01, (X.shape[1], H))
b = rng.normal(0, 0.01, H)
G = rng.normal(size=(N, H))
out, cache = L.affine_forward(X, W, b)
dx, dW, db = L.affine_backward(G, cache)

tx, tW, tb = (torch.tensor(a, requires_grad=True) for a in (X, W, b))
(torch.tensor(G) * (tx @ tW + tb)).sum().backward()


def affine_loss():
    return float(np.sum(G * L.affine_forward(X, W, b)[0]))


report(
    "affine",
    torch_dW=torch_error(dW, tW.grad),
    torch_dx=torch_error(dx, tx.grad),
    torch_db=torch_error(db, tb.grad),
    fd_dW=fd_error(affine_loss, W, dW),
    fd_db=fd_error(affine_loss, b, db),
)

# %% [markdown]
# ## ReLU: $\text{out} = \max(x, 0)$
#
# Element-wise, $\partial \max(x,0)/\partial x = \mathbf{1}[x > 0]$, so
# $\frac{\partial \ell}{\partial x} = G \odot \mathbf{1}[x > 0]$. The output is positive exactly
# where the input is, so the forward pass caches its output and backward needs nothing else.

# %%
show(L.relu_forward)
show(L.relu_backward)

# %%
Z = out.copy()
G = rng.normal(size=Z.shape)
r, rcache = L.relu_forward(Z)
dz = L.relu_backward(G, rcache)
tz = torch.tensor(Z, requires_grad=True)
(torch.tensor(G) * torch.relu(tz)).sum().backward()
report(
    "relu",
    torch_dx=torch_error(dz, tz.grad),
    fd_dx=fd_error(lambda: float(np.sum(G * L.relu_forward(Z)[0])), Z, dz),
)

# %% [markdown]
# ## Softmax cross-entropy, with label smoothing
#
# With scores $s \in \mathbf{R}^{n\times K}$, $P = \operatorname{softmax}(s)$ row-wise and
# targets $t_i = (1-\varepsilon)\,\text{onehot}(y_i) + \varepsilon/K$ (label smoothing
# $\varepsilon$; $\varepsilon = 0$ is the plain loss):
#
# $$\ell = -\frac1n \sum_i \sum_k t_{ik} \log P_{ik}
#        = \frac1n \sum_i \Big(\log \sum_k e^{s_{ik}} - \sum_k t_{ik} s_{ik}\Big),$$
#
# because $\sum_k t_{ik} = 1$. Differentiating the log-sum-exp gives $P_{ik}$, so
#
# $$\frac{\partial \ell}{\partial s} = \frac{P - t}{n}.$$
#
# Label smoothing only moves the target: $(1-\varepsilon)$ off the true class and
# $\varepsilon/K$ off every class.

# %%
show(L.softmax_cross_entropy_forward)
show(L.softmax_cross_entropy_backward)

# %%
S = rng.normal(size=(N, 10))
for eps in (0.0, 0.1):
    loss, scache = L.softmax_cross_entropy_forward(S, y, eps)
    ds = L.softmax_cross_entropy_backward(scache)
    ts = torch.tensor(S, requires_grad=True)
    tloss = torch.nn.functional.cross_entropy(ts, torch.tensor(y), label_smoothing=eps)
    tloss.backward()
    report(
        f"xent s={eps}",
        loss_diff=abs(loss - tloss.item()),
        torch_ds=torch_error(ds, ts.grad),
        fd_ds=fd_error(lambda eps=eps: L.softmax_cross_entropy_forward(S, y, eps)[0], S, ds),
    )

# %% [markdown]
# ## Inverted dropout: $\text{out} = x \odot M$
#
# The mask $M$ holds $0$ (dropped) or $1/p$ (kept with probability $p$), drawn once per
# step, so the expected activation is unchanged. The layer is linear in $x$ for a fixed
# mask: $\frac{\partial \ell}{\partial x} = G \odot M$.

# %%
show(L.dropout_forward)
show(L.dropout_backward)

# %%
keep = 0.8
M = (rng.random(Z.shape) < keep) / keep
G = rng.normal(size=Z.shape)
_, dcache = L.dropout_forward(Z, M)
dz = L.dropout_backward(G, dcache)
tz = torch.tensor(Z, requires_grad=True)
(torch.tensor(G) * tz * torch.tensor(M)).sum().backward()
report(
    "dropout",
    torch_dx=torch_error(dz, tz.grad),
    fd_dx=fd_error(lambda: float(np.sum(G * L.dropout_forward(Z, M)[0])), Z, dz),
)

# %% [markdown]
# ## Batch normalisation (training mode)
#
# Per column, $\mu = \frac1n\sum_i x_i$, $\sigma^2 = \frac1n \sum_i (x_i-\mu)^2$,
# $\hat x = (x-\mu)/\sqrt{\sigma^2+\epsilon}$ and $\text{out} = \gamma \hat x + \beta$. Then
# $\frac{\partial \ell}{\partial \beta} = \sum_i G_i$,
# $\frac{\partial \ell}{\partial \gamma} = \sum_i G_i \hat x_i$ and, with
# $\hat G = \gamma G$, every $x_i$ reaching $\hat x_j$ through $\mu$ and $\sigma^2$ gives
#
# $$\frac{\partial \ell}{\partial x} = \frac{1}{\sqrt{\sigma^2+\epsilon}}
#   \Big(\hat G - \operatorname{mean}_i \hat G
#   - \hat x \,\operatorname{mean}_i(\hat G \odot \hat x)\Big).$$
#
# The two subtracted means are the gradient flowing through the batch mean and through the
# batch variance.

# %%
show(L.batchnorm_backward)

# %%
gamma = rng.normal(1, 0.1, H)
beta = rng.normal(0, 0.1, H)
zeros, ones = np.zeros(H), np.ones(H)
G = rng.normal(size=Z.shape)
bn_out, bcache, _, _ = L.batchnorm_forward(Z, gamma, beta, zeros, ones, training=True)
dz, dgamma, dbeta = L.batchnorm_backward(G, bcache)
tz, tg, tb = (torch.tensor(a, requires_grad=True) for a in (Z, gamma, beta))
tout = torch.nn.functional.batch_norm(tz, None, None, tg, tb, training=True, eps=1e-5)
(torch.tensor(G) * tout).sum().backward()


def bn_loss():
    return float(np.sum(G * L.batchnorm_forward(Z, gamma, beta, zeros, ones, training=True)[0]))


report(
    "batchnorm",
    torch_dx=torch_error(dz, tz.grad),
    torch_dgamma=torch_error(dgamma, tg.grad),
    torch_dbeta=torch_error(dbeta, tb.grad),
    fd_dx=fd_error(bn_loss, Z, dz),
    fd_dgamma=fd_error(bn_loss, gamma, dgamma),
)

# %% [markdown]
# ## The whole network
#
# The network's backward pass is the fold of these pairs in reverse, so the composed
# gradient is right when every pair is. `handprop gradcheck --config baseline` checks the
# composed gradient of a whole configuration against PyTorch and finite differences in the
# same way (see the [command-line reference](../reference/cli.md#handprop-gradcheck)).
