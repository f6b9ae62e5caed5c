"""``handprop evaluate``: test accuracy of the parameters saved in a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from handprop.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="test accuracy of a run folder's saved parameters",
        description=(
            "Load RUN_DIR/config.toml and RUN_DIR/params.npz, rebuild the config's data "
            "splits and print loss and accuracy on the validation and test sets."
        ),
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="folder of a training run")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from handprop.nn.network import evaluate
    from handprop.train.config import load_config
    from handprop.train.data import load_data
    from handprop.train.params_file import D_IN, N_CLASSES, load_params
    from handprop.train.rundir import CONFIG_FILE, PARAMS_FILE

    folder: Path = args.run_dir
    for name in (CONFIG_FILE, PARAMS_FILE):
        if not (folder / name).is_file():
            raise ConfigError(f"{folder} is not a finished run folder: {name} is missing")
    config = load_config(folder / CONFIG_FILE)
    params = load_params(
        folder / PARAMS_FILE, (D_IN, *config.model.hidden, N_CLASSES), config.model.dtype
    )
    data = load_data(config)
    for split, ds in (("validation", data.val), ("test", data.test)):
        result = evaluate(params, ds.X, ds.y)
        print(f"{split}: accuracy {100 * result.accuracy:.2f} %  loss {result.loss:.4f}")
    return 0
