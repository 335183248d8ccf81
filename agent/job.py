"""One scan job, as `mllens scan` and `mllens agent` run it.

1. Locks (`agent.store.lock`): an unsharded scan holds the store lock alone; a shard holds it
   shared plus its own shard lock. Waiting for them polls asynchronously, so a SIGTERM while
   waiting stops the job at once.
2. Scans left running by processes that stopped are closed (`Store.close_stale`): a crash never
   leaves a scan `running` for ever, and nothing half-written is read as finished.
3. The scan itself (`agent.scan.run_scan`), by the caller.
4. After it (`after_scan`): one notification per channel of the findings that are new in it
   (since the last scan delivered on that channel, through the store's ledger), once the scan
   has finished as a whole (for a sharded scan: by the shard that finishes it), and the report
   files the settings ask for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from agent.domain import Severity
from agent.notify import (
    NotifyError,
    NotifyOutcome,
    Sender,
    notify_scan,
    senders_from_settings,
)
from agent.scan import ScanOutcome
from agent.store import ScanStatus, Store, StoreError
from agent.store.engine import where
from agent.store.lock import StoreLock, StoreLocked, is_free, shard_lock_name
from agent.targets import TargetSpec, run_key

log = structlog.get_logger(__name__)

_POLL_S = 0.5


class Busy(Exception):
    """Another process holds a lock this scan needs."""


@dataclass
class Locks:
    """The locks one scan holds, and the stale scans closed once they were taken."""

    held: list[StoreLock] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)

    def release(self) -> None:
        for lock in reversed(self.held):
            lock.release()
        self.held.clear()


async def take_locks(
    store: Store,
    spec: TargetSpec,
    run_id: str | None,
    *,
    wait: float | None,
    on_wait: Callable[[str], None] | None = None,
) -> Locks:
    """Take what a scan of `spec` needs, waiting up to `wait` seconds (None: for ever; 0: not
    at all), then close the scans that stopped processes left running. `on_wait` hears once,
    with who holds the lock, when the wait begins.

    Raises Busy when a lock is still held elsewhere, StoreError when the store fails.
    """
    engine = store.engine
    shard = spec.shard
    wanted = [StoreLock(engine, shared=shard is not None)]
    if shard is not None:
        wanted.append(StoreLock(engine, shard_lock_name(spec.key(), shard.index, shard.count)))
    locks = Locks()
    loop = asyncio.get_running_loop()
    deadline = None if wait is None else loop.time() + wait
    try:
        for lock in wanted:
            while True:
                try:
                    await asyncio.to_thread(lock.acquire, 0)
                    break
                except StoreLocked:
                    if deadline is not None and loop.time() >= deadline:
                        raise Busy(await asyncio.to_thread(holder, store, lock)) from None
                    if on_wait is not None:
                        on_wait(await asyncio.to_thread(holder, store, lock))
                        on_wait = None
                    await asyncio.sleep(_POLL_S)
            locks.held.append(lock)

        def alive(target_key: str, index: int, count: int) -> bool:
            return not is_free(engine, shard_lock_name(target_key, index, count))

        keep = run_key(run_id, spec.key()) if shard is not None and run_id else None
        locks.closed = await asyncio.to_thread(
            store.close_stale, exclusive=shard is None, alive=alive, keep_run=keep
        )
    except BaseException:
        locks.release()
        raise
    if locks.closed:
        log.warning("stale_scans_closed", scans=locks.closed)
    return locks


def holder(store: Store, lock: StoreLock | None = None) -> str:
    """One line on who holds the lock: the running scan, when the store says which."""
    place = where(store.engine)
    if lock is not None and lock.name != "scan":
        return f"this shard of these targets is already being scanned into {place}"
    try:
        running = [s for s in store.latest_scans(20) if s.status == ScanStatus.RUNNING]
    except StoreError:
        running = []
    if not running:
        return f"another mllens scan is running against {place}"
    s = running[0]
    return (f"another mllens scan is running against {place} (scan {s.id}, {s.uid[:8]}, "
            f"started {s.started_at:%Y-%m-%d %H:%M:%S} UTC)")


# -- after the scan ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AfterScan:
    """What the settings ask for once a scan is written."""

    senders: Sequence[Sender] = ()
    min_severity: Severity = Severity.HIGH
    top_n: int = 10
    formats: tuple[str, ...] = ()
    directory: Path | None = None

    @classmethod
    def from_settings(
        cls, settings: Any, session_factory: Callable[[], Any], endpoint_url: str | None
    ) -> AfterScan:
        n, out = settings.notifications, settings.outputs
        return cls(
            senders=tuple(senders_from_settings(n, session_factory, endpoint_url)),
            min_severity=n.min_severity,
            top_n=n.top_n,
            formats=tuple(out.formats),
            directory=out.directory,
        )


@dataclass(frozen=True)
class AfterResult:
    notified: NotifyOutcome | None = None
    reports: tuple[Path, ...] = ()
    problems: tuple[str, ...] = ()


async def after_scan(
    store: Store,
    outcome: ScanOutcome,
    after: AfterScan,
    titles: Mapping[str, str] | None = None,
) -> AfterResult:
    """Notify and write reports for a finished scan. A failure here is reported, not raised:
    the scan is stored whatever a webhook or a disk says."""
    if outcome.scan_id is None or (outcome.run_status or outcome.status) == "running":
        return AfterResult()  # a shard whose run is not over: the last shard does this
    problems: list[str] = []
    notified = None
    if after.senders:
        try:
            notified = await notify_scan(store, outcome.scan_id, after.senders,
                                         min_severity=after.min_severity, top_n=after.top_n,
                                         titles=titles)
        except (NotifyError, StoreError) as exc:
            problems.append(f"notifications not sent: {exc}")
        else:
            problems += [f"notification to {d.channel} failed: {d.error} (its findings go "
                         "out with the channel's next summary)"
                         for d in notified.deliveries if d.state == "failed"]
    written: list[Path] = []
    if after.formats:
        try:
            written = await asyncio.to_thread(write_reports, store, outcome.scan_id,
                                              after.formats, after.directory or Path.cwd())
        except (OSError, StoreError) as exc:
            problems.append(f"reports not written: {exc}")
    for p in problems:
        log.error("after_scan_problem", problem=p)
    return AfterResult(notified, tuple(written), tuple(problems))


def write_reports(
    store: Store, scan_id: int, formats: Sequence[str], directory: Path
) -> list[Path]:
    """One file per format, named after the scan, written whole or not at all."""
    from agent import reports
    from agent.reports.build import from_store
    from checks import by_id

    scan = store.scan(scan_id)
    if scan is None:
        raise StoreError(f"no scan with id {scan_id}")
    report = from_store(store, scan, by_id())
    directory.mkdir(parents=True, exist_ok=True)
    stamp = scan.started_at.strftime("%Y%m%dT%H%M%SZ")
    out = []
    for name in formats:
        fmt = reports.FORMATS[name]
        path = directory / f"mllens-{stamp}-{scan.uid[:8]}{fmt.suffix}"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(fmt.render(report))
        tmp.replace(path)
        out.append(path)
    return out
