"""The Optuna study of a search: its storage, its identity, and its trials as records.

The storage is a relational database: by default ``study.db`` (SQLite) in the search
folder, or any SQLAlchemy URL (``postgresql://...``, ``sqlite:///...``) that several
processes or machines share. SQLite connections wait up to two minutes for a lock, so
processes writing one file take turns instead of failing with "database is locked".
The study records the search's definition and its hash as user attributes; a study
created by another search is refused. Each trial carries its handprop values, outcome
and full training config as user attributes (what ``optuna-dashboard`` shows next to the
params, values and intermediate values); :func:`trial_records` turns the study's
finished trials back into :class:`~handprop.search.results.TrialRecord` rows.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import cattrs

from handprop.errors import ConfigError
from handprop.search.results import TrialOutcome, TrialRecord

SQLITE_TIMEOUT = 120.0  # seconds a connection waits for another process's write lock
CONNECT_TIMEOUT = 10  # seconds to reach a database server
HASH_ATTR = "handprop_definition_hash"
DEFINITION_ATTR = "handprop_definition"
STATUS_ATTR = "handprop_status"  # set on every trial handprop finished (any state)
RETRIES = 8
RACES = ("locked", "already exists", "duplicate key", "UNIQUE constraint")  # concurrent set-up


def default_storage(out_dir: Path) -> str:
    """The SQLite URL of ``study.db`` in the search folder."""
    return f"sqlite:///{(Path(out_dir) / 'study.db').resolve()}"


def shown_url(url: str) -> str:
    """``url`` with any password masked."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: shown as given
        return url


def open_storage(url: str, heartbeat: tuple[int, int] | None = None) -> Any:
    """An Optuna ``RDBStorage`` on ``url``; with ``heartbeat = (interval, grace)``, trials
    whose process stopped beating for ``grace`` seconds are failed and re-queued once per
    failure (up to three times). An unusable URL or unreachable server is a ConfigError."""
    try:
        import optuna
        from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
    except ImportError as err:
        raise ConfigError("Optuna stages need optuna: pip install 'handprop[optuna]'") from err
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Heartbeats and stale-trial failing are marked experimental, and meant for
    # Study.optimize; handprop's ask-and-tell loop records the heartbeats itself.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", "Heartbeat of storage is supposed", UserWarning)
    if url.startswith("sqlite"):
        engine: dict[str, Any] = {"connect_args": {"timeout": SQLITE_TIMEOUT}}
    else:
        engine = {"pool_pre_ping": True, "connect_args": {"connect_timeout": CONNECT_TIMEOUT}}
    options: dict[str, Any] = {}
    if heartbeat is not None:
        options = {
            "heartbeat_interval": heartbeat[0],
            "grace_period": heartbeat[1],
            "heartbeat_stale_trial_callback": RetryHeartbeatStaleTrialCallback(max_retry=3),
        }
    if url.startswith("postgresql://"):  # the extra's driver, whatever SQLAlchemy's default
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    for attempt in range(RETRIES):  # processes creating one database's tables at once race
        try:
            with _setup_lock(url):
                return RDBStorage(url, engine_kwargs=engine, **options)
        except Exception as err:  # SQLAlchemy, driver and URL errors alike
            if attempt == RETRIES - 1 or not any(race in str(err) for race in RACES):
                first = str(err).strip().splitlines()[0] if str(err).strip() else ""
                raise ConfigError(
                    f"storage {shown_url(url)}: cannot open ({type(err).__name__}: {first})"
                ) from None
            time.sleep(0.25 * (attempt + 1))
    raise AssertionError("unreachable")


def _setup_lock(url: str) -> Any:
    """A file lock beside an SQLite file, held while its tables are created and checked
    (processes on one machine take turns); no lock for a server."""
    from filelock import FileLock
    from sqlalchemy.engine import make_url

    database = make_url(url).database if url.startswith("sqlite") else None
    if not database or database == ":memory:":
        return nullcontext()
    return FileLock(f"{database}.lock", timeout=SQLITE_TIMEOUT)


def definition_hash(definition: Mapping[str, Any]) -> str:
    """SHA-256 of the definition's canonical JSON."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def open_study(storage: Any, url: str, name: str, definition: Mapping[str, Any]) -> Any:
    """The study ``name`` in ``storage`` (created, maximising, if missing), checked to
    belong to the search ``definition``."""
    import optuna

    study = optuna.create_study(
        storage=storage, study_name=name, direction="maximize", load_if_exists=True
    )
    digest = definition_hash(definition)
    stored = study.user_attrs.get(HASH_ATTR)
    if stored is None:
        study.set_user_attr(DEFINITION_ATTR, dict(definition))
        study.set_user_attr(HASH_ATTR, digest)
    elif stored != digest:
        raise ConfigError(
            f"storage {shown_url(url)}: study {name!r} was created by another search "
            f"(definition hash {stored[:12]}, this one {digest[:12]}); "
            "use another --storage or study"
        )
    return study


def record_attrs(values: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """The user attributes a trial gets when it starts: its handprop values and config."""
    return {"handprop_values": dict(values), "handprop_config": dict(config)}


def outcome_attrs(outcome: TrialOutcome, wall_time: float) -> dict[str, Any]:
    """The user attributes a trial gets when handprop finishes it."""
    return {
        STATUS_ATTR: outcome.status,
        "handprop_outcome": cattrs.unstructure(outcome),
        "handprop_wall_time": wall_time,
    }


def finished_by_handprop(trial: Any) -> bool:
    """Whether a trial ended with a handprop outcome (not failed as stale, not running)."""
    return STATUS_ATTR in trial.user_attrs and trial.state.is_finished()


def trial_records(study: Any) -> list[TrialRecord]:
    """The study's trials that handprop finished, as stage-1 records in trial order."""
    records = []
    for t in study.get_trials(deepcopy=False):
        if not finished_by_handprop(t):
            continue
        outcome = cattrs.structure(t.user_attrs["handprop_outcome"], TrialOutcome)
        records.append(
            TrialRecord(
                key=f"stage=1 trial={t.number}",
                stage=1,
                trial=t.number + 1,
                values=dict(t.user_attrs["handprop_values"]),
                outcome=outcome,
                wall_time=float(t.user_attrs["handprop_wall_time"]),
            )
        )
    return records


@contextmanager
def heartbeats(storage: Any, interval: float) -> Iterator[set[int]]:
    """A set of trial ids whose heartbeats a thread records every ``interval`` seconds
    while the block runs (add a trial when it starts, discard it when it ends)."""
    beating: set[int] = set()
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            for trial_id in list(beating):
                storage.record_heartbeat(trial_id)

    thread = threading.Thread(target=beat, name="handprop-heartbeat", daemon=True)
    thread.start()
    try:
        yield beating
    finally:
        stop.set()
        thread.join()
