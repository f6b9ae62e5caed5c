"""Chaos: ``handprop train --resume`` killed 20 times at random moments, with a second
process trying the same folder meanwhile, ends bit-identical to an uninterrupted run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from handprop.nn import params_equal
from handprop.train import load_params

KILLS = 20
SETTINGS = {
    "n_train": 1000,
    "n_val": 500,
    "hidden": "[8]",
    "n_s": 1000,
    "n_cycles": 1,
    "eval_every": 10,
    "checkpoint_every": 2,
}


def command(out: Path) -> list[str]:
    sets = [arg for k, v in SETTINGS.items() for arg in ("--set", f"{k}={v}")]
    return [sys.executable, "-m", "handprop", "train", "--config", "baseline", *sets]


def run(out: Path, *more: str, **kw) -> subprocess.Popen:
    args = [*command(out), "--out", str(out), "--no-progress", "--no-figures", *more]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def checkpoint_step(out: Path) -> int:
    try:
        return int(json.loads((out / "checkpoint" / "checkpoint.json").read_text())["step"])
    except (OSError, ValueError, KeyError):
        return -1


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_twenty_kills_and_a_rival_end_bit_identical(tmp_path):
    if not os.path.exists(os.environ.get("HANDPROP_DATA", "")):
        pytest.skip("needs the CIFAR-10 archive (HANDPROP_DATA)")
    rng = random.Random(14)
    out = tmp_path / "chaos"
    rival_refused = False
    for kill in range(KILLS):
        before = checkpoint_step(out)
        proc = run(out, "--resume")
        deadline = time.monotonic() + 300
        while checkpoint_step(out) <= before and proc.poll() is None:
            assert time.monotonic() < deadline, "no progress within 300 s"
            time.sleep(0.005)
        assert proc.poll() is None, f"the run ended after {kill} kills: make it longer"
        if kill == KILLS // 2:  # a second process while the first holds the folder
            proc.send_signal(signal.SIGSTOP)
            rival = run(out, "--resume")
            _, err = rival.communicate(timeout=300)
            assert rival.returncode == 2, err.decode()
            assert f"is in use by PID {proc.pid}" in err.decode()
            assert len(err.decode().strip().splitlines()) == 1
            rival_refused = True
        time.sleep(rng.uniform(0.0, 0.1))
        proc.kill()
        proc.wait()
    assert rival_refused
    finish = run(out, "--resume")
    _, err = finish.communicate(timeout=600)
    assert finish.returncode == 0, err.decode()
    reference = run(tmp_path / "reference")
    _, err = reference.communicate(timeout=600)
    assert reference.returncode == 0, err.decode()

    assert params_equal(
        load_params(out / "params.npz"), load_params(tmp_path / "reference" / "params.npz")
    )
    history = [json.loads((d / "history.json").read_text()) for d in (out, tmp_path / "reference")]
    assert history[0] == history[1]
    assert json.loads((out / "metrics.json").read_text())["status"] == "completed"
    assert sorted(p.name for p in out.iterdir()) == [
        "config.toml",
        "history.csv",
        "history.json",
        "metrics.json",
        "normalization.npz",
        "params.npz",
    ]
