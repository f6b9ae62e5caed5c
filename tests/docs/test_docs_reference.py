"""The generated reference names every command, option and config key, and the built site
mentions no issue numbers."""

import argparse
import re

import pytest

pytest.importorskip("mkdocs")
from docsgen import reference, results

from handprop.cli import build_parser
from handprop.train.config import KEYS


def test_every_command_and_option_is_in_the_cli_reference():
    page = reference.cli_markdown()
    commands = reference.command_paths()
    assert {"handprop train", "handprop search", "handprop reproduce"} <= set(commands)
    for command in commands:
        assert f"## `{command}`" in page
    for name, sub in reference.subcommands(build_parser()).items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            for option in action.option_strings:
                assert f"`{option}`" in page, (name, option)


def test_every_config_key_is_in_the_config_reference():
    page = reference.config_markdown()
    assert len(KEYS) > 30
    for key in KEYS:
        assert f"| `{key}` |" in page, key


def test_config_reference_states_what_a_key_allows():
    page = reference.config_markdown()
    assert "| `model.dropout` | `float` | `0.0` | a number in [0, 1) |" in page
    assert "one of sgd, momentum, nesterov, adam, adamw" in page


def test_bookkeeping_is_stripped():
    text = "## Targets (issue 13)\nSee issue 5 for more."
    assert "issue" not in results.strip_bookkeeping(text)


def test_built_site_has_every_command_and_key_and_no_issue_numbers(site):
    cli = (site / "reference" / "cli.html").read_text(encoding="utf-8")
    config = (site / "reference" / "config.html").read_text(encoding="utf-8")
    for command in reference.command_paths():
        assert command in cli
    for key in KEYS:
        assert key in config
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"\bissues? \d+", text, re.I), page
