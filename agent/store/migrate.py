"""Alembic, driven from code: the migration scripts ship inside the installed package."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import SQLAlchemyError

from agent.store.engine import make_engine, where
from agent.store.errors import StoreError, describe
from agent.store.lock import MIGRATE_LOCK, StoreLock, StoreLocked
from agent.store.tables import metadata

# Our own name, so a PostgreSQL database shared with another Alembic project cannot collide.
VERSION_TABLE = "mllens_schema_version"
log = structlog.get_logger(__name__)

# How long a process waits for another one's migration before giving up.
MIGRATION_WAIT_S = 600.0


def migrations_dir() -> Path:
    """The `migrations` package directory, wherever the project is installed."""
    return Path(str(resources.files("migrations")))


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        # env.py runs on this connection instead of building an engine from a URL.
        cfg.attributes["connection"] = connection
    return cfg


def is_known_revision(revision: str) -> bool:
    """Whether this version's migrations know `revision` (a newer mllens may have written it)."""
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except (CommandError, RevisionError):
        return False


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise StoreError(f"no migrations found in {migrations_dir()}")
    return head


@contextmanager
def _engine(engine_or_url: Engine | str | URL) -> Iterator[Engine]:
    if isinstance(engine_or_url, Engine):
        yield engine_or_url
        return
    engine = make_engine(engine_or_url)
    try:
        yield engine
    finally:
        engine.dispose()


def current_revision(engine_or_url: Engine | str | URL) -> str | None:
    """The schema revision the database is at; None for a database never migrated."""
    with _engine(engine_or_url) as engine:
        try:
            with engine.connect() as conn:
                ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
                return ctx.get_current_revision()
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot read the schema version of {where(engine)}: {describe(exc)}"
            ) from exc


def needs_upgrade(engine_or_url: Engine | str | URL) -> bool:
    return current_revision(engine_or_url) != head_revision()


def table_names(engine: Engine) -> set[str]:
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot inspect {where(engine)}: {describe(exc)}") from exc


def has_tables(engine: Engine) -> bool:
    """Whether any of our tables exist, migrated or not."""
    return bool(table_names(engine) & set(metadata.tables))


def foreign_tables(engine: Engine) -> set[str]:
    """Tables that are neither ours nor our version table: someone else's data."""
    return table_names(engine) - set(metadata.tables) - {VERSION_TABLE}


@contextmanager
def migration_lock(engine: Engine, wait: float = MIGRATION_WAIT_S) -> Iterator[None]:
    """Hold the store's migration lock (a file lock beside a SQLite file, an advisory lock on
    PostgreSQL) while checking and changing the schema, so two processes opening one fresh
    store take turns: the second waits, then finds the schema at head instead of migrating a
    database the first is migrating (SQLite: "database is locked")."""
    lock = StoreLock(engine, MIGRATE_LOCK)
    started = time.monotonic()
    try:
        lock.acquire(timeout=0)
    except StoreLocked:
        log.info("migration_waiting", store=where(engine), up_to_s=wait)
        try:
            lock.acquire(timeout=max(0.0, wait - (time.monotonic() - started)))
        except StoreLocked:
            raise StoreError(
                f"another mllens process has been migrating the schema of {where(engine)} for "
                f"more than {wait:.0f}s; try again when it has finished"
            ) from None
    try:
        yield
    finally:
        lock.release()


def upgrade(
    engine_or_url: Engine | str | URL, revision: str = "head", *, locked: bool = False
) -> None:
    """Migrate the database to `revision` in one transaction, under the migration lock (unless
    the caller holds it: `locked`). A schema written by a newer mllens is refused in one line,
    not handed to Alembic (which cannot find its revision)."""
    with _engine(engine_or_url) as engine:
        if not locked:
            with migration_lock(engine):
                upgrade(engine, revision, locked=True)
            return
        current = current_revision(engine)
        if current is not None and not is_known_revision(current):
            raise StoreError(
                f"{where(engine)} has schema revision {current}, unknown to this mllens "
                "(written by a newer version?); upgrade mllens instead"
            )
        try:
            with migration_connection(engine) as conn:
                command.upgrade(alembic_config(conn), revision)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot migrate {where(engine)}: {describe(exc)}") from exc


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that commits when the migration succeeds.

    On SQLite, foreign keys are switched off meanwhile: a batch migration recreates a table by
    copy-and-drop, and with enforcement on, the drop would cascade into the child tables. The
    pragma is a no-op inside a transaction, so it is set on the raw connection before BEGIN.
    """
    with engine.connect() as conn:
        sqlite = engine.dialect.name == "sqlite"
        raw = conn.connection.driver_connection if sqlite else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():
                yield conn
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys = ON")
