"""LaTeX from a results folder: a macros file (every number the prose quotes) and tables.

Numbers are formatted once here, so the report text never types one: ``\\BaselineTestAcc``,
``\\SearchLamLam``, ``\\MachineCores``, ... Missing experiments give ``n/a``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeGuard

from handprop.reproduce import seeds
from handprop.reproduce.catalogue import CYCLIC, EXPERIMENTS, IMPROVEMENTS, ONE_LAYER, in_suites
from handprop.reproduce.collect import Collected, Finished
from handprop.reproduce.machine import SHARED_COPY_MEAN_ABS_DIFF, SHARED_COPY_PSNR_DB
from handprop.tex import escape
from handprop.train.config import BATCH_IMAGES, TrainConfig

NA = r"\textit{n/a}"
ORDINALS: tuple[str, ...] = ("One", "Two", "Three", "Four", "Five", "Six")
IMPROVEMENT_LABELS: dict[str, str] = {
    "baseline": "baseline",
    "wide": "+ wider hidden layer",
    "wide_flip": "+ horizontal flips",
    "wide_flip_translate": "+ random translations",
    "wide_flip_translate_dropout": "+ dropout",
}
CYCLIC_LABELS: dict[str, str] = {
    "overfit": "overfit check",
    "one_cycle": "one cycle",
    "three_cycles": "three cycles",
}
DATA_KINDS: dict[str, str] = {
    "shared": "the shared offline copy with JPEG-decoded pixels",
    "official": "the official archive",
    "other": "an archive of unknown origin (neither the official nor the shared copy)",
    "folder": "an extracted folder (not checksummed)",
}


def _finite(x: Any) -> TypeGuard[float]:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def number(x: Any, digits: int = 3) -> str:
    """A number as TeX: integers with thin-space thousands, small/large floats as m x 10^e."""
    if not _finite(x):
        return NA
    if isinstance(x, int):
        return f"{x:,}".replace(",", r"\,")
    if x == 0:
        return "0"
    exponent = math.floor(math.log10(abs(x)))
    if -2 <= exponent < 5:
        return f"{x:.{digits}g}"
    mantissa = f"{x / 10**exponent:.{digits}g}"
    power = f"10^{{{exponent}}}"
    body = power if mantissa == "1" else mantissa + r"\times " + power
    return rf"\ensuremath{{{body}}}"


def percent(fraction: Any) -> str:
    """A fraction in [0, 1] as a percentage with two decimals (no % sign)."""
    return f"{100 * fraction:.2f}" if _finite(fraction) else NA


def fixed(x: Any, decimals: int) -> str:
    """``x`` with a fixed number of decimals (accuracies quoted as published)."""
    return f"{x:.{decimals}f}" if _finite(x) else NA


def seconds(t: Any) -> str:
    return fixed(t, 1)


def run_values(run: Finished | None) -> dict[str, str]:
    """Macro suffix -> TeX for one training run (``n/a`` everywhere if it is missing)."""
    m: dict[str, Any] = run.metrics if run else {}
    return {
        "TestAcc": percent(m.get("test_acc")),
        "TestAccPlain": percent(m.get("test_acc_plain", m.get("test_acc"))),
        "BestValAcc": percent(m.get("best_val_acc")),
        "FinalValAcc": percent(m.get("final_val_acc")),
        "TrainAcc": percent(m.get("final_train_acc")),
        "Time": seconds(m.get("wall_time")),
        "Steps": number(m.get("steps")),
        "Status": escape(str(m.get("status", "n/a"))),
        **config_values(run.config if run else None),
    }


def config_values(config: TrainConfig | None) -> dict[str, str]:
    """Macro suffix -> TeX for a run's config (``n/a`` everywhere if there is none)."""
    if config is None:
        return dict.fromkeys(CONFIG_MACROS, NA)
    model, data, augment = config.model, config.data, config.augment
    schedule, optimizer = config.schedule, config.optimizer
    n_train = config.train_images()
    return {
        "Lam": number(optimizer.lam),
        "Eta": number(schedule.eta),
        "EtaMin": number(schedule.eta_min),
        "EtaMax": number(schedule.eta_max),
        "Ns": number(config.step_size(n_train)),
        "Cycles": number(schedule.n_cycles),
        "Batch": number(optimizer.batch_size),
        "Epochs": number(schedule.epochs),
        "Hidden": ", ".join(str(h) for h in model.hidden) or "none",
        "Dropout": number(model.dropout),
        "WhitenEps": number(data.whiten_eps) if data.whiten != "none" else "none",
        "LabelSmoothing": number(optimizer.label_smoothing),
        "FlipProb": number(augment.flip_prob if augment.flip else 0.0),
        "MaxShift": number(augment.max_shift),
        "ShiftProb": number(augment.shift_prob),
        "NTrain": number(n_train),
        "NVal": number(BATCH_IMAGES if data.split == "batch1" else data.n_val),
        "EvalEvery": number(config.run.eval_every),
    }


