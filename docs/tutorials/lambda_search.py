# %% [markdown]
# # A λ search you can trust
#
# A single training run's validation accuracy is a noisy number: another seed moves it by a
# few tenths of a percent, about as much as neighbouring values of $\lambda$ differ. Three
# tools make a search's answer trustworthy:
#
# - **repeats**: train every point with $r$ seeds and score it by the mean
#   $\bar a = \frac1r \sum_j a_j$, with standard error $\mathrm{SE} = s / \sqrt r$;
# - **the one-standard-error rule**: among the points whose mean is within one standard
#   error of the difference from the best mean ($\sqrt 2\,\mathrm{SE}$, with the pooled SE
#   of one mean), pick the *largest* $\lambda$ (the most regularised model that is not
#   measurably worse);
# - **successive halving**: train many points briefly, keep the best third, train those
#   three times as long, and so on; the budget goes to the points that deserve it.
#
# Both searches below run on small settings (a few hundred images, short schedules) so the
# page builds in seconds; the packaged `search_lambda_repeats` and `search_halving` configs
# are the full-size versions.

# %%
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from IPython.display import Image, display

SMALL = os.environ.get("HANDPROP_TUTORIAL_SMALL") == "1"
n_train, n_val, n_s = (1000, 300, 20) if SMALL else (10000, 2000, 200)
work = Path(tempfile.mkdtemp(prefix="handprop-search-"))
base = (
    f'[base]\nconfig = "baseline"\nset = {{ n_cycles = 1, n_train = {n_train}, '
    f"n_val = {n_val}, n_s = {n_s}, eval_every = 0, train_eval_size = 200 }}\n\n"
    '[[dimensions]]\nname = "lam"\nlow = 1e-4\nhigh = 1e-1\nscale = "log"\n\n'
)


def handprop(*args: str) -> None:
    """Run the handprop command line and print what it prints."""
    done = subprocess.run(
        [sys.executable, "-m", "handprop", *args], capture_output=True, text=True, check=False
    )
    print(done.stdout[-3000:], done.stderr[-2000:] if done.returncode else "")
    done.check_returncode()


# %% [markdown]
# ## Repeats and the one-SE rule
#
# A search config is a TOML file: the base training config, the dimensions, the stages.
# `repeats = 3` trains each point with three seeds; `select = "one_se"` applies the rule.

# %%
spec = work / "repeats.toml"
spec.write_text(
    'metric = "final_val_acc"\nrepeats = 3\nselect = "one_se"\n\n'
    + base
    + '[[stages]]\nmethod = "grid"\nn = 4\n'
)
print(spec.read_text())
handprop("search", "--config", str(spec), "--out", str(work / "repeats"), "--workers", "0")

# %%
for png in sorted((work / "repeats").glob("*.png")):
    display(Image(filename=str(png)))

# %% [markdown]
# ## Successive halving
#
# Nine random points train for one cycle; the best third continue from their checkpoints
# to three cycles. `min_cycles` is the first rung's budget and `eta = 3` the factor between
# rungs.

# %%
spec = work / "halving.toml"
spec.write_text(
    'metric = "final_val_acc"\n\n'
    + base.replace("n_cycles = 1", "n_cycles = 3")
    + '[[stages]]\nmethod = "halving"\nn = 9\nseed = 1\neta = 3\nmin_cycles = 1\n'
)
handprop("search", "--config", str(spec), "--out", str(work / "halving"), "--workers", "0")
