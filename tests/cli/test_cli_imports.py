"""Each command imports only what it needs: building the parser and showing help import
none of the numerical, plotting, search or report modules, and the package root imports
nothing until a name is used."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from handprop.cli import build_parser, main

#: What no help text needs: the third-party packages and handprop's own heavy modules.
HEAVY_PACKAGES = ("dask", "matplotlib", "numba", "numpy", "optuna", "scipy", "torch")
HEAVY_HANDPROP = ("handprop.reproduce.", "handprop.search.", "handprop.train.", "handprop.nn",
                  "handprop.runs")  # fmt: skip
#: reproduce's --only lists the report's experiments: its help reads the catalogue.
LIGHT = ("handprop.reproduce.catalogue",)

#: Prints, per command line, the heavy modules imported once its help has been shown.
PROBE = """
import json, sys
from handprop.cli import build_parser, main

def heavy():
    return sorted(m for m in sys.modules if m not in {light!r}
                  and (m.split(".")[0] in {packages!r} or m.startswith({handprop!r})))

found = {{"build_parser()": (build_parser(), heavy())[1]}}
for argv in {argvs!r}:
    try:
        main(argv)
    except SystemExit:
        pass
    found[" ".join(argv)] = heavy()
print(json.dumps(found))
"""


def _commands() -> list[str]:
    (action,) = (a for a in build_parser()._actions if a.dest == "command")
    assert action.choices is not None
    return list(action.choices)


def test_parser_and_help_import_nothing_heavy():
    commands = _commands()
    assert {"train", "lr-find", "search", "predict", "reproduce", "evaluate"} <= set(commands)
    argvs = [["--help"], ["--version"], *([name, "--help"] for name in commands)]
    code = PROBE.format(packages=HEAVY_PACKAGES, handprop=HEAVY_HANDPROP, light=LIGHT, argvs=argvs)
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    found = json.loads(done.stdout.splitlines()[-1])
    assert len(found) == len(argvs) + 1
    assert {line: modules for line, modules in found.items() if modules} == {}


def test_reproduce_options_are_added_when_it_is_parsed(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["reproduce", "--out", "results", "--only", "nonexistent"])
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert "--only: invalid choice: 'nonexistent'" in err
    assert "'beyond_ensemble'" in err


def test_package_names_stay_functions_after_their_subpackages_are_imported():
    code = (
        "import sys, handprop\n"
        "assert sorted(m for m in sys.modules if m.startswith(('numpy', 'handprop.'))) == "
        "['handprop.lazy', 'handprop.search', 'handprop.train'], sorted(sys.modules)\n"
        "import handprop.train.loop, handprop.search.engine\n"
        "from handprop.train.config import load_config\n"
        "assert handprop.train is sys.modules['handprop.train.loop'].train\n"
        "assert handprop.search is sys.modules['handprop.search.engine'].search\n"
        "assert handprop.load_config is load_config\n"
        "from handprop.train import train; from handprop import search\n"
        "assert (train, search) == (handprop.train, handprop.search)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
