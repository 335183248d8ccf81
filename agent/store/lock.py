"""Advisory locks on a store that die with the process holding them.

Two kinds of scans share a store:

- an unsharded scan holds the store lock `scan` exclusively: nothing else scans into the store
  meanwhile, so any scan still marked `running` when it starts is stale;
- a shard of a sharded scan (`mllens scan --shard K/N`) holds `scan` *shared* (other shards may
  write their own accounts beside it, an unsharded scan may not) plus its own shard lock
  exclusively (`shard_lock_name`), so the same shard never runs twice at once.

Where they live:

- PostgreSQL: session advisory locks (shared or exclusive), held on a dedicated connection; the
  key is derived from the database, schema and lock name, so stores in other schemas of one
  database do not block each other.
- SQLite: OS file locks beside the database file (`<database>.lock` for the store lock,
  `<database>.migrate-lock` for schema migrations, `<database>.lock-<digest>` for others),
  `flock` on POSIX (shared or exclusive), `filelock` elsewhere (exclusive only: shards into
  one SQLite file then take turns). In-memory databases cannot be shared, so their locks are
  no-ops.

Either way the operating system or the server drops a lock when its holder dies (SIGKILL, a
lost connection), so a crashed scan never leaves the store locked, and `is_free` can tell a
stale shard from a live one by trying its lock.

    lock = StoreLock(store.engine)
    with lock:                      # refuses at once if another process holds it
        ...
    lock.acquire(timeout=None)      # waits as long as it takes; timeout=30.0 waits 30 s
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from agent.store.engine import where
from agent.store.errors import StoreError, describe

try:  # POSIX: flock gives shared and exclusive locks
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_POLL_S = 0.5
STORE_LOCK = "scan"
# Held while the schema is checked and migrated (`agent.store.migrate.migration_lock`).
MIGRATE_LOCK = "migrate"


class StoreLocked(StoreError):
    """Another process holds the lock."""


def shard_lock_name(target_key: str, shard: int, count: int) -> str:
    """The lock one shard of a sharded scan holds: per targets and shard, not per run, so a
    late shard of yesterday's run and today's same shard never overlap either."""
    return f"shard:{target_key}:{shard}/{count}"


class StoreLock:
    def __init__(self, engine: Engine, name: str = STORE_LOCK, *, shared: bool = False) -> None:
        self.engine = engine
        self.name = name
        self.shared = shared
        self._held = False
        self._conn: Any = None
        self._file: Any = None

    @property
    def held(self) -> bool:
        return self._held

    def acquire(self, timeout: float | None = 0.0) -> None:
        """Take the lock. timeout=0: try once; None: wait for ever; else wait that many seconds.

        Raises StoreLocked when it is still held elsewhere, StoreError when the store fails.
        """
        if self._held:
            return
        if self.engine.dialect.name == "sqlite":
            self._acquire_file(timeout)
        else:
            self._acquire_advisory(timeout)
        self._held = True

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        if self._file is not None:
            file, self._file = self._file, None
            file.release()
        if self._conn is not None:
            conn, self._conn = self._conn, None
            unlock = "pg_advisory_unlock_shared" if self.shared else "pg_advisory_unlock"
            try:
                conn.execute(text(f"SELECT {unlock}(:k)"), {"k": self._key(conn)})
            except SQLAlchemyError:
                pass  # the connection is gone, and the server dropped the lock with it
            finally:
                conn.close()

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def _busy(self) -> StoreLocked:
        what = "scan" if self.name == STORE_LOCK else self.name.split(":", 1)[0]
        return StoreLocked(f"another mllens {what} holds the lock on {where(self.engine)}")

    # -- SQLite --------------------------------------------------------------------------------

    def lock_path(self) -> Path | None:
        db = self.engine.url.database or ""
        if db in ("", ":memory:") or "mode=memory" in db:
            return None
        base = Path(db)
        if self.name == STORE_LOCK:
            return base.with_name(base.name + ".lock")
        if self.name == MIGRATE_LOCK:
            return base.with_name(base.name + ".migrate-lock")
        digest = hashlib.sha1(self.name.encode(), usedforsecurity=False).hexdigest()[:16]
        return base.with_name(f"{base.name}.lock-{digest}")

    def _acquire_file(self, timeout: float | None) -> None:
        path = self.lock_path()
        if path is None:
            return
        lock: _FlockFile | _ExclusiveFile = (
            _FlockFile(path, self.shared) if fcntl is not None else _ExclusiveFile(path)
        )
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not lock.try_acquire():
                if deadline is not None and time.monotonic() >= deadline:
                    raise self._busy()
                time.sleep(_POLL_S if deadline is None else
                           max(0.0, min(_POLL_S, deadline - time.monotonic())))
        except OSError as exc:
            raise StoreError(f"cannot lock {path}: {exc.strerror or exc}") from exc
        self._file = lock

    # -- PostgreSQL ----------------------------------------------------------------------------

    def _key(self, conn: Any) -> int:
        db, schema = conn.execute(text("SELECT current_database(), current_schema()")).one()
        digest = hashlib.sha256(f"mllens:{self.name}:{db}:{schema}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def _acquire_advisory(self, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        try_lock = "pg_try_advisory_lock_shared" if self.shared else "pg_try_advisory_lock"
        try:
            # Autocommit: the session lock outlives transactions, and no transaction stays open.
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot lock {where(self.engine)}: {describe(exc)}") from exc
        try:
            key = self._key(conn)
            while True:
                got = conn.execute(text(f"SELECT {try_lock}(:k)"), {"k": key}).scalar()
                if got:
                    self._conn = conn
                    return
                if deadline is not None and time.monotonic() >= deadline:
                    raise self._busy()
                time.sleep(_POLL_S if deadline is None else
                           max(0.0, min(_POLL_S, deadline - time.monotonic())))
        except SQLAlchemyError as exc:
            conn.close()
            raise StoreError(f"cannot lock {where(self.engine)}: {describe(exc)}") from exc
        except BaseException:
            conn.close()
            raise


def is_free(engine: Engine, name: str) -> bool:
    """Whether nobody holds the lock `name` right now (tried and let go at once)."""
    probe = StoreLock(engine, name)
    try:
        probe.acquire(timeout=0)
    except StoreLocked:
        return False
    probe.release()
    return True


class _FlockFile:
    """flock(2) on a file of its own: shared or exclusive, dropped by the kernel on exit."""

    def __init__(self, path: Path, shared: bool) -> None:
        self.path = path
        self.shared = shared
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        mode = fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)


class _ExclusiveFile:  # pragma: no cover - platforms without flock
    def __init__(self, path: Path) -> None:
        from filelock import FileLock

        self._lock = FileLock(path, timeout=0, thread_local=False, fallback_to_soft=False)

    def try_acquire(self) -> bool:
        from filelock import Timeout

        try:
            self._lock.acquire()
        except Timeout:
            return False
        return True

    def release(self) -> None:
        self._lock.release()
