"""Ctrl-C sent to the whole process group (as a terminal sends it) while a search starts its
worker processes ends with one line: the workers print nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from search_fakes import HERE

SCRIPT = """
import sys
from handprop import interrupt
from handprop.search import search
import search_fakes

interrupt.install()
print("ready", flush=True)
try:
    search(search_fakes.FakeConfig(delay=0.5), search_fakes.LAMBDA_SPACE, out_dir=sys.argv[1],
           stages=search_fakes.TWO_STAGES, runner=search_fakes.fake_runner, workers=2)
except BaseException as err:
    if not interrupt.interrupted(err):
        raise
    print("search: interrupted", file=sys.stderr)
    sys.exit(130)
"""


@pytest.mark.parametrize("delay", [0.2, 0.6, 1.0, 1.6, 2.5])
def test_ctrl_c_to_the_process_group_while_workers_start_is_one_line(tmp_path, delay):
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    }
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path / "out")], env=env,
                            start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout.readline() == "ready\n"  # the search's own start is not under test
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode in (130, 0), err
    if proc.returncode == 130:
        assert err.strip() == "search: interrupted", err
