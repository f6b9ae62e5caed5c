"""The ``handprop`` command line.

Each module in this package is one subcommand and defines
``register(subparsers) -> None``, which adds its parser and sets
``func=run`` (``run(args) -> int``). Modules are discovered, so adding a
subcommand means adding a module. Building the parser imports no command's
dependencies: each module imports them in ``run``, and a command whose options need
them (the experiments ``reproduce --only`` takes) passes ``arguments=`` to
``add_parser`` (see :class:`CommandParser`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from handprop import interrupt
from handprop.errors import HandpropError


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """The required ``--config NAME|FILE`` of a training command and its ``--set``."""
    parser.add_argument(
        "--config", required=True, metavar="NAME|FILE", help="packaged config name or .toml path"
    )
    add_set_option(parser, "the config")


def add_set_option(parser: argparse.ArgumentParser, what: str) -> None:
    """The repeatable ``--set KEY=VALUE`` override of ``what`` (a training config)."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a field of {what}, value in TOML syntax (repeatable): "
        "--set optimizer.lam=0.002, or by its bare name where unambiguous: --set lam=0.002",
    )


def command_line(args: argparse.Namespace, *words: str) -> str:
    """``handprop [--data PATH] [--no-cache] WORDS...`` for the shell, each word quoted."""
    line = ["handprop"]
    if args.data:
        line += ["--data", args.data]
    if args.no_cache:
        line.append("--no-cache")
    return shlex.join([*line, *words])


def resume_words(args: argparse.Namespace, out: object) -> list[str]:
    """``--config C --set K=V ... --out OUT`` and the display flags of a training command."""
    words = ["--config", args.config]
    for assignment in args.set:
        words += ["--set", assignment]
    words += ["--out", str(out)]
    words += [flag for flag, on in (("--no-progress", args.no_progress),
                                    ("--no-figures", args.no_figures)) if on]  # fmt: skip
    return words


class CommandParser(argparse.ArgumentParser):
    """A subcommand's parser; ``arguments(parser)``, when given, adds its arguments once
    the command is parsed (or :meth:`complete` is called), not when the parser is built."""

    def __init__(
        self,
        *args: Any,
        arguments: Callable[[argparse.ArgumentParser], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._arguments = arguments

    def complete(self) -> CommandParser:
        """This parser with all its arguments added."""
        if self._arguments is not None:
            arguments, self._arguments = self._arguments, None
            arguments(self)
        return self

    def parse_known_args(self, *args: Any, **kwargs: Any) -> Any:
        self.complete()
        return super().parse_known_args(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="handprop",
        description="Train fully connected CIFAR-10 classifiers with hand-written backpropagation.",
    )
    from handprop import __version__

    parser.add_argument("--version", action="version", version=f"handprop {__version__}")
    parser.add_argument(
        "--data",
        metavar="PATH",
        help="CIFAR-10 source for this command: a cifar-10-python.tar.gz archive or a folder "
        "holding cifar-10-batches-py/ (sets HANDPROP_DATA; default: $HANDPROP_DATA, then the "
        "copy recorded by 'handprop data use', then the cache, then download; "
        "'handprop data show' says which)",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write the decoded-data cache for this command "
        "(sets HANDPROP_NO_CACHE=1; see 'handprop cache')",
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=CommandParser
    )
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}").register(sub)
    return parser


def _os_error(err: OSError) -> str:
    """``"No space left on device: runs/x/params.npz"``: an OSError in one line."""
    where = f": {err.filename}" if err.filename else ""
    return f"{err.strerror or err}{where}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; expected failures print one line and return 2, Ctrl-C 130."""
    command = "handprop"
    interrupt.install()
    try:
        args = build_parser().parse_args(argv)
        command = f"handprop {args.command}"
        if args.data:  # read by every load (handprop.data.DataSource.resolve) and child
            from handprop.data.source import DATA_ENV

            os.environ[DATA_ENV] = os.path.abspath(args.data)
        if args.no_cache:
            from handprop.data.cache import NO_CACHE_ENV

            os.environ[NO_CACHE_ENV] = "1"
        return int(args.func(args) or 0)
    except BaseException as err:
        if interrupt.interrupted(err):
            print(f"{command}: interrupted", file=sys.stderr)
            return 130
        if isinstance(err, HandpropError):
            message = str(err)
        elif isinstance(err, OSError):
            message = _os_error(err)
        elif isinstance(err, MemoryError):
            message = "out of memory"
        else:
            raise
        print(f"{command}: error: {message}", file=sys.stderr)
    return 2


def entry() -> NoReturn:
    """The ``handprop`` script: :func:`main`, then :func:`handprop.interrupt.leave`."""
    interrupt.leave(main())


if __name__ == "__main__":
    entry()
