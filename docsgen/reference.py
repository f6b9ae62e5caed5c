"""The reference pages generated from the code: every command from the argparse parser and
every config key from the attrs config records, so neither can drift from the program."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

import attrs

from handprop.cli import build_parser
from handprop.errors import ConfigError
from handprop.train import config as C


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """``{name: parser}`` of a parser's subcommands (empty without any), each with all its
    arguments."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {name: sub.complete() for name, sub in action.choices.items()}
    return {}


def _walk(
    parser: argparse.ArgumentParser, path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for name, sub in subcommands(parser).items():
        yield from _walk(sub, (*path, name))


def command_paths() -> list[str]:
    """Every command of the CLI, ``"handprop train"``, ``"handprop cache clear"``, ..."""
    return [" ".join(path) for path, _ in _walk(build_parser(), ("handprop",))]


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _option_rows(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
            continue
        names = ", ".join(f"`{s}`" for s in action.option_strings) or f"`{action.dest}`"
        if action.metavar and action.option_strings:
            names += f" `{action.metavar}`"
        names = _escape(names)
        default = (
            ""
            if action.default in (None, argparse.SUPPRESS, False, []) or not action.option_strings
            else f"`{action.default}`"
        )
        choices = f" (one of {', '.join(map(str, action.choices))})" if action.choices else ""
        helptext = (action.help or "") % vars(action) if action.help else ""
        rows.append(f"| {names} | {_escape(helptext + choices)} | {default} |")
    return rows


def cli_markdown() -> str:
    """The command-line reference: one section per command, its usage and every option."""
    lines = [
        "# Command line",
        "",
        "Generated from the program's own argument parser when the site is built.",
        "",
    ]
    for path, parser in _walk(build_parser(), ("handprop",)):
        name = " ".join(path)
        lines += [f"## `{name}`", ""]
        if parser.description:
            lines += [parser.description, ""]
        usage = parser.format_usage().removeprefix("usage: ").strip()
        lines += ["```text", usage, "```", ""]
        rows = _option_rows(parser)
        if rows:
            lines += ["| argument | meaning | default |", "|---|---|---|", *rows, ""]
        subs = subcommands(parser)
        if subs:
            lines += ["Subcommands: " + ", ".join(f"`{name} {s}`" for s in subs), ""]
    return "\n".join(lines)


class _Probe:
    """A value no validator accepts: its error message says what the key allows."""

    def __repr__(self) -> str:
        return "<probe>"


def allowed(cls: type, field: attrs.Attribute[Any]) -> str:
    """What a field's validator accepts, from the one-line error it raises."""
    if field.validator is None:
        return ""
    try:
        field.validator(cls.__new__(cls), field, _Probe())
    except ConfigError as err:
        return str(err).split(" must be ", 1)[-1].removesuffix(", got <probe>")
    except Exception:  # a validator that only knows its own types
        return ""
    return ""


def _type_name(tp: Any) -> str:
    text = tp if isinstance(tp, str) else getattr(tp, "__name__", str(tp))
    return str(text).replace("typing.", "")


def config_keys() -> list[str]:
    """Every dotted config key, ``model.hidden``, ..., ``run.snapshots``."""
    return list(C.KEYS)


def config_markdown() -> str:
    """The config reference: one table per TOML table, each key's type, default and rule."""
    lines = [
        "# Config keys",
        "",
        "Generated from the config records in `handprop.train.config` when the site is built.",
        "A training config is a TOML file with these tables; every key is optional and",
        "`--set TABLE.KEY=VALUE` (or the bare key where unambiguous) overrides one.",
        "",
        (C.TrainConfig.__doc__ or "").strip().replace("\n    ", "\n"),
        "",
    ]
    for table, cls in C.TABLES.items():
        doc = " ".join((cls.__doc__ or "").split())
        lines += [f"## `[{table}]`", "", doc, "", "| key | type | default | allowed |"]
        lines.append("|---|---|---|---|")
        for field in attrs.fields(cls):
            default = field.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                default = default.factory()
            lines.append(
                f"| `{table}.{field.name}` | `{_escape(_type_name(field.type))}` | "
                f"`{default!r}` | {_escape(allowed(cls, field))} |"
            )
        lines.append("")
    return "\n".join(lines)