#: The macro suffixes of :func:`config_values`.
CONFIG_MACROS: tuple[str, ...] = (
    "Lam", "Eta", "EtaMin", "EtaMax", "Ns", "Cycles", "Batch", "Epochs", "Hidden", "Dropout",
    "WhitenEps", "LabelSmoothing", "FlipProb", "MaxShift", "ShiftProb", "NTrain", "NVal",
    "EvalEvery",
)  # fmt: skip


def search_values(found: Finished | None) -> dict[str, str]:
    """Macro suffix -> TeX for one search: the chosen λ, its score, stage ranges, its data."""
    m: dict[str, Any] = found.metrics if found else {}
    chosen = found.json("chosen.json") if found else None
    values = {
        "Lam": number((m.get("chosen") or {}).get("lam")),
        "Score": percent(m.get("score")),
        "Trials": number(m.get("trials")),
        "FinalTestAcc": percent(m.get("final_test_acc")),
        "Time": seconds(m.get("wall_time")),
        "Stages": number(len(chosen["stages"])) if chosen else NA,
    }
    stages = (chosen or {}).get("stages", [])
    for k, ordinal in enumerate(ORDINALS[: max(len(stages), 2)]):  # the report quotes two
        stage = stages[k] if k < len(stages) else {}
        low, high = stage.get("ranges", {}).get("lam", (None, None))
        values[f"Stage{ordinal}Low"] = number(low)
        values[f"Stage{ordinal}High"] = number(high)
        values[f"Stage{ordinal}Trials"] = number(stage.get("trials"))
    run = run_values(found)
    for key in ("NTrain", "NVal", "Cycles", "Hidden", "FlipProb", "MaxShift", "ShiftProb"):
        values[key] = run[key]
    return values


def gradcheck_values(found: Finished | None) -> dict[str, str]:
    from handprop import verify as gradcheck

    m: dict[str, Any] = found.metrics if found else {}
    return {
        "TorchAbs": number(m.get("torch_abs"), 2),
        "TorchRel": number(m.get("torch_rel"), 2),
        "FdRel": number(m.get("fd_rel"), 2),
        "Rows": number(m.get("n_rows")),
        "FdCoords": number(m.get("fd_coords")),
        "Status": escape(str(m.get("status", "n/a"))),
        "TorchTol": number(gradcheck.MAX_TORCH_ABS),
        "FdTol": number(gradcheck.MAX_FD_REL),
    }


def comparison_values(results: Collected) -> dict[str, str]:
    """How the chosen λ moves when the training images are augmented."""
    plain, augmented = (results.get(n) for n in ("search_lambda", "search_lambda_augmented"))
    lams = [((r.metrics.get("chosen") or {}).get("lam") if r else None) for r in (plain, augmented)]
    plain_lam, augmented_lam = lams
    if not (_finite(plain_lam) and _finite(augmented_lam) and plain_lam > 0 < augmented_lam):
        return {"Ratio": NA, "Direction": NA}
    ratio = augmented_lam / plain_lam
    direction = "smaller" if ratio < 1 else "larger" if ratio > 1 else "the same"
    return {"Ratio": number(ratio), "Direction": direction}


