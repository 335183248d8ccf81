"""Engines for the two supported databases, configured so the store behaves alike on both."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from agent.store.errors import StoreError, describe, safe_url

SQLITE_BUSY_TIMEOUT_S = 30
PG_CONNECT_TIMEOUT_S = 10
# Execution option asking SQLite for BEGIN IMMEDIATE: a writer takes the write lock up front,
# so two writers queue on busy_timeout instead of failing when a read lock cannot be upgraded.
SQLITE_IMMEDIATE = "mllens_sqlite_immediate"

_HELP = "use sqlite:///path/to/mllens.db or postgresql+psycopg://user@host:5432/dbname"


def parse_url(url: str | URL) -> URL:
    """Parse and normalise a database URL; refuse anything but SQLite and psycopg 3."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise StoreError(f"not a database URL: {safe_url(url)!r} ({_HELP})") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgres", "postgresql") and driver in ("", "psycopg"):
        # psycopg 3 is the only PostgreSQL driver installed; a bare scheme means it.
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return parsed
    raise StoreError(f"unsupported database URL scheme {parsed.drivername!r}: {_HELP}")


def make_engine(url: str | URL, *, read_only: bool = False) -> Engine:
    """An engine that has connected once, or a StoreError saying why it cannot.

    `read_only`: for commands that only read. A SQLite file is then opened read-only (never
    created, its directory never touched), so an archived or read-only-mounted history can be
    queried by someone who may not write it.
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_reader(parsed) if read_only and not _is_memory(parsed) \
            else _sqlite_engine(parsed)
    else:
        engine = _postgres_engine(parsed)
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"cannot open database {where(engine)}: {describe(exc)}") from exc
    return engine


def where(engine: Engine) -> str:
    """The database an engine points at, for messages (no password)."""
    if engine.dialect.name == "sqlite":
        return engine.url.database or ":memory:"
    return safe_url(engine.url)


def _is_memory(url: URL) -> bool:
    db = url.database or ""
    return db in ("", ":memory:") or (db.startswith("file:") and "mode=memory" in db)


def _sqlite_engine(url: URL) -> Engine:
    kwargs: dict[str, Any] = {
        "connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
    }
    if _is_memory(url):
        # One shared connection, or each checkout would see its own empty database.
        kwargs["poolclass"] = StaticPool
    else:
        path = _prepare_sqlite_path(Path(url.database or "").expanduser())
        url = url.set(database=str(path))
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_reader(url: URL) -> Engine:
    path = Path(url.database or "").expanduser().absolute()
    if path.is_dir():
        raise StoreError(f"cannot use {path} as the database: it is a directory")
    if not path.exists():
        raise StoreError(f"no database at {path}")
    if not os.access(path, os.R_OK):
        raise StoreError(f"cannot read the database {path}: permission denied")
    uri = f"file:{quote(str(path))}"

    def connect() -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=SQLITE_BUSY_TIMEOUT_S,
                                   check_same_thread=False)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            # A WAL database whose directory we cannot write (so no shared-memory file can be
            # made) opens only as immutable: fine for an archive nobody writes any more.
            conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True,
                                   check_same_thread=False)
        return conn

    engine = create_engine(url.set(database=str(path)), creator=connect)
    event.listen(engine, "connect", _sqlite_reader_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_reader_on_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
        cur.execute("PRAGMA query_only = ON")
    finally:
        cur.close()


def _prepare_sqlite_path(path: Path) -> Path:
    path = path.absolute()
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        why = _why(exc, parent)
        raise StoreError(f"cannot create directory {parent} for the database: {why}") from exc
    if path.is_dir():
        raise StoreError(f"cannot use {path} as the database: it is a directory")
    # WAL mode writes two files next to the database, so the directory must be writable too.
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(f"cannot write the database in {parent}: permission denied")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(f"cannot write the database {path}: permission denied")
    return path


def _why(exc: OSError, parent: Path) -> str:
    if isinstance(exc, FileExistsError | NotADirectoryError):
        # mkdir says "File exists" when an ancestor is a file; name the file instead.
        for ancestor in (parent, *parent.parents):
            if ancestor.exists() and not ancestor.is_dir():
                return f"{ancestor} is not a directory"
    return exc.strerror or str(exc)


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy decide when transactions begin (see _sqlite_on_begin) instead of the
    # sqlite3 module, which would otherwise defer BEGIN and break SAVEPOINT and DDL atomicity.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
    finally:
        cur.close()


def _sqlite_on_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(SQLITE_IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _postgres_engine(url: URL) -> Engine:
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        # An unreachable host must fail in seconds, not after the OS's TCP timeout.
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def writer(engine: Engine) -> Engine:
    """The same engine, for transactions that write (BEGIN IMMEDIATE on SQLite)."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{SQLITE_IMMEDIATE: True})
    return engine
