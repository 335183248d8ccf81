"""Store round trips and error handling, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from agent.domain import Gap, GapKind, Kind, Pillar, Resource, Result, Severity, Status, freeze
from agent.store import (
    CoverageState,
    FindingStatus,
    ScanStatus,
    Store,
    StoreError,
    make_engine,
    parse_url,
)

ACCOUNT = "111122223333"
REGION = "eu-west-1"
CHECK = "sagemaker_endpoint_instance_count_redundant"
ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/ep-1"
# Two hours east of UTC: what is stored must come back as the same instant, in UTC.
PLUS_TWO = timezone(timedelta(hours=2))
SEEN = datetime(2026, 12, 1, 14, 30, 15, 123456, tzinfo=PLUS_TWO)


def _result(status: Status = Status.FAIL, **changes: object) -> Result:
    fields: dict[str, object] = {
        "check_id": CHECK,
        "status": status,
        "resource_arn": ARN,
        "reason": "one instance in variant AllTraffic",
        "account_id": ACCOUNT,
        "region": REGION,
        "severity": Severity.HIGH,
        "pillar": Pillar.RELIABILITY,
        "resource_kind": "endpoints",
        "sub_resource": "AllTraffic",
        "evidence": freeze(
            {
                "InitialInstanceCount": 1,
                "CreationTime": SEEN,
                "Variants": ({"Name": "AllTraffic", "Weight": 1.5},),
                "Kind": Kind.ENDPOINTS,
                "Note": "naïve ✓",
                "Missing": None,
                "Flag": False,
            }
        ),
        "observed_at": SEEN,
    }
    fields.update(changes)
    return Result(**fields)  # type: ignore[arg-type]


def _gap() -> Gap:
    return Gap(
        ACCOUNT,
        REGION,
        "sagemaker",
        "ListModels",
        GapKind.ACCESS_DENIED,
        "User is not authorized",
        kinds=(Kind.MODELS, Kind.ENDPOINT_CONFIGS),
        observed_at=SEEN,
    )


def _resource(name: str = "ep-1") -> Resource:
    arn = ARN.replace("ep-1", name)
    return Resource(Kind.ENDPOINTS, arn, name, ACCOUNT, REGION, freeze({"EndpointName": name}))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_store_write_account_round_trips(store: Store) -> None:
    """Results, gaps, coverage and resources come back as written, datetimes aware UTC."""
    sid = store.start_scan({"accounts": [ACCOUNT], "regions": [REGION], "flags": {"x": True}})
    store.write_account(
        sid,
        ACCOUNT,
        [_result()],
        [_gap()],
        [_resource(), _resource("ep-2")],
        [(REGION, "endpoints", "complete", None), (REGION, "models", "failed", "denied")],
        {(REGION, CHECK)},
    )

    [row] = store.findings()
    assert row.observed_at == SEEN and row.observed_at.tzinfo is UTC
    assert row.first_seen_at.utcoffset() == timedelta(0)
    assert row.evidence == {
        "InitialInstanceCount": 1,
        "CreationTime": "2026-12-01T12:30:15.123456+00:00",
        "Variants": [{"Name": "AllTraffic", "Weight": 1.5}],
        "Kind": "endpoints",
        "Note": "naïve ✓",
        "Missing": None,
        "Flag": False,
    }
    assert (row.status, row.severity, row.pillar) == (
        FindingStatus.FAIL,
        Severity.HIGH,
        Pillar.RELIABILITY,
    )
    assert (row.sub_resource, row.key) == ("AllTraffic", _result().key)

    [gap] = store.gaps(sid)
    assert (gap.kind, gap.kinds, gap.operation) == (
        "access_denied",
        ("models", "endpoint_configs"),
        "ListModels",
    )
    assert gap.observed_at == SEEN and gap.observed_at.tzinfo is UTC

    coverage = {(c.kind, c.state, c.reason) for c in store.coverage(sid)}
    assert coverage == {
        ("endpoints", CoverageState.COMPLETE, None),
        ("models", CoverageState.FAILED, "denied"),
    }
    assert [r.name for r in store.resources(last_seen_scan_id=sid)] == ["ep-1", "ep-2"]
    scan = store.scan(sid)
    assert scan is not None and scan.scope["flags"] == {"x": True}


def test_store_resources_track_first_and_last_seen(store: Store) -> None:
    """A resource seen again moves last_seen forward and keeps first_seen; no copies."""
    s1 = store.start_scan({})
    store.write_account(s1, ACCOUNT, [], [], [_resource(), _resource("ep-2")], [], set())
    s2 = store.start_scan({})
    store.write_account(s2, ACCOUNT, [], [], [_resource()], [], set())
    rows = {r.name: r for r in store.resources(account_id=ACCOUNT)}
    assert (rows["ep-1"].first_seen_scan_id, rows["ep-1"].last_seen_scan_id) == (s1, s2)
    assert rows["ep-2"].last_seen_scan_id == s1
    assert len(rows) == 2


def test_store_scan_lookup_and_finish(store: Store) -> None:
    """A scan is found by id, uid and uid prefix, and finish records status and summary."""
    first = store.start_scan({"n": 1})
    second = store.start_scan({"n": 2}, uid="c0ffee00-0000-4000-8000-000000000000")
    store.finish_scan(second, "partial", 42, {"FAIL": 3}, error="one region denied")

    done = store.scan("c0ffee00-0000-4000-8000-000000000000")
    assert done is not None and done.id == second
    assert (done.status, done.api_calls, done.summary) == (ScanStatus.PARTIAL, 42, {"FAIL": 3})
    assert done.error == "one region denied"
    assert done.finished_at is not None and done.finished_at >= done.started_at
    assert store.scan("c0ffee") == done
    assert store.scan(str(second)) == done
    assert store.scan(999) is None
    assert [s.id for s in store.latest_scans(5)] == [second, first]


def test_store_finish_scan_rejects_running(store: Store) -> None:
    """`running` is not a final status."""
    sid = store.start_scan({})
    with pytest.raises(ValueError, match="running"):
        store.finish_scan(sid, "running", 0, {})


def test_store_mark_interrupted_closes_running_scans(store: Store) -> None:
    """Only running scans are marked interrupted, and no more writes are accepted for them."""
    done = store.start_scan({})
    store.finish_scan(done, "complete", 0, {})
    left = store.start_scan({})
    assert store.mark_interrupted() == [left]
    scan = store.scan(left)
    assert scan is not None and scan.status == ScanStatus.INTERRUPTED
    assert scan.finished_at is not None
    with pytest.raises(StoreError, match=r"closed as interrupted by another mllens process"
                       r".*lost its store lock"):
        store.write_account(left, ACCOUNT, [], [], [], [], set())


def test_store_write_account_rolls_back_on_error(store: Store) -> None:
    """A failure late in write_account leaves nothing of that account behind."""
    sid = store.start_scan({})
    naive = _result(observed_at=datetime(2026, 12, 1, 12, 0))  # refused by the UTC column
    with pytest.raises(StoreError, match="naive datetime"):
        store.write_account(
            sid,
            ACCOUNT,
            [_result(resource_arn=ARN + "-ok"), naive],
            [_gap()],
            [_resource()],
            [(REGION, "endpoints", "complete", None)],
            {(REGION, CHECK)},
        )
    assert store.findings() == []
    assert store.gaps(sid) == []
    assert store.coverage(sid) == []
    assert store.resources() == []
    # The scan itself is still usable.
    written = store.write_account(sid, ACCOUNT, [_result()], [], [], [], set())
    assert written.findings == 1


def test_store_write_account_refuses_other_account(store: Store) -> None:
    """Records of another account are a caller bug, refused before anything is written."""
    sid = store.start_scan({})
    with pytest.raises(ValueError, match="444455556666"):
        store.write_account(
            sid, ACCOUNT, [_result(account_id="444455556666")], [_gap()], [], [], set()
        )
    assert store.gaps(sid) == []


def test_store_coverage_duplicates_merge_to_worst(store: Store) -> None:
    """Two coverage rows for one (region, kind) merge: the worse state wins."""
    sid = store.start_scan({})
    coverage = [(REGION, "models", "complete", None), (REGION, "models", "partial", "throttled")]
    store.write_account(sid, ACCOUNT, [], [], [], coverage, set())
    [row] = store.coverage(sid)
    assert (row.state, row.reason) == (CoverageState.PARTIAL, "throttled")


def test_store_findings_of_unknown_scan_is_an_error(store: Store) -> None:
    """Asking for findings as of a scan that does not exist is a StoreError."""
    store.start_scan({})
    with pytest.raises(StoreError, match="no scan with id 77"):
        store.findings(77)


def test_make_engine_sqlite_settings(tmp_path: Path) -> None:
    """SQLite gets WAL, a 30 s busy timeout, foreign keys, and its directory created."""
    engine = make_engine(f"sqlite:///{tmp_path / 'deep' / 'dir' / 'm.db'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()
    assert (tmp_path / "deep" / "dir" / "m.db").exists()


def test_make_engine_unwritable_sqlite_path(tmp_path: Path) -> None:
    """A database path below a regular file fails with one readable line."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(StoreError) as err:
        Store.open(f"sqlite:///{blocker / 'sub' / 'm.db'}")
    message = str(err.value)
    assert message.startswith("cannot create directory")
    assert message.endswith(f"{blocker} is not a directory")
    assert "\n" not in message


