"""``handprop predict``: the three most probable classes of the user's own pictures."""

from __future__ import annotations

import argparse
from pathlib import Path

from handprop.errors import ConfigError

TOP = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="top-3 classes of PNG/JPEG images by a run (or an ensemble of runs)",
        description=(
            "Classify PNG or JPEG images with the parameters of one or more finished run "
            "folders (the leading folder arguments; several runs average their class "
            "probabilities). Each image is converted to RGB, cropped to its centred square, "
            "resized to 32x32 (bicubic), laid out like the CIFAR-10 batches and transformed "
            "with the run's stored normalisation (and whitening). Prints the top 3 classes "
            "with their probabilities per image."
        ),
        usage="%(prog)s [-h] RUN_DIR [RUN_DIR ...] IMAGE [IMAGE ...]",
    )
    parser.add_argument(
        "paths",
        type=Path,
        nargs="+",
        metavar="PATH",
        help="run folders first, then the images (a path that is a folder is a run)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from handprop.data.images import image_row
    from handprop.runs.ensemble import average_probabilities, member_probabilities
    from handprop.runs.inputs import load_input_transform
    from handprop.runs.rundir import CONFIG_FILE, PARAMS_FILE
    from handprop.train.config import load_config
    from handprop.train.params_file import load_params

    paths: list[Path] = args.paths
    n_runs = next((i for i, p in enumerate(paths) if not p.is_dir()), len(paths))
    folders, images = paths[:n_runs], paths[n_runs:]
    if not folders or not images:
        raise ConfigError("predict needs a run folder, then at least one image file")
    rows = np.stack([image_row(path) for path in images])
    probs, names = [], None
    for folder in folders:
        for name in (CONFIG_FILE, PARAMS_FILE):
            if not (folder / name).is_file():
                raise ConfigError(f"{folder} is not a finished run folder: {name} is missing")
        config = load_config(folder / CONFIG_FILE)
        transform = load_input_transform(folder, config)
        if names is not None and transform.class_names != names:
            raise ConfigError(
                f"cannot ensemble {folders[0]} and {folder}: they differ in class names"
            )
        names = transform.class_names
        sizes = (transform.n_inputs, *config.model.hidden, len(names))
        params = load_params(folder / PARAMS_FILE, sizes, config.model.dtype)
        probs.append(member_probabilities(params, transform(rows), config.augment.tta)[1])
    assert names is not None
    mean = average_probabilities(probs)
    for path, p in zip(images, mean, strict=True):
        top = np.argsort(-p, kind="stable")[:TOP]
        print(f"{path}: " + ", ".join(f"{names[k]} {100 * p[k]:.1f} %" for k in top))
    return 0
