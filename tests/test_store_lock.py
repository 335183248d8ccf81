"""The store lock: one scan at a time per store, on SQLite and PostgreSQL, through the CLI too."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from agent.store import Store
from agent.store.lock import StoreLock, StoreLocked


def test_store_lock_refuses_a_second_holder(db_url: str) -> None:
    """While one holder has the lock another is refused at once; after release it gets it."""
    with Store.open(db_url) as a, Store.open(db_url) as b:
        first = StoreLock(a.engine)
        with first:
            assert first.held
            with pytest.raises(StoreLocked, match="holds the lock"):
                StoreLock(b.engine).acquire(timeout=0)
        second = StoreLock(b.engine)
        second.acquire(timeout=0)
        assert second.held
        second.release()
        assert not second.held


def test_store_lock_waits_for_release(db_url: str) -> None:
    """acquire(timeout=...) waits until the holder lets go."""
    with Store.open(db_url) as a, Store.open(db_url) as b:
        holder = StoreLock(a.engine)
        holder.acquire()
        timer = threading.Timer(0.3, holder.release)
        timer.start()
        waiter = StoreLock(b.engine)
        try:
            waiter.acquire(timeout=30)
            assert waiter.held
        finally:
            timer.join()
            waiter.release()


def test_store_lock_is_per_store(tmp_path: Path) -> None:
    """Two SQLite stores in one directory do not block each other; memory needs no lock."""
    with Store.open(f"sqlite:///{tmp_path / 'a.db'}") as a, \
            Store.open(f"sqlite:///{tmp_path / 'b.db'}") as b, \
            StoreLock(a.engine), StoreLock(b.engine) as lb:
        assert lb.held and (tmp_path / "a.db.lock").exists()
    with Store.open("sqlite://") as mem, StoreLock(mem.engine) as lm:
        assert lm.held and lm.lock_path() is None


def _mllens(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLLENS_"))}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", NO_COLOR="1", COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "agent.cli.main", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_scan_refused_while_another_holds_the_store(db_url: str) -> None:
    """A second `mllens scan` on a locked store exits 1 with one clear line naming --wait."""
    with Store.open(db_url) as store, StoreLock(store.engine):
        proc = _mllens("scan", "--db", db_url, "--endpoint-url", "http://127.0.0.1:1",
                       "-r", "us-east-1")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "another mllens scan is running" in lines[0]
    assert "--wait" in lines[0]
