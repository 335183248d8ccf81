"""Concurrent opens of one fresh store take turns at the migration: a lock (a file beside a
SQLite database, an advisory lock on PostgreSQL) is held while the schema is checked and
upgraded, so the second process waits and then finds the schema at head."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agent.store import Store, StoreError, current_revision, head_revision, make_engine
from agent.store.lock import MIGRATE_LOCK, StoreLock
from agent.store.migrate import migration_lock


def _open(url: str, start: float, out: Any) -> None:
    from agent.logs import configure

    configure("error")
    while time.time() < start:  # all processes reach the migration at the same moment
        time.sleep(0.001)
    try:
        Store.open(url).close()
        out.put("ok")
    except StoreError as exc:
        out.put(f"error: {exc}")


def test_migration_lock_concurrent_opens_of_a_fresh_store_all_succeed(db_url: str) -> None:
    """Three processes open the same empty store at once: each succeeds, and the schema is at
    head (without the lock, SQLite answered "cannot migrate ...: database is locked")."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start = time.time() + 3.0
    procs = [ctx.Process(target=_open, args=(db_url, start, out)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    results = [out.get(timeout=5) for _ in procs]
    assert results == ["ok"] * 3, results
    assert current_revision(db_url) == head_revision()


def test_migration_lock_second_opener_waits_for_the_first(sqlite_url: str) -> None:
    """While another holder has the migration lock, opening a fresh store waits for it and
    then migrates; the SQLite lock is a file beside the database."""
    engine = make_engine(sqlite_url)
    held = StoreLock(engine, MIGRATE_LOCK)
    held.acquire()
    path = held.lock_path()
    assert path is not None and path.name == "mllens.db.migrate-lock" and path.exists()
    done: list[float] = []

    def opener() -> None:
        Store.open(sqlite_url).close()
        done.append(time.monotonic())

    t = threading.Thread(target=opener)
    began = time.monotonic()
    t.start()
    time.sleep(1.0)
    assert not done, "opened while the migration lock was held elsewhere"
    held.release()
    t.join(timeout=30)
    engine.dispose()
    assert done and done[0] - began >= 1.0
    assert current_revision(sqlite_url) == head_revision()


def test_migration_lock_gives_up_after_its_wait(tmp_path: Path) -> None:
    """A migration held for longer than the wait is one clear StoreError, not a hang."""
    url = f"sqlite:///{tmp_path / 'held.db'}"
    engine = make_engine(url)
    other = make_engine(url)
    try:
        with (migration_lock(engine), pytest.raises(StoreError, match="migrating the schema"),
              migration_lock(other, wait=0.6)):
            pass
    finally:
        engine.dispose()
        other.dispose()
