"""Alembic owns the schema: migrations build exactly the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

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


def test_migrations_comparison_sees_drift(engine: Engine) -> None:
    """The comparison above is not vacuous: a dropped index is reported."""
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_gaps_scan_id"))
    assert any("ix_gaps_scan_id" in repr(d) for d in _diffs(engine))


def test_migrations_downgrade_to_base_and_back(engine: Engine) -> None:
    """The initial revision can be undone and redone."""
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
