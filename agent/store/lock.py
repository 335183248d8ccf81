"""One scan at a time per store: an advisory lock that dies with the process holding it.

- PostgreSQL: a session advisory lock, held on a dedicated connection; the key is derived from
  the database and schema, so stores in other schemas of one database do not block each other.
- SQLite: an OS file lock (flock/LockFileEx through `filelock`) on `<database>.lock` beside the
  database file. In-memory databases cannot be shared, so their lock is a no-op.

Either way the operating system or the server drops the lock when the holder dies (SIGKILL, a
lost connection), so a crashed scan never leaves the store locked. Because every scan runs under
the lock, whoever acquires it knows any scan still marked `running` is stale.

    lock = StoreLock(store.engine)
    with lock:                      # refuses at once if another process holds it
        ...
    lock.acquire(timeout=None)      # waits as long as it takes; timeout=30.0 waits 30 s
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from agent.store.engine import where
from agent.store.errors import StoreError, describe

_POLL_S = 0.5


class StoreLocked(StoreError):
    """Another process holds the store lock."""


class StoreLock:
    def __init__(self, engine: Engine, name: str = "scan") -> None:
        self.engine = engine
        self.name = name
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
            self._file.release()
            self._file = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key(conn)})
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
        return StoreLocked(f"another mllens {self.name} holds the lock on {where(self.engine)}")

    # -- SQLite --------------------------------------------------------------------------------

    def lock_path(self) -> Path | None:
        db = self.engine.url.database or ""
        if db in ("", ":memory:") or "mode=memory" in db:
            return None
        return Path(db).with_name(Path(db).name + ".lock")

    def _acquire_file(self, timeout: float | None) -> None:
        from filelock import FileLock, Timeout

        path = self.lock_path()
        if path is None:
            return
        lock = FileLock(path, timeout=-1 if timeout is None else timeout,
                        thread_local=False, fallback_to_soft=False)
        try:
            lock.acquire()
        except Timeout:
            raise self._busy() from None
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
        try:
            # Autocommit: the session lock outlives transactions, and no transaction stays open.
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot lock {where(self.engine)}: {describe(exc)}") from exc
        try:
            key = self._key(conn)
            while True:
                got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
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