def seed_values() -> dict[str, str]:
    values = {
        "BaselineAcc": fixed(seeds.TWO_LAYER_BASELINE_ACC, 2),
        "FinalAcc": fixed(seeds.TWO_LAYER_FINAL_ACC, 2),
        "GradError": number(seeds.TWO_LAYER_GRAD_ERROR),
        "GradTol": number(seeds.ONE_LAYER_GRAD_TOL),
        "Lam": number(seeds.CHOSEN_LAM),
        "CoarseLow": number(seeds.COARSE_RANGE[0]),
        "CoarseHigh": number(seeds.COARSE_RANGE[1]),
        "FineLow": number(seeds.FINE_RANGE[0]),
        "FineHigh": number(seeds.FINE_RANGE[1]),
        "SearchImages": number(seeds.SEARCH_TRAIN_IMAGES),
        "CodeBaselineAcc": fixed(seeds.SEED_CODE_ON_COPY["baseline"], 1),
        "CodeFinalAcc": fixed(seeds.SEED_CODE_ON_COPY["wide_flip_translate_dropout"], 1),
    }
    for name, stem in _stems(ONE_LAYER).items():
        values[stem] = fixed(seeds.ONE_LAYER_TEST_ACC[name], 2)
    return values


def machine_values(machine: Mapping[str, Any]) -> dict[str, str]:
    return {
        "CPU": escape(str(machine["cpu"])),
        "Cores": number(machine["cores"]),
        "Memory": number(machine["memory_gib"]),
        "OS": escape(str(machine["os"])),
        "Python": escape(machine["python"]),
        "Numpy": escape(machine["numpy"]),
        "Numba": escape(machine["numba"]),
        "BLAS": escape(machine["blas"]),
    }


def data_values(data: Mapping[str, Any]) -> dict[str, str]:
    sha = data.get("sha256")
    return {
        "Name": escape(str(data["name"])),
        "Kind": DATA_KINDS[data["kind"]],
        "IsShared": "true" if data["kind"] == "shared" else "false",
        "Sha": rf"\texttt{{{sha[:16]}}}" if sha else NA,
        "MeanAbsDiff": number(SHARED_COPY_MEAN_ABS_DIFF),
        "PSNR": number(SHARED_COPY_PSNR_DB),
    }


def suite_values(results: Collected) -> dict[str, str]:
    total = sum(results.times.values())
    return {
        "Name": escape(results.suite),
        "Seconds": seconds(total),
        "Minutes": seconds(total / 60),
        "Experiments": number(len(results.finished)),
        "Total": number(len(in_suites(results.suites))),
    }


def _stems(names: Iterable[str]) -> dict[str, str]:
    stems = {e.name: e.stem for e in EXPERIMENTS}
    return {name: stems[name] for name in names}


def all_values(
    results: Collected, machine: Mapping[str, Any], data: Mapping[str, Any]
) -> dict[str, str]:
    """Every macro: ``{name: TeX}``, names made of letters only."""
    values: dict[str, str] = {}

    def add(prefix: str, group: Mapping[str, str]) -> None:
        values.update({prefix + key: text for key, text in group.items()})

    for experiment in EXPERIMENTS:
        found = results.get(experiment.name)
        if experiment.kind == "run":
            add(experiment.stem, run_values(found))
        elif experiment.kind == "search":
            add(experiment.stem, search_values(found))
        elif experiment.kind == "gradcheck":
            add(experiment.stem, gradcheck_values(found))
        # ensembles: handprop.reproduce.beyondsuite
    add("AugCompare", comparison_values(results))
    add("Seed", seed_values())
    add("Machine", machine_values(machine))
    add("Data", data_values(data))
    add("Suite", suite_values(results))
    return values


def macros_tex(values: Mapping[str, str]) -> str:
    """``\\newcommand`` lines, one per value, sorted by name."""
    lines = ["% Generated by handprop reproduce: every number the report quotes."]
    lines += [rf"\newcommand{{\{name}}}{{{values[name]}}}" for name in sorted(values)]
    return "\n".join(lines) + "\n"


