"""One agent run at a time, in process: a cancelled run on shutdown is no error, every run
makes sure the store has its schema, and failed runs in a row make `mllens health` fail."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aioboto3
import psycopg
import pytest
import structlog
from sqlalchemy import text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from agent.cli.main import app
from agent.daemon import Agent, Schedule, read_liveness
from agent.domain import Kind
from agent.emulator import Emulator
from agent.scan import ScanOutcome, ScanRequest
from agent.store import Store, current_revision, head_revision, make_engine
from agent.store.migrate import VERSION_TABLE
from checks import all_checks

REGION = "us-east-1"
SLOT = datetime(2026, 12, 4, 3, tzinfo=UTC)
NEVER = Schedule(cron=("0 0 1 1 *",))  # the tests call scan_once themselves


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        e.reset()
        yield e
        e.reset()


def _request(emu: Emulator) -> ScanRequest:
    checks = tuple(c for c in all_checks() if set(c.needs) <= {Kind.NOTEBOOK_INSTANCES})
    return ScanRequest(checks=checks, regions=(REGION,), endpoint_url=emu.url)


def _session() -> Any:
    return aioboto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                            region_name=REGION)


def _agent(emu: Emulator, store: Store, liveness: Path | None = None) -> Agent:
    return Agent(_request(emu), store, NEVER, session_factory=_session, liveness=liveness)


def _run(agent: Agent) -> ScanOutcome | None:
    return asyncio.run(agent.scan_once(SLOT))


# -- shutdown ---------------------------------------------------------------------------------


class _Blocking(Agent):
    """An agent whose run blocks until cancelled, like a long scan."""

    started: asyncio.Event

    async def scan_once(self, slot: datetime) -> ScanOutcome | None:
        self.status.state = "scanning"
        self.started.set()
        await asyncio.sleep(3600)
        return None


def test_agent_stop_mid_run_logs_scan_interrupted_and_no_error(tmp_path: Path) -> None:
    """Stopping the agent (what SIGTERM does) while a run is going logs `scan_interrupted`
    once, at warning, and nothing at error: APScheduler no longer reports the cancelled run
    as a job that raised."""
    agent = _Blocking(ScanRequest(checks=()), None, Schedule(cron=("0 0 1 1 *",),
                                                             run_at_start=True),
                      session_factory=_session, liveness=tmp_path / "alive.json",
                      heartbeat_s=3600)

    async def main() -> None:
        agent.started = asyncio.Event()
        task = asyncio.create_task(agent.run())
        await asyncio.wait_for(agent.started.wait(), 30)
        agent.stop("SIGTERM")
        await asyncio.wait_for(task, 30)

    with structlog.testing.capture_logs() as logs:
        asyncio.run(main())
    levels = {(e["event"], e["log_level"]) for e in logs}
    assert not [e for e in logs if e["log_level"] in ("error", "critical")], logs
    assert [e["event"] for e in logs].count("scan_interrupted") == 1
    assert ("scan_interrupted", "warning") in levels
    doc = json.loads((tmp_path / "alive.json").read_text())
    assert doc["state"] == "stopped" and doc["consecutive_failures"] == 0


# -- the schema, run by run -------------------------------------------------------------------


@pytest.fixture
def scratch_pg(pg_admin_url: URL) -> Iterator[tuple[URL, str]]:
    """A database of its own (admin URL, name), dropped afterwards."""
    name = f"mllens_agent_{int(time.time() * 1000) % 10**9}"
    admin = pg_admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_admin_url, name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.emulator
@pytest.mark.postgres
def test_agent_run_migrates_a_database_recreated_under_it(
    emu: Emulator, scratch_pg: tuple[URL, str]
) -> None:
    """The agent's PostgreSQL database is dropped and created again, empty, while the agent
    runs: the next run migrates it and scans, instead of failing on a missing `scans` table
    for ever."""
    admin_url, name = scratch_pg
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    admin = admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
    with Store.open(url) as store:
        agent = _agent(emu, store)
        first = _run(agent)
        assert first is not None and first.status == "complete"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        again = _run(agent)
        assert again is not None and again.status == "complete", agent.status.last
        assert current_revision(store.engine) == head_revision()
        assert [s.uid for s in store.latest_scans(10)] == [again.uid]
    assert agent.status.failures == 0


@pytest.mark.emulator
def test_agent_run_follows_a_sqlite_file_deleted_or_replaced_under_it(
    emu: Emulator, tmp_path: Path
) -> None:
    """The agent's SQLite file is deleted between runs: the next run writes a new store at the
    path (migrated), not the deleted file it had open; a foreign file put there fails the run."""
    path = tmp_path / "agent.db"
    with Store.open(f"sqlite:///{path}") as store:
        agent = _agent(emu, store)
        assert _run(agent) is not None
        for leftover in tmp_path.glob("agent.db*"):
            leftover.unlink()
        again = _run(agent)
        assert again is not None and again.status == "complete", agent.status.last
        assert path.exists()
        with Store.open(f"sqlite:///{path}", migrate=False, read_only=True) as reader:
            assert [s.uid for s in reader.latest_scans(10)] == [again.uid]
        for leftover in tmp_path.glob("agent.db*"):
            leftover.unlink()
        foreign = sqlite3.connect(path)
        foreign.execute("CREATE TABLE notes (t TEXT)")
        foreign.commit()
        foreign.close()
        assert _run(agent) is None
        assert agent.status.failures == 1 and "not an mllens store" in agent.status.last["reason"]


def _set_version(url: str, version: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = :v"), {"v": version})
    finally:
        engine.dispose()


@pytest.mark.emulator
def test_agent_failed_runs_in_a_row_make_health_fail(
    emu: Emulator, db_url: str, tmp_path: Path
) -> None:
    """A store the agent must refuse (a newer mllens' schema) fails every run: each is counted
    in the liveness file, and health fails at the third in a row though the heartbeat is
    fresh; once the store is usable again, the next run resets the count."""
    liveness = tmp_path / "alive.json"
    with Store.open(db_url) as store:
        agent = _agent(emu, store, liveness)
        _set_version(db_url, "ffff")
        for n in (1, 2, 3):
            assert _run(agent) is None
            agent._write_liveness()
            doc = json.loads(liveness.read_text())
            assert doc["consecutive_failures"] == n
            assert "revision ffff" in doc["last"]["reason"]
            healthy, line = read_liveness(liveness, 300, time.time())
            assert healthy is (n < 3), line
        assert "the last 3 runs failed" in line and "revision ffff" in line
        assert read_liveness(liveness, 300, time.time(), max_failures=4)[0]
        _set_version(db_url, head_revision())
        done = _run(agent)
        assert done is not None and done.status == "complete"
        agent._write_liveness()
    assert json.loads(liveness.read_text())["consecutive_failures"] == 0
    assert read_liveness(liveness, 300, time.time())[0]


def test_health_command_fails_after_max_failures(tmp_path: Path) -> None:
    """`mllens health` exits 1 on a fresh heartbeat whose agent failed its last runs, and
    `--max-failures` sets how many in a row are tolerated."""
    liveness = tmp_path / "alive.json"
    liveness.write_text(json.dumps({"state": "idle", "consecutive_failures": 3, "last": {
        "status": "skipped", "reason": "store: cannot open database"}}))
    runner = CliRunner()
    bad = runner.invoke(app, ["health", "--liveness-file", str(liveness)])
    assert bad.exit_code == 1 and "the last 3 runs failed" in bad.stdout
    assert "cannot open database" in bad.stdout
    ok = runner.invoke(app, ["health", "--liveness-file", str(liveness), "--max-failures", "4"])
    assert ok.exit_code == 0, ok.stdout
    assert "--max-failures" in runner.invoke(app, ["health", "--help"],
                                             env={"COLUMNS": "200"}).stdout
