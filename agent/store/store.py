"""The findings store: one SQLAlchemy engine, SQLite or PostgreSQL, schema owned by Alembic."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from importlib import metadata as pkg_metadata
from typing import Any, Self

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlmodel import col

from agent.domain import Gap, Resource, Result, utcnow
from agent.store import migrate, reads, writes
from agent.store.engine import make_engine, where, writer
from agent.store.errors import StoreError, describe
from agent.store.rows import (
    AccountWrite,
    CoverageRow,
    FindingEventRow,
    FindingRow,
    GapRow,
    ResourceRow,
    ScanRow,
    ScanStatus,
)
from agent.store.tables import FindingRecord, ResourceRecord, ScanRecord
from agent.store.writes import CoverageItem

_FINAL = frozenset(s for s in ScanStatus if s != ScanStatus.RUNNING)


def tool_version() -> str:
    try:
        return pkg_metadata.version("mllens")
    except pkg_metadata.PackageNotFoundError:
        return "unknown"


class Store:
    """Scans, coverage, resources, findings and their history.

    Every method is synchronous and opens its own session, so a scan may call it between
    accounts through `asyncio.to_thread`. Database failures surface as StoreError.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = writer(engine)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Self:
        """Connect, and bring the schema to head: always for an empty database, and for an
        older one when `migrate` is true. Otherwise an out-of-date schema is a StoreError."""
        engine = make_engine(url)
        try:
            _prepare_schema(engine, migrate)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _session(self, action: str, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        try:
            with Session(self._writer if write else self.engine) as session, session.begin():
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(f"{action} failed on {where(self.engine)}: {describe(exc)}") from exc

    # -- scans ---------------------------------------------------------------------------------

    def start_scan(
        self, scope: Mapping[str, Any], *, uid: str | None = None, version: str | None = None
    ) -> int:
        """Record a running scan; its id. `uid` lets the caller reuse the id it logs with."""
        with self._session("starting a scan", write=True) as s:
            rec = ScanRecord(
                uid=uid or str(uuid.uuid4()),
                started_at=utcnow(),
                status=ScanStatus.RUNNING.value,
                scope=dict(scope),
                summary={},
                tool_version=version or tool_version(),
            )
            s.add(rec)
            s.flush()
            assert rec.id is not None
            return rec.id

    def write_account(
        self,
        scan_id: int,
        account_id: str,
        results: Sequence[Result],
        gaps: Sequence[Gap],
        resources: Sequence[Resource],
        coverage: Sequence[CoverageItem],
        complete_scopes: set[tuple[str, str]],
    ) -> AccountWrite:
        """Persist one account's results, gaps, inventory and coverage: all or nothing.

        `coverage` holds (region, kind, state, reason); `complete_scopes` holds the
        (region, check_id) pairs whose check ran with complete inputs. Only there can a
        finding that is no longer reported become GONE (and resolve, if it was open).
        """
        writes.check_account(account_id, results, gaps, resources)
        now = utcnow()
        with self._session(f"saving account {account_id}", write=True) as s:
            _running(s, scan_id)
            writes.write_gaps(s, scan_id, gaps)
            writes.write_coverage(s, scan_id, account_id, coverage)
            writes.write_resources(s, scan_id, account_id, resources, now)
            return writes.write_findings(s, scan_id, account_id, results, complete_scopes, now)

    def finish_scan(
        self,
        scan_id: int,
        status: ScanStatus | str,
        api_calls: int,
        summary: Mapping[str, Any],
        error: str | None = None,
    ) -> None:
        final = ScanStatus(status)
        if final not in _FINAL:
            raise ValueError(f"a scan cannot finish as {final.value!r}")
        with self._session(f"finishing scan {scan_id}", write=True) as s:
            rec = _running(s, scan_id)
            rec.status = final.value
            rec.finished_at = utcnow()
            rec.api_calls = api_calls
            rec.summary = dict(summary)
            rec.error = error

    def mark_interrupted(
        self,
        scan_id: int | None = None,
        *,
        started_before: datetime | None = None,
        error: str = "interrupted: the scan did not finish",
    ) -> list[int]:
        """Close scans left running (one, or all started before a time, or all); their ids."""
        with self._session("marking scans interrupted", write=True) as s:
            q = select(col(ScanRecord.id)).where(col(ScanRecord.status) == ScanStatus.RUNNING.value)
            if scan_id is not None:
                q = q.where(col(ScanRecord.id) == scan_id)
            if started_before is not None:
                q = q.where(col(ScanRecord.started_at) < started_before)
            ids = sorted(i for i in s.scalars(q) if i is not None)
            if ids:
                s.execute(
                    update(ScanRecord)
                    .where(col(ScanRecord.id).in_(ids))
                    .values(status=ScanStatus.INTERRUPTED.value, finished_at=utcnow(), error=error)
                )
            return ids

    def scan(self, uid_or_id: int | str) -> ScanRow | None:
        with self._session("reading a scan") as s:
            rec = reads.find_scan(s, uid_or_id)
            return reads.scan_row(rec) if rec is not None else None

    def latest_scans(self, n: int = 10) -> list[ScanRow]:
        with self._session("listing scans") as s:
            q = select(ScanRecord).order_by(col(ScanRecord.id).desc()).limit(n)
            return [reads.scan_row(r) for r in s.scalars(q)]

    # -- what a scan saw -----------------------------------------------------------------------

    def gaps(self, scan_id: int) -> list[GapRow]:
        with self._session("reading gaps") as s:
            return reads.gap_rows(s, scan_id)

    def coverage(self, scan_id: int) -> list[CoverageRow]:
        with self._session("reading coverage") as s:
            return reads.coverage_rows(s, scan_id)

    def resources(
        self,
        *,
        account_id: str | None = None,
        region: str | None = None,
        kind: str | None = None,
        last_seen_scan_id: int | None = None,
    ) -> list[ResourceRow]:
        with self._session("reading resources") as s:
            q = select(ResourceRecord)
            if account_id is not None:
                q = q.where(col(ResourceRecord.account_id) == account_id)
            if region is not None:
                q = q.where(col(ResourceRecord.region) == region)
            if kind is not None:
                q = q.where(col(ResourceRecord.kind) == kind)
            if last_seen_scan_id is not None:
                q = q.where(col(ResourceRecord.last_seen_scan_id) == last_seen_scan_id)
            return reads.resource_rows(s, q)

    # -- findings ------------------------------------------------------------------------------

    def findings(
        self,
        scan_id: int | None = None,
        *,
        status: reads.StatusFilter = None,
        account_id: str | None = None,
        region: str | None = None,
        check_id: str | None = None,
    ) -> list[FindingRow]:
        """Findings as of the latest scan, or as of an earlier `scan_id` (from the history).

        `status` is one FindingStatus/Status value or several; FAIL gives the open findings.
        """
        with self._session("reading findings") as s:
            filters = reads.finding_filters(account_id, region, check_id)
            if scan_id is None or scan_id == reads.latest_scan_id(s):
                return reads.current_findings(s, filters, status)
            if s.get(ScanRecord, scan_id) is None:
                raise StoreError(f"no scan with id {scan_id}")
            return reads.findings_as_of(s, filters, scan_id, status)

    def finding_events(self, key_or_id: str | int) -> list[FindingEventRow]:
        """The history of one finding, by its key or id, oldest first."""
        with self._session("reading finding history") as s:
            if isinstance(key_or_id, int):
                fid: int | None = key_or_id
            else:
                fid = s.scalar(
                    select(col(FindingRecord.id)).where(col(FindingRecord.key) == key_or_id)
                )
            return reads.event_rows(s, [fid]) if fid is not None else []


def _running(s: Session, scan_id: int) -> ScanRecord:
    rec = s.get(ScanRecord, scan_id)
    if rec is None:
        raise StoreError(f"no scan with id {scan_id}")
    if rec.status != ScanStatus.RUNNING.value:
        raise StoreError(f"scan {scan_id} is {rec.status}, not running")
    return rec


def _prepare_schema(engine: Engine, allow_upgrade: bool) -> None:
    current = migrate.current_revision(engine)
    head = migrate.head_revision()
    if current == head:
        return
    if current is None:
        if migrate.has_tables(engine):
            raise StoreError(
                f"{where(engine)} holds mllens tables but no schema version; refusing to touch it"
            )
        migrate.upgrade(engine)
        return
    if not migrate.is_known_revision(current):
        raise StoreError(
            f"{where(engine)} has schema revision {current}, unknown to this mllens "
            f"{tool_version()} (written by a newer version?)"
        )
    if not allow_upgrade:
        raise StoreError(
            f"{where(engine)} has schema revision {current} but this mllens needs {head}: "
            "run `mllens db upgrade`"
        )
    migrate.upgrade(engine)