def test_make_engine_sqlite_path_is_directory(tmp_path: Path) -> None:
    """A directory given as the database file is refused clearly."""
    with pytest.raises(StoreError, match="is a directory"):
        make_engine(f"sqlite:///{tmp_path}")


def test_make_engine_unreachable_postgres() -> None:
    """A closed port gives a one-line StoreError naming the server, without the password."""
    url = f"postgresql+psycopg://mllens:s3cret@127.0.0.1:{_closed_port()}/nowhere"
    with pytest.raises(StoreError) as err:
        Store.open(url)
    message = str(err.value)
    assert message.startswith("cannot open database postgresql+psycopg://mllens:***@127.0.0.1")
    assert "s3cret" not in message and "\n" not in message
    assert "sqlalche.me" not in message and "refused" in message.lower()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql+pymysql://u@h/db", "unsupported database URL scheme 'mysql+pymysql'"),
        ("postgresql+psycopg2://u@h/db", "unsupported database URL scheme"),
        ("not a url", "not a database URL"),
    ],
)
def test_make_engine_rejects_bad_urls(url: str, expected: str) -> None:
    """Unsupported schemes and non-URLs are StoreErrors that say what to use instead."""
    with pytest.raises(StoreError, match=re.escape(expected)) as err:
        make_engine(url)
    assert "sqlite:///" in str(err.value)


