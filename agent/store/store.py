"""The findings store: one SQLAlchemy engine, SQLite or PostgreSQL, schema owned by Alembic."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib import metadata as pkg_metadata
from typing import Any, Self

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlmodel import col

from agent.domain import Gap, Resource, Result, utcnow
from agent.mutes import MuteSet
from agent.store import (
    deliveries,
    finding_reads,
    finding_writes,
    history,
    inventory,
    migrate,
    reads,
    runs,
    writes,
)
from agent.store.engine import make_engine, writer
from agent.store.engine import where as place
from agent.store.errors import StoreError, UnknownScan, describe
from agent.store.reads import FindingFilter
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
from agent.store.void import void_scan
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

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self._writer = writer(engine)
        self._migrate = True  # what `ensure_schema` does with an older schema (see `open`)
        # Injected so tests and the benchmark can write a history spread over days.
        self.clock = clock

    @classmethod
    def open(
        cls,
        url: str,
        *,
        migrate: bool = True,
        read_only: bool = False,
        clock: Callable[[], datetime] = utcnow,
    ) -> Self:
        """Connect, and bring the schema to head: always for an empty database, and for an
        older one when `migrate` is true. Otherwise an out-of-date schema is a StoreError.
        `read_only` (for commands that only read) never creates, migrates or writes."""
        engine = make_engine(url, read_only=read_only)
        try:
            if read_only:
                _check_schema(engine)
            else:
                _prepare_schema(engine, migrate)
        except BaseException:
            engine.dispose()
            raise
        store = cls(engine, clock=clock)
        store._migrate = migrate
        return store

    def ensure_schema(self) -> None:
        """Bring the schema to head again, as `open` did: a long-running process calls it
        before each run, so a database emptied or recreated meanwhile is migrated anew (a
        foreign, unversioned or newer schema is still refused). StoreError when it cannot.

        A SQLite file's pooled connections are dropped first: they hold the file that was open
        when they connected, so a file deleted or replaced since would go on taking the writes
        of every run, unseen, instead of the one now at the path."""
        if self.engine.dialect.name == "sqlite":
            self.engine.dispose()
        _prepare_schema(self.engine, self._migrate)

    def close(self) -> None:
        self.engine.dispose()

    @property
    def deliveries(self) -> deliveries.Deliveries:
        """The notification ledger (`agent.store.deliveries`)."""
        return deliveries.Deliveries(self._session, self.clock)

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
            raise StoreError(f"{action} failed on {place(self.engine)}: {describe(exc)}") from exc

    # -- scans ---------------------------------------------------------------------------------

    def start_scan(
        self,
        scope: Mapping[str, Any],
        *,
        uid: str | None = None,
        version: str | None = None,
        target_key: str | None = None,
    ) -> int:
        """Record a running scan; its id. `uid` lets the caller reuse the id it logs with;
        `target_key` names the targets (`agent.targets.TargetSpec.key`)."""
        with self._session("starting a scan", write=True) as s:
            rec = ScanRecord(
                uid=uid or str(uuid.uuid4()),
                started_at=self.clock(),
                status=ScanStatus.RUNNING.value,
                scope=dict(scope),
                summary={},
                tool_version=version or tool_version(),
                target_key=target_key,
            )
            s.add(rec)
            s.flush()
            assert rec.id is not None
            return rec.id

    def join_run(
        self,
        run_key: str,
        shard: int,
        count: int,
        scope: Mapping[str, Any],
        *,
        uid: str,
        target_key: str,
        version: str | None = None,
    ) -> int:
        """Join shard `shard` of `count` to the run's scan (created by the first shard); its id.
        Raises `runs.RunConflict` when the run or this shard has already finished."""
        with self._session(f"joining run {run_key}", write=True) as s:
            return runs.join(s, run_key=run_key, shard=shard, count=count, scope=scope, uid=uid,
                             target_key=target_key, now=self.clock(),
                             version=version or tool_version())

    def finish_shard(
        self,
        scan_id: int,
        shard: int,
        status: ScanStatus | str,
        api_calls: int,
        summary: Mapping[str, Any],
        error: str | None = None,
        *,
        scope: Mapping[str, Any] | None = None,
    ) -> ScanStatus:
        """Record one shard's end; the scan's status afterwards (running until the last)."""
        final = ScanStatus(status)
        if final not in _FINAL:
            raise ValueError(f"a shard cannot finish as {final.value!r}")
        with self._session(f"finishing shard {shard} of scan {scan_id}", write=True) as s:
            return runs.finish_shard(s, scan_id, shard, status=final, api_calls=api_calls,
                                     summary=summary, error=error, scope=scope or {},
                                     now=self.clock())

    def close_stale(
        self,
        *,
        exclusive: bool,
        alive: Callable[[str, int, int], bool],
        keep_run: str | None = None,
        error: str = "interrupted: the process running it stopped before it finished",
    ) -> list[int]:
        """Close scans left running by stopped processes (see `runs.close_stale`); their ids."""
        with self._session("closing stale scans", write=True) as s:
            return runs.close_stale(s, now=self.clock(), error=error, exclusive=exclusive,
                                    alive=alive, keep_run=keep_run)

    def latest_of_targets(self, target_key: str, since: datetime) -> ScanRow | None:
        """The latest complete or partial scan of these targets started at or after `since`."""
        with self._session("reading scans") as s:
            rec = runs.latest_of_targets(s, target_key, since)
            return reads.scan_row(rec) if rec is not None else None

    def shards(self, scan_id: int) -> list[dict[str, Any]]:
        """A sharded scan's shards: number, status, times, API calls and error."""
        with self._session("reading shards") as s:
            return [
                {"shard": r.shard, "status": r.status, "started_at": r.started_at,
                 "finished_at": r.finished_at, "api_calls": r.api_calls, "error": r.error}
                for r in runs.shard_rows(s, scan_id)
            ]

    def write_account(
        self,
        scan_id: int,
        account_id: str,
        results: Sequence[Result],
        gaps: Sequence[Gap],
        resources: Sequence[Resource],
        coverage: Sequence[CoverageItem],
        complete_scopes: set[tuple[str, str]],
        *,
        mutes: MuteSet | None = None,
        cache: inventory.CacheWrite | None = None,
    ) -> AccountWrite:
        """Persist one account's results, gaps, inventory and coverage: all or nothing.

        `coverage` holds (region, kind, state, reason); `complete_scopes` holds the
        (region, check_id) pairs whose check ran with complete inputs. Only there can a
        finding that is no longer reported become GONE (and resolve, if it was open).
        `mutes` marks the reported findings its rules match (as of the scan's start) muted,
        and the others unmuted; without it, every finding keeps the mute it had.
        `cache` updates the records later scans may reuse, in the same transaction: a scan
        that stops before its account is written leaves the cache as the last write left it.
        """
        writes.check_account(account_id, results, gaps, resources)
        now = self.clock()
        with self._session(f"saving account {account_id}", write=True) as s:
            scan = _running(s, scan_id)
            prev = writes.previous_write(s, account_id)
            seen_at = writes.observed_time(results, now)
            coverage_set = writes.write_coverage(s, coverage)
            writes.record_account(s, scan_id, account_id, seen_at, coverage_set)
            writes.write_gaps(s, scan_id, gaps)
            writes.write_resources(s, scan_id, account_id, resources, seen_at, prev)
            if cache is not None:
                inventory.write(s, account_id, cache, now)
            return finding_writes.write_findings(
                s, scan, account_id, results, resources, complete_scopes, now, prev, mutes
            )

    def cached_inventory(
        self, account_id: str, region: str, kinds: Iterable[str]
    ) -> dict[tuple[str, str], inventory.CachedRecord]:
        """The records an earlier scan kept for reuse in one account and region."""
        with self._session(f"reading the inventory cache of {account_id}/{region}") as s:
            return inventory.load(s, account_id, region, kinds)

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
            if final is ScanStatus.INTERRUPTED:
                void_scan(s, scan_id)
            rec.status = final.value
            rec.finished_at = self.clock()
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
            for i in ids:
                void_scan(s, i)
            if ids:
                s.execute(
                    update(ScanRecord)
                    .where(col(ScanRecord.id).in_(ids))
                    .values(
                        status=ScanStatus.INTERRUPTED.value, finished_at=self.clock(), error=error
                    )
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
            return reads.resource_rows(s, q, last_seen_scan_id)

    # -- findings ------------------------------------------------------------------------------

    def findings(
        self,
        scan_id: int | None = None,
        *,
        status: reads.StatusFilter = None,
        account_id: str | None = None,
        region: str | None = None,
        check_id: str | None = None,
        where: FindingFilter | None = None,
        at: datetime | None = None,
    ) -> list[FindingRow]:
        """Findings as of the latest scan, or as of an earlier `scan_id` or time `at`.

        `status` is one FindingStatus/Status value or several; FAIL gives the open findings.
        `where` takes every other filter (severity, pillar, resource, since, muted). `at` alone
        means the latest scan started by then, with mutes judged at `at`; with `scan_id`, it
        only sets the time mutes are judged at. Without either, mutes are judged now; with a
        scan but no `at`, at the scan's start (what was muted then).
        """
        legacy = reads.legacy_filter(status, account_id, region, check_id)
        where = _merge(where, legacy)
        with self._session("reading findings") as s:
            if scan_id is None and at is None:
                return finding_reads.current_findings(s, where, self.clock())
            if scan_id is not None:
                rec = s.get(ScanRecord, scan_id)
            else:
                assert at is not None
                rec = reads.scan_at(s, at)
            if rec is None:
                if scan_id is not None:
                    raise UnknownScan(f"no scan with id {scan_id}")
                return []  # nothing had been scanned by then
            assert rec.id is not None
            when = at or rec.started_at
            if rec.id == reads.latest_scan_id(s):
                return finding_reads.current_findings(s, where, when)
            return finding_reads.findings_as_of(s, where, rec.id, when)

    def resolve_scan(self, ref: str | int) -> ScanRow:
        """A scan by id, uid, uid prefix, or ISO 8601 time (the latest finished scan started
        by then; a bare date means the end of that day, UTC); StoreError when there is none."""
        with self._session("finding a scan") as s:
            rec = reads.find_scan(s, ref)
            if rec is None and isinstance(ref, str):
                when = parse_time(ref, end_of_day=True)
                if when is not None:
                    rec = reads.scan_at(s, when)
                    if rec is None:
                        raise UnknownScan(f"no finished scan started at or before {ref}")
            if rec is None:
                raise UnknownScan(f"no scan {ref!r} in {place(self.engine)}")
            return reads.scan_row(rec)

    # -- history -------------------------------------------------------------------------------

    def scan_summaries(self, limit: int | None = None) -> list[history.ScanSummary]:
        """The latest scans, newest first, with coverage, gaps and what each changed."""
        with self._session("summarising scans") as s:
            return history.scan_summaries(s, limit)

    def trends(
        self,
        *,
        by: str = "pillar",
        per: str = "day",
        since: datetime | None = None,
        until: datetime | None = None,
        last: int | None = None,
        where: FindingFilter | None = None,
    ) -> list[history.TrendPoint]:
        """Open/muted counts, new, resolved and mean time to resolve per group and bucket."""
        with self._session("computing trends") as s:
            return history.trends(s, by=by, per=per, since=since, until=until, last=last,
                                  where=where)

    def diff(
        self, before: int | str, after: int | str, where: FindingFilter | None = None
    ) -> history.Diff:
        """New, resolved and changed findings between the states after two scans."""
        a, b = self.resolve_scan(before), self.resolve_scan(after)
        with self._session("comparing scans") as s:
            rec_a, rec_b = s.get(ScanRecord, a.id), s.get(ScanRecord, b.id)
            assert rec_a is not None and rec_b is not None
            return history.diff(s, rec_a, rec_b, where)

    def latest_finished(self, n: int = 2) -> list[ScanRow]:
        """The latest `n` complete or partial scans, newest first."""
        done = (ScanStatus.COMPLETE.value, ScanStatus.PARTIAL.value)
        with self._session("listing scans") as s:
            q = (select(ScanRecord).where(col(ScanRecord.status).in_(done))
                 .order_by(col(ScanRecord.id).desc()).limit(n))
            return [reads.scan_row(r) for r in s.scalars(q)]

    def check_ids(self) -> set[str]:
        """Every check ID the store holds findings of."""
        with self._session("listing checks") as s:
            return set(s.scalars(select(col(FindingRecord.check_id)).distinct()))

    def finding_events(self, key_or_id: str | int) -> list[FindingEventRow]:
        """The history of one finding, by its key or id, oldest first."""
        with self._session("reading finding history") as s:
            if isinstance(key_or_id, int):
                fid: int | None = key_or_id
            else:
                fid = s.scalar(
                    select(col(FindingRecord.id)).where(col(FindingRecord.key) == key_or_id)
                )
            return finding_reads.event_rows(s, [fid]) if fid is not None else []


def _merge(where: FindingFilter | None, legacy: FindingFilter) -> FindingFilter:
    """`where`, with the keyword filters of the older signature filled in where unset."""
    if where is None:
        return legacy
    values = {
        name: getattr(where, name) if getattr(where, name) is not None else getattr(legacy, name)
        for name in FindingFilter.__dataclass_fields__
    }
    return FindingFilter(**values)


def parse_time(text: str, *, end_of_day: bool = False) -> datetime | None:
    """An ISO 8601 date or time as aware UTC (naive means UTC); None if it is neither.

    A bare date is the start of that day, or its end with `end_of_day` ("as of Dec 1").
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if len(text.strip()) == 10 and end_of_day:
        value = value + timedelta(days=1) - timedelta(microseconds=1)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _running(s: Session, scan_id: int) -> ScanRecord:
    rec = s.get(ScanRecord, scan_id)
    if rec is None:
        raise StoreError(f"no scan with id {scan_id}")
    if rec.status != ScanStatus.RUNNING.value:
        # Only a process holding the store lock closes a running scan, so this one's lock was
        # lost (its PostgreSQL connection was closed, its lock file removed) and another scan
        # took over. What was written before stays; nothing more may be.
        raise StoreError(
            f"scan {scan_id} was closed as {rec.status} by another mllens process "
            f"({rec.error or 'no reason given'}): this scan lost its store lock (was its "
            "database connection closed?); the accounts it wrote before are kept, the rest "
            "is not written"
        )
    return rec


def _check_schema(engine: Engine) -> None:
    """A store a reader can use as it is: at this mllens' schema revision."""
    current = migrate.current_revision(engine)
    if current is None:
        raise StoreError(f"{place(engine)} is not an mllens store (no schema version)")
    if current != migrate.head_revision():
        # Never migrates (the version is set): only says why the schema cannot be read. No
        # lock either, since a reader may not be able to create a lock file beside the store.
        _prepare_locked(engine, allow_upgrade=False)


def _prepare_schema(engine: Engine, allow_upgrade: bool) -> None:
    if migrate.current_revision(engine) == migrate.head_revision():
        return
    # Checked again under the migration lock: another process may be migrating right now.
    with migrate.migration_lock(engine):
        _prepare_locked(engine, allow_upgrade)


def _prepare_locked(engine: Engine, allow_upgrade: bool) -> None:
    current = migrate.current_revision(engine)
    head = migrate.head_revision()
    if current == head:
        return
    if current is None:
        if migrate.has_tables(engine):
            raise StoreError(
                f"{place(engine)} holds mllens tables but no schema version; refusing to touch it"
            )
        others = migrate.foreign_tables(engine)
        if others and engine.dialect.name == "sqlite":
            # A SQLite file is one store: adding our tables to another program's file would mix
            # the two (a PostgreSQL database may be shared on purpose, so it is not refused).
            names = ", ".join(sorted(others)[:5])
            raise StoreError(
                f"{place(engine)} is not an mllens store (it holds other tables: {names}); "
                "point --db at a new file"
            )
        migrate.upgrade(engine, locked=True)
        return
    if not migrate.is_known_revision(current):
        raise StoreError(
            f"{place(engine)} has schema revision {current}, unknown to this mllens "
            f"{tool_version()} (written by a newer version?)"
        )
    if not allow_upgrade:
        raise StoreError(
            f"{place(engine)} has schema revision {current} but this mllens needs {head}: "
            "run `mllens db upgrade`"
        )
    migrate.upgrade(engine, locked=True)