def tabular(spec: str, header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A booktabs ``tabular`` fragment."""
    lines = [rf"\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(header) + r" \\", r"\midrule"]
    lines += [" & ".join(row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def one_layer_table(results: Collected) -> str:
    rows = []
    for name in ONE_LAYER:
        v = run_values(results.get(name))
        ours, seed = results.get(name), seeds.ONE_LAYER_TEST_ACC[name]
        test = ours.metrics.get("test_acc") if ours else None
        diff = f"{100 * test - seed:+.2f}" if _finite(test) else NA
        rows.append([v["Lam"], v["Eta"], v["TestAcc"], fixed(seed, 2), diff, v["Time"]])
    header = [r"$\lambda$", r"$\eta$", r"Test acc.\ (\%)", r"Seed (\%)", "Difference", "Time (s)"]
    return tabular("rrrrrr", header, rows)


def cyclic_table(results: Collected) -> str:
    rows = []
    for name in CYCLIC:
        v = run_values(results.get(name))
        rows.append(
            [
                CYCLIC_LABELS[name],
                v["NTrain"],
                v["Steps"],
                v["TrainAcc"],
                v["FinalValAcc"],
                v["TestAcc"],
                v["Time"],
            ]
        )
    header = [
        "Run",
        "Train images",
        "Steps",
        r"Train acc.\ (\%)",
        r"Val.\ acc.\ (\%)",
        r"Test acc.\ (\%)",
        "Time (s)",
    ]
    return tabular("lrrrrrr", header, rows)


def improvements_table(results: Collected) -> str:
    published = {
        "baseline": seeds.TWO_LAYER_BASELINE_ACC,
        IMPROVEMENTS[-1]: seeds.TWO_LAYER_FINAL_ACC,
    }
    rows = []
    for name in IMPROVEMENTS:
        v = run_values(results.get(name))
        code, seed = seeds.SEED_CODE_ON_COPY.get(name), published.get(name)
        rows.append(
            [
                IMPROVEMENT_LABELS[name],
                v["Hidden"],
                v["FlipProb"],
                v["MaxShift"],
                v["Dropout"],
                v["TestAcc"],
                "" if code is None else fixed(code, 1),
                "" if seed is None else fixed(seed, 2),
                v["Time"],
            ]
        )
    header = [
        "Configuration",
        "$m$",
        "Flip",
        "Shift",
        "Drop.",
        "Test (\\%)",
        "Seed code (\\%)",
        "Seed (\\%)",
        "Time (s)",
    ]
    return tabular("lrrrrrrrr", header, rows)


def augmentation_table(results: Collected) -> str:
    rows = []
    for name, label in (("search_lambda", "without"), ("search_lambda_augmented", "with")):
        v = search_values(results.get(name))
        rows.append(
            [label, v["FlipProb"], v["MaxShift"], v["Lam"], v["Score"], v["Trials"], v["Time"]]
        )
    header = [
        "Augmentation",
        "Flip $p$",
        "Shift (px)",
        r"Chosen $\lambda$",
        r"Val.\ acc.\ (\%)",
        "Trials",
        "Time (s)",
    ]
    return tabular("lrrrrrr", header, rows)


def timings_table(results: Collected) -> str:
    rows = []
    for experiment in in_suites(results.suites):
        found = results.get(experiment.name)
        train_time = found.metrics.get("wall_time") if found else None
        rows.append(
            [
                rf"\texttt{{{escape(experiment.name)}}}",
                experiment.kind,
                seconds(train_time),
                seconds(results.times.get(experiment.name)),
            ]
        )
    rows.append([r"\textbf{total}", "", "", seconds(sum(results.times.values()))])
    return tabular("llrr", ["Experiment", "Kind", "Compute (s)", "Elapsed (s)"], rows)


def gradcheck_table(results: Collected) -> str:
    from handprop import verify as gradcheck

    found = results.get("gradcheck")
    if found is None or not (found.folder / "gradcheck.json").is_file():
        return r"\textit{The gradient check has not been run.}" + "\n"
    rows = gradcheck.from_json((found.folder / "gradcheck.json").read_text(encoding="utf-8"))
    return gradcheck.to_latex(rows) + "\n"


def search_table(results: Collected, name: str) -> str:
    found = results.get(name)
    path = found.folder / "top_configs.tex" if found else None
    if path is None or not path.is_file():
        return rf"\textit{{The search \texttt{{{escape(name)}}} has not been run.}}" + "\n"
    return path.read_text(encoding="utf-8")


def tables(results: Collected) -> dict[str, str]:
    """``{file stem: tabular fragment}`` of every generated table."""
    return {
        "gradcheck": gradcheck_table(results),
        "one_layer": one_layer_table(results),
        "cyclic": cyclic_table(results),
        "improvements": improvements_table(results),
        "search_lambda": search_table(results, "search_lambda"),
        "search_lambda_augmented": search_table(results, "search_lambda_augmented"),
        "augmentation": augmentation_table(results),
        "timings": timings_table(results),
    }
