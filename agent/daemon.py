"""The long-running agent: scans on cron schedules, one at a time, until SIGTERM.

One asyncio loop runs everything: APScheduler 3's AsyncIOScheduler fires one job on all the
settings' cron expressions (an OrTrigger), so scans can never overlap inside one agent
(`max_instances=1`), missed runs are coalesced into one and run only within the misfire grace.
Across agents, the store's locks keep two from scanning into one store at once (`agent.job`);
an agent that waited for another one skips the run when that one has just scanned the same
targets (`ScanRequest.fresh_since` = the run's scheduled time).

Each run first makes sure the store has its schema (`Store.ensure_schema`), so a database
dropped and recreated while the agent runs is migrated again instead of failing every run.

SIGTERM or SIGINT cancels the running scan, which records itself as interrupted (its finished
accounts stay written), releases the locks, and the agent exits 0; the cancelled run is logged
once, as `scan_interrupted`, never as an error. A heartbeat rewrites the liveness file every
`heartbeat_s` seconds (JSON: state, current and last scan, next run, consecutive failed runs);
a container health check reads it (`mllens health`): a stale heartbeat or too many failed runs
in a row is unhealthy.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.combining import OrTrigger

from agent.config import cron_trigger
from agent.domain import utcnow
from agent.job import AfterScan, Busy, after_scan, take_locks
from agent.scan import (
    NOTHING_READ,
    AlreadyScanned,
    ScanError,
    ScanOutcome,
    ScanRequest,
    run_scan,
)
from agent.store import StoreError

log = structlog.get_logger(__name__)

HEARTBEAT_S = 30.0
# `mllens health` fails after this many failed runs in a row (runs that errored, read nothing,
# or were skipped because the store or AWS could not be used).
MAX_FAILURES = 3


@dataclass(frozen=True)
class Schedule:
    cron: tuple[str, ...]
    timezone: str = "UTC"
    run_at_start: bool = False
    jitter_s: int = 0
    misfire_grace_s: int = 3600
    lock_wait_s: int = 3600

    @classmethod
    def from_settings(cls, s: Any) -> Schedule:
        return cls(tuple(s.cron), s.timezone, s.run_at_start, s.jitter_s, s.misfire_grace_s,
                   s.lock_wait_s)

    def trigger(self) -> Any:
        triggers = [cron_trigger(e, self.timezone, self.jitter_s) for e in self.cron]
        return triggers[0] if len(triggers) == 1 else OrTrigger(triggers)

    def slot(self, now: datetime) -> datetime:
        """The scheduled time of the run starting now: the latest fire time at or before `now`
        of any expression, jitter left out (every agent computes the same one)."""
        late = timedelta(seconds=self.misfire_grace_s + self.jitter_s + 1)
        best: datetime | None = None
        for expr in self.cron:
            trigger = cron_trigger(expr, self.timezone)
            fire = trigger.get_next_fire_time(None, now - late)
            while fire is not None and fire <= now:
                best = fire if best is None or fire > best else best
                fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
        return best or now


@dataclass
class Status:
    """What the liveness file says, and what the agent did so far."""

    state: str = "starting"
    scan_started_at: datetime | None = None
    last: dict[str, Any] | None = None
    runs: int = 0
    skipped: int = 0
    # Failed runs since the last one that worked; another agent holding the lock or having
    # done the run's work is not a failure of this one.
    failures: int = 0

    def failed(self, at: datetime, why: str) -> None:
        self.failures += 1
        self.last = {**(self.last or {}), "failed_at": _iso(at), "error": why}
        log.warning("run_failed", consecutive=self.failures, error=why)

    def worked(self) -> None:
        self.failures = 0


class Agent:
    def __init__(
        self,
        request: ScanRequest,
        store: Any,
        schedule: Schedule,
        *,
        session_factory: Callable[[], Any],
        after: AfterScan | None = None,
        sink: Any = None,
        liveness: Path | None = None,
        heartbeat_s: float = HEARTBEAT_S,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.request = request
        self.store = store
        self.sink = sink if sink is not None else store
        self.schedule = schedule
        self.session_factory = session_factory
        self.after = after or AfterScan()
        self.liveness = liveness
        self.heartbeat_s = heartbeat_s
        self.clock = clock
        self.status = Status()
        self._scheduler: AsyncIOScheduler | None = None
        self._scan: asyncio.Task[Any] | None = None
        self._stop: asyncio.Event | None = None
        self.stopped_by: str | None = None

    # -- life cycle ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Schedule scans and serve until `stop` (or SIGTERM/SIGINT)."""
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        sched = AsyncIOScheduler(event_loop=loop, timezone=self.schedule.timezone)
        self._scheduler = sched
        first = self.clock() if self.schedule.run_at_start else None
        sched.add_job(self._scheduled, self.schedule.trigger(), id="scan", name="scan",
                      max_instances=1, coalesce=True,
                      misfire_grace_time=self.schedule.misfire_grace_s,
                      **({"next_run_time": first} if first else {}))
        sched.add_job(self._beat, "interval", seconds=self.heartbeat_s, id="heartbeat",
                      name="heartbeat", max_instances=1, coalesce=True,
                      next_run_time=self.clock())
        installed = self._handle_signals(loop)
        forward_stdlib_logs("apscheduler")
        sched.start()
        self.status.state = "idle"
        log.info("agent_started", cron=list(self.schedule.cron), timezone=self.schedule.timezone,
                 next_run=_iso(self.next_run()), pid=os.getpid())
        try:
            await self._stop.wait()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            sched.shutdown(wait=False)
            if self._scan is not None and not self._scan.done():
                log.warning("scan_interrupted", reason=self.stopped_by or "agent stopping",
                            started_at=_iso(self.status.scan_started_at))
                self._scan.cancel()
                await asyncio.gather(self._scan, return_exceptions=True)
            self.status.state = "stopped"
            self._write_liveness()
            log.info("agent_stopped", reason=self.stopped_by, runs=self.status.runs,
                     skipped=self.status.skipped)

    def stop(self, reason: str = "stop requested") -> None:
        if self._stop is not None and not self._stop.is_set():
            self.stopped_by = reason
            self._stop.set()

    def _handle_signals(self, loop: asyncio.AbstractEventLoop) -> list[signal.Signals]:
        installed = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.stop, sig.name)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # not the main thread / platform
                pass
        return installed

    def next_run(self) -> datetime | None:
        job = self._scheduler.get_job("scan") if self._scheduler else None
        return job.next_run_time if job is not None else None

    # -- one run -------------------------------------------------------------------------------

    async def _scheduled(self) -> None:
        self._scan = asyncio.current_task()
        try:
            await self.scan_once(self.schedule.slot(self.clock()))
        except asyncio.CancelledError:
            if self._stop is None or not self._stop.is_set():
                raise
            # Our own stop cancelled the run: expected, already logged as scan_interrupted.
            # Returning (not raising) keeps APScheduler from logging it as a job error.
            self.status.last = {"status": "interrupted", "reason": self.stopped_by,
                                "at": _iso(self.clock())}
        except Exception as exc:  # boundary: one broken run never stops the agent
            log.exception("scan_crashed")
            self.status.last = {"status": "crashed", "at": _iso(self.clock())}
            self.status.failed(self.clock(), f"{type(exc).__name__}: {exc}")
        finally:
            self._scan = None
            self.status.state, self.status.scan_started_at = "idle", None
            self._write_liveness()

    async def scan_once(self, slot: datetime) -> ScanOutcome | None:
        """One scheduled run; None when it was skipped (recorded in the status and the log)."""
        # The agent reads findings back from the store (notifications, reports): it keeps no
        # account's results past its write, so memory follows the largest account.
        req = replace(self.request, fresh_since=slot, keep_results=False)
        self.status.state = "waiting"
        try:
            # An emptied database (dropped and recreated) is migrated again, as at start-up.
            await asyncio.to_thread(self.store.ensure_schema)
            locks = await take_locks(
                self.store, req.spec, req.run_id, wait=self.schedule.lock_wait_s,
                on_wait=lambda who: log.warning("scan_waiting", holder=who,
                                                up_to_s=self.schedule.lock_wait_s))
        except Busy as exc:
            self._skip(slot, f"{exc} for {self.schedule.lock_wait_s}s")
            return None
        except StoreError as exc:
            self._skip(slot, f"store: {exc}", error=True)
            return None
        self.status.state, self.status.scan_started_at = "scanning", self.clock()
        self._write_liveness()
        try:
            outcome = await run_scan(req, self.sink, self.session_factory)
        except AlreadyScanned as done:
            self._skip(slot, f"another agent already scanned these targets for this run "
                       f"(scan {done.scan.uid})")
            self.status.worked()  # the store and AWS answered; the work is done
            return None
        except (ScanError, StoreError) as exc:
            self.status.runs += 1
            self.status.last = {"status": "error", "slot": _iso(slot), "error": str(exc),
                                "at": _iso(self.clock())}
            log.error("scan_failed", slot=_iso(slot), error=str(exc))
            self.status.failed(self.clock(), str(exc))
            return None
        finally:
            locks.release()
        self.status.runs += 1
        done_after = await after_scan(self.store, outcome, self.after)
        self.status.last = {
            "uid": outcome.uid, "status": outcome.status, "slot": _iso(slot),
            "finished_at": _iso(outcome.finished_at), "results": outcome.result_count,
            "api_calls": outcome.api_calls,
            "notified": done_after.notified.new_findings if done_after.notified else 0,
            "reports": [str(p) for p in done_after.reports],
        }
        log.info("scan_done", scan=outcome.uid, status=outcome.status, slot=_iso(slot),
                 results=outcome.result_count, api_calls=outcome.api_calls,
                 next_run=_iso(self.next_run()))
        if outcome.status == "failed":  # it read nothing: every role or API refused
            self.status.failed(self.clock(), outcome_error(outcome))
        else:
            self.status.worked()
        return outcome

    def _skip(self, slot: datetime, reason: str, *, error: bool = False) -> None:
        self.status.skipped += 1
        self.status.last = {"status": "skipped", "slot": _iso(slot), "reason": reason,
                            "at": _iso(self.clock())}
        (log.error if error else log.warning)("scan_skipped", slot=_iso(slot), reason=reason)
        if error:
            self.status.failed(self.clock(), reason)

    # -- liveness ------------------------------------------------------------------------------

    async def _beat(self) -> None:
        self._write_liveness()

    def _write_liveness(self) -> None:
        if self.liveness is None:
            return
        doc = {
            "pid": os.getpid(),
            "heartbeat_at": _iso(self.clock()),
            "state": self.status.state,
            "scan_started_at": _iso(self.status.scan_started_at),
            "next_run": _iso(self.next_run()),
            "runs": self.status.runs,
            "skipped": self.status.skipped,
            "consecutive_failures": self.status.failures,
            "last": self.status.last,
        }
        tmp = self.liveness.with_name(self.liveness.name + ".tmp")
        try:
            tmp.write_text(json.dumps(doc, indent=1) + "\n")
            tmp.replace(self.liveness)
        except OSError as exc:
            # A full or read-only disk makes the agent unhealthy, which is what it should be.
            log.error("liveness_not_written", path=str(self.liveness), error=str(exc))


