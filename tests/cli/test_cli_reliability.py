"""Entry points under attack: Ctrl-C while starting, damaged results folders, locks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from handprop import interrupt
from handprop.cli import main
from handprop.data import cache
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


@pytest.mark.parametrize(("code", "finalised"), [(130, False), (2, True), (0, True)])
def test_an_interrupted_command_skips_finalisation(code, finalised):
    # Finalisation can abort on an import that a Ctrl-C cut short; after one, the
    # process ends without it (atexit handlers stand for it here), other exits run it.
    script = (
        "import atexit, handprop.cli as cli\n"
        "atexit.register(lambda: print('finalised'))\n"
        f"cli.main = lambda: {code}\n"
        "cli.entry()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == code, proc.stderr.decode()
    assert (b"finalised" in proc.stdout) is finalised


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
from handprop import interrupt
interrupt.install()
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


SET_NAME_CTRL_C = """
import os, signal, sys
from handprop import interrupt
interrupt.install()
class Ctrl_C_In_Set_Name:
    def __set_name__(self, owner, name):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10**8):
            pass
try:
    class Axes:
        method = Ctrl_C_In_Set_Name()
except BaseException as err:
    assert isinstance(err, RuntimeError), repr(err)
    print("interrupted" if interrupt.interrupted(err) else "missed", file=sys.stderr)
    sys.exit(130)
"""


def test_ctrl_c_inside_class_creation_is_an_interrupt():
    """Python turns Ctrl-C in ``__set_name__`` (matplotlib's axes import) into a RuntimeError."""
    proc = subprocess.run([sys.executable, "-c", SET_NAME_CTRL_C], capture_output=True, timeout=120)
    assert proc.returncode == 130, proc.stderr.decode()
    assert proc.stderr == b"interrupted\n"


@pytest.fixture
def sigint_handler(monkeypatch):
    """Give back pytest's SIGINT handler and a fresh interrupt record after the test."""
    monkeypatch.setattr(interrupt, "_received", False)
    handler = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, handler)


def _caused_by_ctrl_c(root):
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt as ctrl_c:
        raise RuntimeError("Error calling __set_name__") from ctrl_c


def _after_ctrl_c(root):
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    except KeyboardInterrupt:
        pass
    raise ValueError("a later failure that hides the interrupt")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT")
@pytest.mark.parametrize("failure", [_caused_by_ctrl_c, _after_ctrl_c])
def test_a_failure_from_or_after_ctrl_c_is_one_line(monkeypatch, capsys, sigint_handler, failure):
    monkeypatch.setattr(cache, "decoded_root", failure)
    assert main(["cache", "path"]) == 130
    assert capsys.readouterr().err == "handprop cache: interrupted\n"


def test_other_failures_still_raise(monkeypatch, sigint_handler):
    def fails(root):
        raise ValueError("a bug")

    monkeypatch.setattr(cache, "decoded_root", fails)
    with pytest.raises(ValueError, match="a bug"):
        main(["cache", "path"])
