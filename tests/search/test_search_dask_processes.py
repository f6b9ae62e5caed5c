"""``handprop --data ... search --scheduler`` on a scheduler and two workers started by hand
(``dask scheduler``, ``dask worker --nworkers 2``) whose environment names no data: the
client's source travels with every trial, and the trials match the inline ones bit for bit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from search_fakes import TINY_BASE

from handprop.cli import main
from handprop.search import read_results

distributed = pytest.importorskip("distributed")


TINY_SEARCH = """
[base]
config = "tiny.toml"
[[dimensions]]
name = "lam"
low = 1e-4
high = 1e-1
[[stages]]
method = "grid"
n = 3
[[stages]]
method = "random"
n = 2
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cluster(tmp_path) -> Iterator[str]:
    """A scheduler and a ``--nworkers 2`` worker as separate processes, without
    ``HANDPROP_DATA`` and with an empty cache: the workers cannot find data on their own."""
    address = f"tcp://127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if k != "HANDPROP_DATA"}
    env["HANDPROP_CACHE"] = str(tmp_path / "empty-cache")
    dask = [sys.executable, "-m", "dask"]
    port = address.rsplit(":", 1)[1]
    procs = [
        subprocess.Popen(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
            env=env,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [*dask, "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
            env=env,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        with distributed.Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def outcomes(out: Path) -> dict:
    return {k: r.outcome for k, r in read_results(out / "results.jsonl").items()}


@pytest.mark.slow
@pytest.mark.realdata
def test_search_on_separate_dask_processes_gets_the_clients_data(cluster, tmp_path, monkeypatch):
    source = os.environ.get("HANDPROP_DATA", "")
    if not source or not os.path.exists(source):
        pytest.skip("no real CIFAR-10 data")
    (tmp_path / "tiny.toml").write_text(TINY_BASE)
    (tmp_path / "search.toml").write_text(TINY_SEARCH)
    monkeypatch.setenv("HANDPROP_DATA", source)  # restored after --data sets it
    args = ["--data", source, "search", "--config", str(tmp_path / "search.toml")]
    assert main([*args, "--scheduler", cluster, "--out", str(tmp_path / "dask")]) == 0
    assert main([*args, "--workers", "0", "--out", str(tmp_path / "inline")]) == 0
    on_dask = outcomes(tmp_path / "dask")
    assert len(on_dask) == 5
    assert {o.status for o in on_dask.values()} == {"completed"}
    assert on_dask == outcomes(tmp_path / "inline")