def outcome_error(outcome: ScanOutcome) -> str:
    """Why a finished scan counts as failed, in one line."""
    reasons = sorted({a.reason for a in outcome.accounts if a.state == "failed" and a.reason})
    return f"{NOTHING_READ}" + (f" ({reasons[0]})" if reasons else "")


def read_liveness(
    path: Path, max_age_s: float, now: float, max_failures: int = MAX_FAILURES
) -> tuple[bool, str]:
    """(healthy, one line): the file exists, was written in the last `max_age_s` seconds, does
    not say the agent stopped, and fewer than `max_failures` runs in a row failed."""
    try:
        age = now - path.stat().st_mtime
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return False, f"no liveness file at {path} (is the agent running?)"
    except (OSError, ValueError) as exc:
        return False, f"cannot read {path}: {exc}"
    state = doc.get("state") if isinstance(doc, dict) else None
    if state == "stopped":
        return False, f"the agent stopped ({path})"
    if age > max_age_s:
        return False, f"last heartbeat {age:.0f}s ago, more than {max_age_s:.0f}s ({path})"
    failures = doc.get("consecutive_failures", 0) if isinstance(doc, dict) else 0
    if isinstance(failures, int) and failures >= max_failures:
        last = doc.get("last") or {}
        why = last.get("error") or last.get("reason") or last.get("status") or "unknown"
        return False, (f"the last {failures} runs failed (at most {max_failures - 1} in a row "
                       f"allowed); last: {why}")
    return True, f"alive: {state}, heartbeat {age:.0f}s ago, next run {doc.get('next_run')}"


def forward_stdlib_logs(*names: str) -> None:
    """Route a library's stdlib logging (warnings and up) into structlog, so the agent's
    output stays one format."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(h, _ToStructlog) for h in logger.handlers):
            logger.addHandler(_ToStructlog())
        logger.setLevel(logging.WARNING)
        logger.propagate = False


class _ToStructlog(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        method = "error" if record.levelno >= logging.ERROR else "warning"
        getattr(log, method)(record.getMessage(), logger=record.name)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


__all__ = ["MAX_FAILURES", "Agent", "Schedule", "read_liveness"]
