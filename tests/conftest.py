"""Shared fixtures. Store fixtures: one SQLite file per test, one PostgreSQL schema per test.

PostgreSQL comes from MLLENS_TEST_PG_URL. Each test session (each xdist worker) creates its own
database `mllens_test_<random>` and drops it at the end; each test gets a fresh schema in it,
selected through the connection's search_path, so parallel runs never see each other.
Unreachable PostgreSQL skips its tests locally and fails them when CI=true.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
import structlog
from sqlalchemy.engine import URL, make_url

from agent.domain import utcnow
from agent.logs import configure
from agent.store import Store, upgrade

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(autouse=True)
def _quiet_logs() -> Iterator[None]:
    """Every test starts with the CLI's default logging (warnings, to stderr).

    Without it a test's output depended on the test before it: structlog's unconfigured
    default prints debug lines to stdout, and a CLI test run in-process (typer's CliRunner)
    leaves structlog printing onto the runner's stream, which is closed afterwards."""
    configure("warning", stream=sys.stderr)
    yield
    configure("warning", stream=sys.stderr)


@pytest.fixture
def clean_mllens_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No MLLENS_* variable of the calling shell leaks into a test that reads the settings;
    structlog starts and ends with its defaults (the CLI callback binds it to a stream
    typer's CliRunner closes afterwards)."""
    for name in list(os.environ):
        if name.upper().startswith("MLLENS_"):
            monkeypatch.delenv(name)
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _libpq(url: URL) -> str:
    """A SQLAlchemy URL as a libpq connection string for psycopg."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_admin_url() -> URL:
    """The PostgreSQL server for tests; skipped locally (failed in CI) when unreachable."""
    url = make_url(os.environ.get("MLLENS_TEST_PG_URL", DEFAULT_PG_URL))
    try:
        with psycopg.connect(_libpq(url), connect_timeout=3):
            pass
    except psycopg.Error as exc:
        detail = " ".join(str(exc).split())
        message = f"PostgreSQL at {url.render_as_string()} unreachable: {detail}"
        if _in_ci():
            pytest.fail(f"{message} (CI=true: PostgreSQL tests must run)", pytrace=False)
        pytest.skip(f"{message} (set MLLENS_TEST_PG_URL)")
    return url


@pytest.fixture(scope="session")
def pg_database(pg_admin_url: URL) -> Iterator[URL]:
    """A database of its own for this test session, dropped afterwards."""
    name = f"mllens_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(pg_admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_admin_url.set(database=name)
    finally:
        with psycopg.connect(_libpq(pg_admin_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def new_pg_url(pg_database: URL) -> Callable[[], str]:
    """Makes URLs whose connections live in a fresh, empty schema of the session's database."""

    def make() -> str:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(_libpq(pg_database), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        return _render(pg_database.update_query_dict({"options": f"-csearch_path={schema}"}))

    return make


@pytest.fixture
def pg_url(new_pg_url: Callable[[], str]) -> str:
    """A URL whose connections live in a fresh, empty schema of the session's database."""
    return new_pg_url()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mllens.db'}"


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database on each supported engine in turn."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session, copied for each store test: the same
    migrations, without paying for them again in every test."""
    path = tmp_path_factory.mktemp("template") / "mllens.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def open_store(
    db_url: str, sqlite_template: Path
) -> Callable[..., Store]:
    """Opens a migrated store on `db_url` (each engine in turn), with an optional clock."""

    def opener(clock: Callable[[], datetime] = utcnow) -> Store:
        if db_url.startswith("sqlite:///"):
            target = Path(db_url.removeprefix("sqlite:///"))
            if not target.exists():
                shutil.copyfile(sqlite_template, target)
        return Store.open(db_url, clock=clock)

    return opener


@pytest.fixture
def store(open_store: Callable[..., Store]) -> Iterator[Store]:
    """A migrated, empty store on each engine."""
    with open_store() as s:
        yield s
