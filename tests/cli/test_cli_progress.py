"""Progress of ``reproduce``: live tqdm bars on a terminal (a pseudo-terminal here), plain
lines without carriage returns in a pipe; and the line form's cadence on a fake clock."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import struct
import subprocess
import sys
import termios

import pytest

from handprop.progress import Count, Progress

COMMAND = [sys.executable, "-m", "handprop", "reproduce", "--suite", "smoke", "--only", "overfit"]


def _real_data():
    source = os.environ.get("HANDPROP_DATA", "")
    if not source or not os.path.exists(source):
        pytest.skip(f"no real CIFAR-10 data: HANDPROP_DATA={source!r}")


def test_lines_every_tenth_and_at_the_end_without_carriage_returns():
    now = [0.0]
    stream = io.StringIO()
    meter = Progress(stream, overall=Count("suite", 200), clock=lambda: now[0])
    meter.start("run", 100)
    for _ in range(100):
        now[0] += 0.01
        meter.advance()
    meter.close()
    meter.start("second", 100, done=50)
    now[0] += 31  # 30 s without a tenth done: a line anyway
    meter.advance()
    meter.finish()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines[0].startswith("run: 0/100 steps (0 %)") and "suite: 0/200" in lines[0]
    assert [line.split()[1] for line in lines[:12]] == [f"{k}/100" for k in range(0, 101, 10)] + [
        "50/100"
    ]
    assert "ETA" in lines[5] and "100 steps/s" in lines[5]
    assert lines[-1].startswith("second: 51/100") and "suite: 101/200" in lines[-1]


def test_reproduce_in_a_pipe_prints_lines(tmp_path):
    _real_data()
    done = subprocess.run(
        [*COMMAND, "--out", str(tmp_path / "out")], capture_output=True, text=True, check=True
    )
    assert "\r" not in done.stderr
    progress = [line for line in done.stderr.splitlines() if line.startswith("overfit: ")]
    assert progress and "smoke suite: " in progress[-1] and "(100 %)" in progress[-1]


def test_reproduce_on_a_terminal_draws_bars(tmp_path):
    _real_data()
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    with subprocess.Popen(
        [*COMMAND, "--out", str(tmp_path / "out")], stdout=subprocess.DEVNULL, stderr=follower
    ) as process:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait() == 0
    os.close(leader)
    text = b"".join(chunks).decode(errors="replace")
    assert "\r" in text and "smoke suite" in text and "overfit" in text
    assert "step/s" in text or "s/step" in text  # tqdm's rate, drawn in place
