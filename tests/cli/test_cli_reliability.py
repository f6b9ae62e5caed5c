"""Entry points under attack: Ctrl-C while starting, damaged results folders, locks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from handprop.errors import DataError
from handprop.lock import FolderInUse, folder_lock
from handprop.reproduce.collect import collect
from handprop.reproduce.runner import claim, read_metrics, run_all


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT")
@pytest.mark.parametrize("delay", [0.15, 0.3, 0.6, 1.0])
def test_ctrl_c_while_starting_is_one_line(tmp_path, delay):
    env = os.environ | {"HANDPROP_DATA": str(tmp_path / "missing.tar.gz")}
    args = ["-m", "handprop", "train", "--config", "baseline", "--out", str(tmp_path / "run")]
    proc = subprocess.Popen(
        [sys.executable, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err, err.decode()
    assert proc.returncode in (2, 130, -signal.SIGINT), err.decode()


def test_damaged_reproduce_files_are_data_errors(tmp_path):
    (tmp_path / "metrics.json").write_text('{"status": "comp')
    with pytest.raises(DataError, match=r"metrics file .* is unreadable"):
        read_metrics(tmp_path)
    (tmp_path / "suite.json").write_text("[]")
    with pytest.raises(DataError, match=r"suite file .* must hold a JSON object"):
        claim(tmp_path, "smoke", force=False)
    with pytest.raises(DataError, match="suite file"):
        collect(tmp_path)
    (tmp_path / "suite.json").write_text(json.dumps({"suite": "smoke"}))
    assert collect(tmp_path).suite == "smoke"


def test_a_results_folder_in_use_is_refused(tmp_path):
    with folder_lock(tmp_path, "results folder"), pytest.raises(FolderInUse, match="in use by"):
        run_all(tmp_path, suite="smoke", only=["gradcheck"], progress=False)


SWALLOWED_CTRL_C = """
import sys, weakref
from handprop.interrupt import redeliver_interrupts
redeliver_interrupts()
class Thing: pass
def cb(_):
    raise KeyboardInterrupt
thing = Thing()
ref = weakref.ref(thing, cb)
try:
    del thing
    for _ in range(10**7):
        pass
except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    sys.exit(130)
sys.exit(0)
"""


def test_ctrl_c_inside_a_weakref_callback_is_redelivered():
    """An import's module-lock callback swallows Ctrl-C with a traceback unless redelivered."""
    proc = subprocess.run(
        [sys.executable, "-c", SWALLOWED_CTRL_C], capture_output=True, timeout=120
    )
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    assert proc.returncode == 130, proc.stderr.decode()
    assert proc.stderr == b"interrupted\n"
