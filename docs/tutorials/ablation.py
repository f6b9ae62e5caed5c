# %% [markdown]
# # From the course reports to the best MLP
#
# The second course report improves its baseline in steps: a wider hidden layer, random
# horizontal flips, random translations, then dropout. `handprop reproduce` trains each
# step; this page reads their numbers from a results folder (the folder named by
# `HANDPROP_DOCS_RESULTS`, written by `handprop reproduce`) and shows what each step adds.
# Every number below is computed from that folder when the page is built.

# %%
import os
from pathlib import Path

from handprop.reproduce.catalogue import IMPROVEMENTS
from handprop.reproduce.collect import collect

folder = Path(os.environ["HANDPROP_DOCS_RESULTS"])
results = collect(folder)
print(f"suite {results.suite!r}: {len(results.finished)} finished experiments")

# %% [markdown]
# ## The cumulative improvements
#
# Each row adds one technique to the row above; the gain is the change of test accuracy in
# percentage points. On the smoke suite (tiny schedules) the gains are noise; on the full
# suite they are the report's ablation.

# %%
previous = None
print(f"{'experiment':<30} {'hidden':>6} {'test acc. (%)':>14} {'gain (pp)':>10}")
for name in IMPROVEMENTS:
    found = results.get(name)
    if found is None:
        continue
    test = 100 * found.metrics["test_acc"]
    gain = "" if previous is None else f"{test - previous:+.2f}"
    hidden = ", ".join(str(h) for h in found.config.model.hidden)
    print(f"{name:<30} {hidden!s:>6} {test:>14.2f} {gain:>10}")
    previous = test

# %% [markdown]
# ## Beyond the course
#
# The `beyond` suite continues the ablation past the reports (batch norm, Adam, label
# smoothing, ensembles), each row with several seeds; its table is part of the results
# page when the folder holds it.

# %%
from handprop.reproduce import beyondsuite  # noqa: E402

print(beyondsuite.markdown(results) or "this results folder holds no beyond-suite runs")
