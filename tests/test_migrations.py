"""Alembic owns the schema: migrations build exactly the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, inspect, text

from agent.domain import Pillar, Result, Severity, Status, finding_key
from agent.store import (
    Store,
    StoreError,
    current_revision,
    head_revision,
    make_engine,
    needs_upgrade,
    upgrade,
)
from agent.store.migrate import VERSION_TABLE, alembic_config, migrations_dir
from agent.store.tables import metadata


def _diffs(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        return list(compare_metadata(ctx, metadata))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def test_migrations_upgrade_empty_database(engine: Engine) -> None:
    """An empty database migrates to head and then needs nothing more."""
    assert current_revision(engine) is None and needs_upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert not needs_upgrade(engine)
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())


def test_migrations_schema_equals_models(engine: Engine) -> None:
    """The migrated schema and the SQLModel tables agree: autogenerate finds no difference."""
    upgrade(engine)
    assert _diffs(engine) == []


@pytest.mark.postgres
def test_migrations_findings_vacuum_setting_on_postgres(pg_url: str) -> None:
    """On PostgreSQL, findings (updated in place on change) are vacuumed after 5% changed."""
    upgrade(pg_url)
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            options = conn.execute(text(
                "SELECT reloptions FROM pg_class WHERE oid = 'findings'::regclass")).scalar()
    finally:
        engine.dispose()
    assert options == ["autovacuum_vacuum_scale_factor=0.05"]


def test_migrations_comparison_sees_drift(engine: Engine) -> None:
    """The comparison above is not vacuous: a dropped index is reported."""
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_gaps_scan_id"))
    assert any("ix_gaps_scan_id" in repr(d) for d in _diffs(engine))


def test_migrations_downgrade_to_base_and_back(engine: Engine) -> None:
    """Every revision can be undone and redone."""
    upgrade(engine)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert not set(metadata.tables) & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert _diffs(engine) == []


def test_migrations_store_open_migrates_empty_database(db_url: str) -> None:
    """Store.open migrates an empty database even with migrate=False."""
    with Store.open(db_url, migrate=False) as store:
        assert current_revision(store.engine) == head_revision()


def test_migrations_store_open_refuses_unknown_revision(db_url: str) -> None:
    """A schema revision this version does not know (a newer mllens) is refused."""
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = 'ffff'"))
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match="revision ffff, unknown to this mllens"):
        Store.open(db_url)
    with pytest.raises(StoreError, match="revision ffff, unknown to this mllens"):
        upgrade(db_url)  # `mllens db upgrade`: the same one line, not Alembic's CommandError


def test_migrations_store_open_refuses_a_foreign_sqlite_file(sqlite_url: str) -> None:
    """A SQLite file holding another program's tables is not turned into a store."""
    engine = make_engine(sqlite_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)"))
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match=r"not an mllens store .*users"):
        Store.open(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        assert current_revision(engine) is None
    finally:
        engine.dispose()


def test_migrations_store_open_refuses_unversioned_tables(engine: Engine, db_url: str) -> None:
    """Our tables without a version table are left alone, with a clear error."""
    metadata.create_all(engine)
    with pytest.raises(StoreError, match="no schema version"):
        Store.open(db_url)


def test_migrations_work_outside_the_repository(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migrations are found through the installed package, not the working directory."""
    monkeypatch.chdir(tmp_path)
    assert (migrations_dir() / "env.py").is_file()
    upgrade(sqlite_url)
    assert current_revision(sqlite_url) == head_revision()


def test_migrations_alembic_ini_for_developers(sqlite_url: str) -> None:
    """`alembic -c migrations/alembic.ini -x url=...` upgrades, and `check` finds no drift."""
    cfg = Config(
        str(migrations_dir() / "alembic.ini"), cmd_opts=argparse.Namespace(x=[f"url={sqlite_url}"])
    )
    command.upgrade(cfg, "head")
    command.check(cfg)  # raises when autogenerate would produce operations
    assert current_revision(sqlite_url) == head_revision()


T1 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
T2 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ACCT = "111122223333"
R = "us-east-1"


def _seed_0001(engine: Engine) -> None:
    """A store as revision 0001 wrote it: two scans of one account, coverage rows per scan,
    findings that stayed, were not reported by the second scan, and went GONE."""
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables
    arn = f"arn:aws:sagemaker:{R}:{ACCT}:endpoint/"
    base = {"check_id": "c", "account_id": ACCT, "region": R, "sub_resource": "",
            "resource_kind": "endpoints", "severity": "high", "pillar": "security",
            "first_seen_scan_id": 1, "first_seen_at": T1}
    with engine.begin() as conn:
        for sid, at in ((1, T1), (2, T2)):
            # No explicit ids: PostgreSQL's sequences must hand out the next ones afterwards.
            conn.execute(t["scans"].insert().values(
                uid=f"0000000{sid}-0000-4000-8000-000000000000", started_at=at,
                finished_at=at, status="complete", scope={}, api_calls=1, summary={},
                tool_version="0.1.0"))
            conn.execute(t["coverage"].insert(), [
                {"scan_id": sid, "account_id": ACCT, "region": R, "kind": "endpoints",
                 "state": "complete", "reason": None},
                {"scan_id": sid, "account_id": ACCT, "region": R, "kind": "models",
                 "state": "failed", "reason": "ListModels: access_denied"},
            ])
        conn.execute(t["gaps"].insert().values(
            scan_id=1, account_id=ACCT, region=R, service="sagemaker", operation="ListModels",
            kind="access_denied", message="denied", resource_arn=None, kinds=["models"],
            observed_at=T1))
        conn.execute(t["resources"].insert(), [
            {"account_id": ACCT, "region": R, "kind": "endpoints", "arn": arn + "kept",
             "name": "kept", "first_seen_at": T1, "first_seen_scan_id": 1,
             "last_seen_at": T2, "last_seen_scan_id": 2},
            {"account_id": ACCT, "region": R, "kind": "endpoints", "arn": arn + "unlisted",
             "name": "unlisted", "first_seen_at": T1, "first_seen_scan_id": 1,
             "last_seen_at": T1, "last_seen_scan_id": 1},
        ])
        for fid, name, status, seen, seen_at in (
            (1, "kept", "FAIL", 2, T2), (2, "unlisted", "PASS", 1, T1),
            (3, "deleted", "GONE", 1, T1),
        ):
            conn.execute(t["findings"].insert().values(
                key=finding_key("c", ACCT, R, arn + name), resource_arn=arn + name, status=status,
                reason=f"{name} {status}", evidence={"Name": name}, observed_at=seen_at,
                last_seen_at=seen_at, last_seen_scan_id=seen,
                resolved_at=T2 if status == "GONE" else None,
                resolved_scan_id=2 if status == "GONE" else None, **base))
            conn.execute(t["finding_events"].insert().values(
                finding_id=fid, scan_id=1, at=T1, status="FAIL" if fid == 3 else status,
                severity="high", reason=f"{name} first", evidence={"Name": name}))
        conn.execute(t["finding_events"].insert().values(
            finding_id=3, scan_id=2, at=T2, status="GONE", severity="high",
            reason="no longer reported", evidence={}))


def test_migrations_upgrade_from_0001_keeps_data(engine: Engine, db_url: str) -> None:
    """A database written at revision 0001 upgrades to head with its scans, coverage, gaps,
    resources, findings and history intact and readable, and keeps working."""
    upgrade(engine, "0001")
    _seed_0001(engine)
    upgrade(engine)
    assert _diffs(engine) == []
    with Store.open(db_url, migrate=False) as store:
        for sid in (1, 2):
            assert {(c.kind, c.state, c.reason) for c in store.coverage(sid)} == {
                ("endpoints", "complete", None), ("models", "failed", "ListModels: access_denied")}
        assert [g.operation for g in store.gaps(1)] == ["ListModels"]
        seen = {r.name: r.last_seen_scan_id for r in store.resources()}
        assert seen == {"kept": 2, "unlisted": 1}
        rows = {r.resource_arn.rsplit("/", 1)[-1]: r for r in store.findings()}
        assert {n: (r.status, r.last_seen_scan_id) for n, r in rows.items()} == {
            "kept": ("FAIL", 2), "unlisted": ("PASS", 1), "deleted": ("GONE", 1)}
        assert rows["unlisted"].missing_since_scan_id == 2
        assert rows["kept"].evidence == {"Name": "kept"}
        assert [e.status for e in store.finding_events(3)] == ["FAIL", "GONE"]
        assert [(s.scan.id, s.accounts, s.coverage["failed"]) for s in store.scan_summaries()] \
            == [(2, 1, 1), (1, 1, 1)]
        # The migrated store keeps working: an unchanged finding is seen by the next scan.
        sid = store.start_scan({})
        kept = rows["kept"]
        written = store.write_account(sid, ACCT, [Result(
            "c", Status.FAIL, kept.resource_arn, kept.reason, ACCT, R, Severity.HIGH,
            Pillar.SECURITY, "endpoints", "", {"Name": "kept"})], [], [], [], set())
        assert written.events == 0
        assert {r.key: r.last_seen_scan_id for r in store.findings()}[kept.key] == sid


def test_migrations_downgrade_to_0001_keeps_data(engine: Engine, db_url: str) -> None:
    """Going back to 0001 restores per-scan coverage rows and explicit last-seen values."""
    upgrade(engine, "0001")
    _seed_0001(engine)
    upgrade(engine)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0001")
    with engine.connect() as conn:
        coverage = conn.execute(text("SELECT scan_id, kind, state FROM coverage")).all()
        seen = conn.execute(text("SELECT id, last_seen_scan_id FROM findings")).all()
        nulls = conn.execute(text("SELECT count(*) FROM finding_events "
                                  "WHERE evidence IS NULL")).scalar()
    assert sorted(coverage) == [(1, "endpoints", "complete"), (1, "models", "failed"),
                                (2, "endpoints", "complete"), (2, "models", "failed")]
    assert sorted(seen) == [(1, 2), (2, 1), (3, 1)] and nulls == 0