def test_parse_url_bare_postgresql_means_psycopg() -> None:
    """postgresql:// and postgres:// use psycopg 3, the driver that is installed."""
    assert parse_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert parse_url("postgres://u@h/db").drivername == "postgresql+psycopg"


def test_store_concurrent_writers_all_land(db_url: str) -> None:
    """Two stores on one database writing at once (two processes) both succeed."""
    with Store.open(db_url) as one, Store.open(db_url) as two:
        sid = one.start_scan({})
        accounts = [f"{n:012d}" for n in range(8)]

        def write(store: Store, account: str) -> None:
            arn = ARN.replace(ACCOUNT, account)
            res = _result(account_id=account, resource_arn=arn, evidence={})
            store.write_account(sid, account, [res], [], [], [], set())

        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [
                pool.submit(write, one if i % 2 else two, acct) for i, acct in enumerate(accounts)
            ]
            for f in futures:
                f.result()
        assert sorted(r.account_id for r in one.findings()) == accounts


def test_store_read_only_open_reads_and_never_writes(tmp_path: Path) -> None:
    """A reader's store answers queries, leaves the database file as it was, and refuses any
    write. (In a writable directory SQLite may add its -wal/-shm coordination files.)"""
    import pytest

    from agent.store import StoreError

    url = f"sqlite:///{tmp_path / 'ro.db'}"
    with Store.open(url) as store:
        sid = store.start_scan({"accounts": []})
        store.finish_scan(sid, "complete", 0, {})
    before = (tmp_path / "ro.db").read_bytes()
    with Store.open(url, migrate=False, read_only=True) as reader:
        assert [s.id for s in reader.latest_scans()] == [sid]
        with pytest.raises(StoreError):
            reader.start_scan({"accounts": []})
    assert (tmp_path / "ro.db").read_bytes() == before
    with pytest.raises(StoreError, match="no database at"):
        Store.open(f"sqlite:///{tmp_path / 'none.db'}", read_only=True)
