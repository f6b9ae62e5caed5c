"""The README's examples, run as written after its set-up command 1, in an empty home.

The set-up command records the data copy (``handprop data use``); every later example must
find it without ``--data`` or ``HANDPROP_DATA``. Substituted only where a test must: the
install is skipped (the package under test is importable), the copy's path is this
machine's, the main job runs the smoke suite, and training commands get small ``--set``
budgets. ``predict``'s two pictures are made here.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

README = Path(__file__).parents[2] / "README.md"
SMALL = ["n_train=1000", "n_s=10", "eval_every=5", "train_eval_size=0"]
TRAINING = ("train", "ensemble", "search", "lr-find")


def blocks(language: str) -> list[str]:
    """The README's fenced code blocks in ``language``."""
    return re.findall(rf"^```{language}\n(.*?)^```", README.read_text(), re.M | re.S)


def setup_command() -> str:
    """Set-up command 1 as this test runs it."""
    (line,) = [x for x in blocks("bash")[0].splitlines() if "handprop reproduce" in x]
    install, *rest = [part.strip() for part in line.split("&&")]
    assert install.startswith("python -m pip install")
    data = os.environ["HANDPROP_DATA"]
    command = " && ".join(rest).replace("../shared/data/cifar-10-python.tar.gz", data)
    return command.replace("--suite full", "--suite smoke")


def command_lines() -> list[str]:
    """The command-line examples, each shrunk where it trains."""
    lines = []
    for line in blocks("bash")[1].splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["handprop"] and words[1] in TRAINING:
            words += [w for s in SMALL for w in ("--set", s)]
        lines.append(shlex.join(words))
    return lines


def python_example() -> str:
    (code,) = blocks("python")
    small = ", ".join(f'"{s}"' for s in SMALL)
    return code.replace("with_overrides([", f"with_overrides([{small}, ", 1)


@pytest.fixture
def home(tmp_path):
    """An empty home; ``handprop`` on PATH runs this interpreter's package."""
    source = os.environ.get("HANDPROP_DATA", "")
    if not source or not os.path.exists(source):
        pytest.skip(f"no real CIFAR-10 data: HANDPROP_DATA={source!r}")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "handprop"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m handprop "$@"\n')
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HANDPROP_", "XDG_"))}
    env.update(
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / ".config"),
        XDG_CACHE_HOME=str(tmp_path / ".cache"),
        PATH=f"{bin_dir}{os.pathsep}{env['PATH']}",
        MPLBACKEND="Agg",
    )
    work = tmp_path / "repo"
    work.mkdir()
    rng = np.random.default_rng(0)
    for name in ("cat.png", "dog.jpg"):
        Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)).save(work / name)
    return work, env


def run(command: str, work: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


def test_the_examples_are_extracted():
    assert "handprop data use" in setup_command()
    lines = command_lines()
    assert len(lines) >= 10 and all(line.startswith("handprop ") for line in lines)
    assert "n_train=1000" in python_example()


@pytest.mark.slow
@pytest.mark.timeout(3600)  # some twenty commands, each a fresh process
def test_readme_examples_run_as_written_after_setup(home):
    work, env = home
    data = os.environ["HANDPROP_DATA"]
    run(setup_command(), work, env)
    assert not (work / "runs").exists()
    run(f"python -c {shlex.quote(python_example())}", work, env)
    for line in command_lines():
        run(line, work, env)
    assert data in (work.parent / ".config" / "handprop" / "data.json").read_text()
