"""The search on a real Dask distributed cluster (LocalCluster on 127.0.0.1)."""

from __future__ import annotations

import pytest
from search_fakes import LAMBDA_SPACE, TWO_STAGES, FakeConfig, fake_runner

from handprop.errors import ConfigError
from handprop.search import read_results, search

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def scheduler_address():
    # One worker thread in this process: OpenBLAS does not reliably take a thread count
    # set from one thread and restored from another (threadpoolctl supports the main
    # thread only), and two worker threads can leave the test process at one BLAS thread,
    # which changes the bits of every later in-process run.
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as cluster:
        yield cluster.scheduler_address


def test_search_on_a_dask_cluster_matches_the_local_search(scheduler_address, tmp_path):
    on_dask = search(FakeConfig(), LAMBDA_SPACE, out_dir=tmp_path / "dask", stages=TWO_STAGES,
                     runner=fake_runner, scheduler=scheduler_address)  # fmt: skip
    assert scheduler_address.startswith("tcp://127.0.0.1:")
    local = search(FakeConfig(), LAMBDA_SPACE, out_dir=tmp_path / "local", stages=TWO_STAGES,
                   runner=fake_runner, workers=0)  # fmt: skip
    assert on_dask.chosen == local.chosen
    for a, b in zip(on_dask.stages, local.stages, strict=True):
        assert a.space == b.space
        assert [(r.values, r.outcome) for r in a.records] == [
            (r.values, r.outcome) for r in b.records
        ]
    assert len(read_results(tmp_path / "dask" / "results.jsonl")) == 12


def test_an_unreachable_scheduler_is_a_config_error(tmp_path):
    import dask

    with (
        dask.config.set({"distributed.comm.timeouts.connect": "2s"}),
        pytest.raises(ConfigError, match="cannot connect"),
    ):
        search(FakeConfig(), LAMBDA_SPACE, out_dir=tmp_path, runner=fake_runner,
               scheduler="tcp://127.0.0.1:9")  # fmt: skip


def test_halving_search_on_a_dask_cluster_matches_the_local_search(scheduler_address, tmp_path):
    from search_fakes import HALVING, HALVING_SPACE, halving_runner

    results = {
        where: search(
            FakeConfig(),
            HALVING_SPACE,
            out_dir=tmp_path / where,
            stages=HALVING,
            runner=halving_runner,
            **options,
        )
        for where, options in (
            ("dask", {"scheduler": scheduler_address}),
            ("local", {"workers": 0}),
        )
    }
    assert results["dask"].chosen == results["local"].chosen
    assert len(read_results(tmp_path / "dask" / "results.jsonl")) == 27 + 9 + 3


@pytest.mark.parametrize("address", ["not a url", "tcp://", "foo://x:1", "tcp://host:notaport"])
def test_an_invalid_scheduler_address_is_refused_before_writing(tmp_path, address):
    with pytest.raises(ConfigError, match="scheduler = "):
        search(FakeConfig(), LAMBDA_SPACE, out_dir=tmp_path / "out", runner=fake_runner,
               scheduler=address)  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_a_lost_scheduler_is_one_line_saying_how_to_resume(tmp_path):
    from distributed.comm.core import CommClosedError

    from handprop.errors import HandpropError
    from handprop.search.executor import dask_executor

    with (
        pytest.raises(HandpropError, match=r"lost the Dask scheduler .* rerun the same command"),
        distributed.LocalCluster(
            n_workers=1,
            processes=False,
            protocol="tcp",
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster,  # fmt: skip
        dask_executor(cluster.scheduler_address),
    ):
        raise CommClosedError("in <TCP (closed)>: Stream is closed")


def test_an_optuna_study_runs_its_trials_on_a_dask_cluster(scheduler_address, tmp_path):
    optuna = pytest.importorskip("optuna")
    from search_fakes import lines, run_tpe

    out, log = tmp_path / "search", tmp_path / "executions.log"
    run_tpe(out, log, 0.0, 0, n=6, scheduler=scheduler_address)
    study = optuna.load_study(study_name="handprop", storage=f"sqlite:///{out / 'study.db'}")
    trials = study.get_trials()
    assert [t.number for t in trials] == list(range(6)) and lines(log) == 6
    assert all(t.intermediate_values for t in trials)  # reported from the worker
    states = {t.state for t in trials}
    assert states <= {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}
    assert len(read_results(out / "results.jsonl")) == 6
    run_tpe(out, log, 0.0, 0, n=6, scheduler=scheduler_address)  # finished: none again
    assert lines(log) == 6
