"""``handprop gradcheck``: analytic gradients against PyTorch autograd and finite differences."""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from handprop.errors import ConfigError

#: Named networks: hidden sizes and batch norm of every hidden layer.
NETWORKS: dict[str, tuple[tuple[int, ...], bool]] = {
    "one-layer": ((), False),
    "two-layer": ((50,), False),
    "batchnorm": ((50, 30), True),
}


def _hidden_sizes(text: str) -> tuple[int, ...]:
    """``"50"`` -> (50,), ``"100,50"`` -> (100, 50), ``""`` -> () (the one-layer network)."""
    try:
        return tuple(int(m) for m in text.split(",") if m.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"hidden sizes are comma-separated integers, got {text!r}"
        ) from None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gradcheck",
        help="check the hand-written gradients against PyTorch and finite differences",
        description=(
            "Compare handprop's analytic gradients with PyTorch autograd (float64) and with "
            "five-point centred finite differences, and print the max absolute and max relative "
            "error per parameter for every network x lambda x dropout x label smoothing "
            "combination; then each optimiser's updates against torch.optim. Exits 1 when an "
            "error exceeds the acceptance thresholds (torch max abs 1e-12, FD max rel 1e-6, "
            "optimiser max rel 1e-12)."
        ),
    )
    parser.add_argument(
        "--net",
        nargs="+",
        choices=tuple(NETWORKS),
        default=list(NETWORKS),
        help="networks to check: one-layer (no hidden layer), two-layer (m=50), batchnorm "
        "(m=50,30, each hidden layer batch-normalised, training mode) (default: all three)",
    )
    parser.add_argument(
        "--hidden",
        type=_hidden_sizes,
        action="append",
        metavar="M[,M...]",
        help="custom hidden sizes, e.g. 100 or 100,50 (repeatable; replaces --net)",
    )
    parser.add_argument(
        "--batchnorm",
        action="store_true",
        help="batch-normalise every hidden layer of the --hidden networks",
    )
    parser.add_argument(
        "--lam", type=float, nargs="+", default=[0.01], help="L2 strengths (default 0.01)"
    )
    parser.add_argument(
        "--dropout",
        type=float,
        nargs="+",
        default=[0.0, 0.5],
        help="dropout rates of the fixed masks; 0 = no dropout (default: 0 and 0.5)",
    )
    parser.add_argument(
        "--smoothing",
        type=float,
        nargs="+",
        default=[0.0, 0.1],
        help="label smoothing of the loss; 0 = none (default: 0 and 0.1)",
    )
    parser.add_argument("--n", type=int, default=20, help="number of input rows (default 20)")
    parser.add_argument(
        "--real",
        action="store_true",
        help="use the first N normalised CIFAR-10 training rows (see --data) instead of "
        "random standard-normal rows",
    )
    parser.add_argument(
        "--fd-coords",
        type=int,
        default=50,
        metavar="K",
        help="finite differences at K random coordinates per parameter (0 = skip; default 50)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of data, weights, masks, coords")
    parser.add_argument("--latex", type=Path, metavar="FILE", help="also write a LaTeX tabular")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the records as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from handprop import verify as gradcheck
    from handprop.atomic import write_text_atomic

    if args.n < 1:
        raise ConfigError(f"n must be >= 1, got {args.n}")
    if args.fd_coords < 0:
        raise ConfigError(f"fd-coords must be >= 0, got {args.fd_coords}")
    networks = [(h, args.batchnorm) for h in args.hidden or []] or [
        NETWORKS[name] for name in args.net
    ]
    cases = list(
        dict.fromkeys(  # one-layer cases ignore dropout: drop the duplicates
            gradcheck.CheckCase(h, lam, p, s, bn)
            for (h, bn), lam, p, s in itertools.product(
                networks, args.lam, args.dropout, args.smoothing
            )
        )
    )
    if args.real:
        X, y = gradcheck.real_rows(args.n, progress=True)
        source = f"first {len(X)} normalised CIFAR-10 training rows"
    else:
        X, y = gradcheck.random_rows(args.n, seed=args.seed)
        source = f"{len(X)} random standard-normal rows"
    rows = gradcheck.gradcheck_table(cases, X, y, fd_coords=args.fd_coords, seed=args.seed)
    print(f"Gradient check, float64, {source}, seed {args.seed}:")
    print(gradcheck.to_text(rows))
    if args.latex:
        write_text_atomic(args.latex, gradcheck.to_latex(rows) + "\n")
    if args.json:
        settings = {
            "data": "cifar10" if args.real else "random",
            "n_rows": len(X),
            "fd_coords": args.fd_coords,
            "seed": args.seed,
        }
        write_text_atomic(args.json, gradcheck.to_json(rows, **settings) + "\n")
    from handprop.verify import optimizers

    optim_rows = optimizers.optimizer_table(seed=args.seed)
    print("Optimiser updates against torch.optim, float64:")
    print(optimizers.optimizer_text(optim_rows))
    problems = gradcheck.failures(rows) + optimizers.optimizer_failures(optim_rows)
    for message in problems:
        print(f"handprop gradcheck: FAILED {message}", file=sys.stderr)
    if not problems:
        print(
            f"passed: torch max abs <= {gradcheck.MAX_TORCH_ABS:g}"
            + (f", FD max rel <= {gradcheck.MAX_FD_REL:g}" if args.fd_coords else "")
            + f", optimiser max rel <= {optimizers.MAX_OPTIM_REL:g}"
        )
    return 1 if problems else 0
