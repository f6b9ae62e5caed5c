# %% [markdown]
# # Training the baseline and reading its curves
#
# The course's baseline is a two-layer network, $3072 \to 50 \to 10$, trained by mini-batch
# SGD with an L2 penalty $\lambda \lVert W \rVert^2$ and a cyclical (triangular) learning
# rate: $\eta$ climbs linearly from $\eta_{\min}$ to $\eta_{\max}$ over $n_s$ steps and falls
# back over the next $n_s$. Its config is packaged as `baseline`.

# %%
import io
import os

from IPython.display import Image, display
from matplotlib.figure import Figure

import handprop as hp
from handprop.train.config import config_to_toml

SMALL = os.environ.get("HANDPROP_TUTORIAL_SMALL") == "1"
overrides = ["n_cycles=1", "n_train=2000", "n_val=500", "n_s=100"] if SMALL else []
config = hp.load_config("baseline").with_overrides(overrides)
print(config_to_toml(config))


def show(fig: Figure) -> None:
    """Display a matplotlib figure as a PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    display(Image(data=buf.getvalue()))


# %% [markdown]
# Training is a fold of a pure `step(state, t) -> state` over the schedule's steps;
# `hp.train` runs it and returns a `TrainResult` with the final parameters and the
# history of evaluations.

# %%
data = hp.load_data(config)
params = hp.init_params(config)
result = hp.train(params, config, data=data, progress=False)
print(result.status)
print(f"test accuracy {100 * hp.accuracy(result.params, data.test.X, data.test.y):.2f} %")

# %% [markdown]
# ## Reading the curves
#
# The cost is the loss plus the L2 penalty. The learning rate's cycles show in the curves:
# the loss falls fastest while $\eta$ is large and settles as $\eta$ returns to
# $\eta_{\min}$; each cycle's end is the moment to read the accuracy. A validation curve
# that rises while the training curve keeps falling means overfitting: a larger $\lambda$
# or augmentation helps.

# %%
cols = result.history.columns()
fig = Figure(figsize=(10, 3), layout="constrained")
axes = fig.subplots(1, 3)
for ax, metric in zip(axes, ("cost", "loss", "acc"), strict=True):
    ax.plot(cols["step"], cols[f"train_{metric}"], label="training")
    ax.plot(cols["step"], cols[f"val_{metric}"], label="validation")
    ax.set_xlabel("update step")
    ax.set_title(metric)
    ax.legend()
show(fig)

# %%
fig = Figure(figsize=(5, 2.5), layout="constrained")
ax = fig.subplots()
ax.plot(cols["step"], cols["eta"])
ax.set_xlabel("update step")
ax.set_ylabel("learning rate η")
show(fig)
