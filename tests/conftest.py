"""Shared fixtures: the real CIFAR-10 copy (skipped locally without ``HANDPROP_DATA``,
required in CI), and a derandomized Hypothesis profile so every run draws the same
examples (set ``HYPOTHESIS_PROFILE=explore`` for fresh random ones)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture(scope="session", autouse=True)
def _cache_folder(tmp_path_factory):
    """Without ``HANDPROP_CACHE``, decoded copies go to a session folder, not the user's cache."""
    if os.environ.get("HANDPROP_CACHE"):
        yield
        return
    os.environ["HANDPROP_CACHE"] = str(tmp_path_factory.mktemp("handprop-cache"))
    yield
    del os.environ["HANDPROP_CACHE"]


@pytest.fixture(scope="session", autouse=True)
def _config_folder(tmp_path_factory):
    """A session config folder: no data source recorded by ``handprop data use`` in the
    user's own config reaches the tests, and none is recorded there by them."""
    before = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("handprop-config"))
    yield
    if before is None:
        del os.environ["XDG_CONFIG_HOME"]
    else:
        os.environ["XDG_CONFIG_HOME"] = before


def _require_real_data() -> str:
    source = os.environ.get("HANDPROP_DATA", "")
    if not source or not os.path.exists(source):
        if os.environ.get("CI"):
            pytest.fail(f"HANDPROP_DATA must point at the CIFAR-10 copy in CI (got {source!r})")
        pytest.skip(f"no real CIFAR-10 data: HANDPROP_DATA={source!r}")
    return source


@pytest.fixture(scope="session")
def cifar10():
    """The raw CIFAR-10 record loaded from ``HANDPROP_DATA``."""
    from handprop.data import load_cifar10

    _require_real_data()
    return load_cifar10(progress=False)


@pytest.fixture(scope="session")
def real_splits(cifar10):
    """``batch1`` splits (data_batch_1 / data_batch_2 / test_batch), normalised, float64."""
    from handprop.data import make_splits, normalize

    return normalize(make_splits(cifar10, "batch1", dtype=np.float64))


@pytest.fixture(scope="session")
def real_rows64(real_splits):
    """First 64 normalised training rows and labels of the real copy, float64."""
    return real_splits.train.X[:64], real_splits.train.y[:64]


@pytest.fixture
def tiny_data(monkeypatch):
    """300 / 100 / 100 synthetic float32 images whose labels a linear map decides, served by
    :func:`handprop.train.load_data` for every config (tiny runs, ensembles)."""
    from handprop.data import Dataset, Splits
    from handprop.train import data as data_module

    rng = np.random.default_rng(0)
    W = rng.standard_normal((3072, 10))

    def dataset(n: int) -> Dataset:
        X = rng.standard_normal((n, 3072)).astype(np.float32)
        return Dataset(X, (X @ W).argmax(axis=1), tuple(f"c{k}" for k in range(10)))

    splits = Splits(dataset(300), dataset(100), dataset(100))
    monkeypatch.setattr(data_module, "prepared_splits", lambda *args: (splits, None))
    return splits


def _start_postgres(folder):
    """A throwaway PostgreSQL cluster in ``folder``, on 127.0.0.1 with trust auth; its URL
    and stop command, or ``None`` and the reason it could not start."""
    import glob
    import shutil
    import socket
    import subprocess

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb")]
    if not found[-1]:
        return None, "no PostgreSQL server binaries (initdb): apt-get install postgresql"
    bin_dir = os.path.dirname(found[-1])
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(folder, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = os.path.join(folder, "data")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder}"
    log = os.path.join(folder, "log")
    commands = [
        [*as_user, f"{bin_dir}/initdb", "-D", data, "-A", "trust", "-U", "handprop"],
        [*as_user, f"{bin_dir}/pg_ctl", "-D", data, "-l", log, "-w", "-o", options, "start"],
    ]
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            return None, f"{os.path.basename(command[len(as_user)])} failed: {done.stderr.strip()}"
    stop = [*as_user, f"{bin_dir}/pg_ctl", "-D", data, "-m", "immediate", "stop"]
    return (f"postgresql://handprop@127.0.0.1:{port}/postgres", stop), None


@pytest.fixture(scope="session")
def postgres_server():
    """The URL of a PostgreSQL server: ``HANDPROP_TEST_POSTGRES``, else a cluster this
    session starts on loopback (skipped locally if it cannot, a failure in CI)."""
    import subprocess
    import tempfile

    given = os.environ.get("HANDPROP_TEST_POSTGRES")
    if given:
        yield given
        return
    folder = tempfile.mkdtemp(prefix="handprop-pg-")  # short: the socket path has a limit
    started, reason = _start_postgres(folder)
    if started is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a PostgreSQL server for the shared-study tests: {reason}")
        pytest.skip(f"no local PostgreSQL server: {reason}")
    url, stop = started
    yield url
    subprocess.run(stop, capture_output=True)


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh, empty database on the test server."""
    import uuid

    psycopg = pytest.importorskip("psycopg")
    name = f"handprop_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return postgres_server.rsplit("/", 1)[0] + f"/{name}"
