"""History queries: trends over days or scans, diffs between two scans, scan summaries.

All three replay the finding events once, in scan order, through the same lifecycle state
machine that wrote them (`agent.store.lifecycle.advance`), so they agree with each other and
with `Store.findings(scan_id)` by construction. The replay reads only the small columns of
the events (no evidence), so its cost follows the number of changes ever recorded, not the
number of scans or the size of the estate; a query over one week and one over the whole
history cost about the same.

Definitions (also in docs/history.md):
- open: FAIL and not muted at the bucket's time; muted: FAIL and muted then.
- new: became FAIL (first time, or reopened) in the bucket; resolved: left FAIL for PASS,
  NOT_APPLICABLE or GONE in the bucket. An UNKNOWN observation changes neither.
- time to resolve: from the observation that made it FAIL to the one that resolved it.
- a diff's changed: failing at both scans, with another severity, reason, mute or
  verification state (an UNKNOWN observation after the FAIL makes it unverified).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from agent.store import replay
from agent.store.finding_reads import mute_rows
from agent.store.lifecycle import Brief
from agent.store.reads import FindingFilter, scan_row
from agent.store.rows import FindingStatus, MuteRow, ScanRow, mute_applies
from agent.store.tables import (
    CoverageSetRecord,
    GapRecord,
    ScanAccountRecord,
    ScanRecord,
)

GroupBy = Literal["pillar", "check", "account", "region", "severity", "all"]
Per = Literal["day", "scan"]
GROUP_BYS: tuple[str, ...] = ("pillar", "check", "account", "region", "severity", "all")
FAIL = FindingStatus.FAIL


# -- what the queries return -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One group in one bucket (a day or a scan)."""

    bucket: str  # "2026-12-01" or the scan id
    at: datetime  # start of the day, or the scan's start
    scan_id: int  # the last scan in the bucket: its state is the bucket's state
    group: str
    open: int
    muted: int
    new: int
    resolved: int
    # Mean time to resolve of the findings resolved in this bucket; None if none were.
    mean_time_to_resolve: timedelta | None
    resolved_seconds: float = 0.0  # the sum behind the mean, for totals over buckets


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a diff compares: one finding's reported state at one scan."""

    status: FindingStatus
    severity: str
    reason: str
    muted: bool
    unverified: bool  # the latest observations were UNKNOWN after a known status


@dataclass(frozen=True, slots=True)
class DiffEntry:
    change: Literal["new", "resolved", "changed"]
    key: str
    check_id: str
    account_id: str
    region: str
    resource_arn: str
    sub_resource: str
    pillar: str
    before: Snapshot | None  # None: not seen yet at the earlier scan
    after: Snapshot | None  # None: not seen yet at the later one (a diff run backwards)


@dataclass(frozen=True, slots=True)
class Diff:
    before: ScanRow
    after: ScanRow
    entries: tuple[DiffEntry, ...]

    def of(self, change: str) -> list[DiffEntry]:
        return [e for e in self.entries if e.change == change]


@dataclass(frozen=True, slots=True)
class ScanSummary:
    """One scan with what it looked at and what it changed."""

    scan: ScanRow
    accounts: int
    coverage: dict[str, int]  # complete/partial/failed/skipped (account, region, kind) cells
    gaps: int
    new: int
    resolved: int
    open: int  # failing and not muted after the scan
    muted: int


# -- trends ------------------------------------------------------------------------------------


def trends(
    session: Session,
    *,
    by: str = "pillar",
    per: str = "day",
    since: datetime | None = None,
    until: datetime | None = None,
    last: int | None = None,
    where: FindingFilter | None = None,
) -> list[TrendPoint]:
    """Open, muted, new and resolved counts and mean time to resolve, per group and bucket.

    Buckets are days (UTC, by scan start) or scans; only buckets with a finished scan exist.
    `since`/`until` bound the bucket times; `last` keeps the last N buckets after that.
    """
    if by not in GROUP_BYS:
        raise ValueError(f"unknown grouping {by!r}; use one of {', '.join(GROUP_BYS)}")
    if per not in ("day", "scan"):
        raise ValueError(f"unknown bucket {per!r}; use day or scan")
    where = where or FindingFilter()
    scans = replay.finished_scans(session)
    buckets = _buckets(scans, per)
    keys = [b for b in dict.fromkeys(buckets.values())
            if (since is None or b[1] >= _floor(since, per))
            and (until is None or b[1] <= until)]
    if last is not None:
        keys = keys[-last:] if last > 0 else []
    wanted = set(keys)
    if not wanted:
        return []
    last_scan = {b: s.id for s in scans if (b := buckets[s.id]) in wanted}
    scan_time = {s.id: s.started_at for s in scans}
    ident = replay.identities(session, where)
    keep = replay.glob_keep(where, ident)
    folded = replay.Replay(replay.grouper(by, ident))
    mutes = mute_rows(session)
    flows: dict[tuple[tuple[str, datetime], str], list[float]] = defaultdict(lambda: [0, 0, 0.0])
    snapshots: dict[tuple[str, datetime], dict[str, tuple[int, int]]] = {}
    end = max(last_scan.values())
    pending = set(last_scan.values())

    def snapshot_through(scan_id: int) -> None:
        for b, sid in last_scan.items():
            if sid <= scan_id and sid in pending:
                pending.discard(sid)
                snapshots[b] = folded.counts(mutes, scan_time[sid])

    current = None
    for ev in replay.events(session, where, end):
        if ev.finding_id not in ident or (keep is not None and ev.finding_id not in keep):
            continue
        if ev.scan_id != current:
            if current is not None:
                snapshot_through(ev.scan_id - 1)
            current = ev.scan_id
        group, opened, resolved, seconds = folded.apply(ev.finding_id, ev)
        bucket = buckets.get(ev.scan_id)
        if bucket in wanted:
            flow = flows[(bucket, group)]
            flow[0] += opened
            flow[1] += resolved
            flow[2] += seconds if resolved else 0.0
    snapshot_through(end)
    return _points(keys, last_scan, snapshots, flows, per)


def _buckets(scans: Sequence[replay.Scan], per: str) -> dict[int, tuple[str, datetime]]:
    out = {}
    for s in scans:
        if per == "scan":
            out[s.id] = (str(s.id), s.started_at)
        else:
            day = s.started_at.date()
            out[s.id] = (day.isoformat(), _day_start(day, s.started_at))
    return out


def _day_start(day: date, like: datetime) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=like.tzinfo)


def _floor(at: datetime, per: str) -> datetime:
    return _day_start(at.date(), at) if per == "day" else at


def _points(
    keys: list[tuple[str, datetime]],
    last_scan: dict[tuple[str, datetime], int],
    snapshots: dict[tuple[str, datetime], dict[str, tuple[int, int]]],
    flows: dict[tuple[tuple[str, datetime], str], list[float]],
    per: str,
) -> list[TrendPoint]:
    groups = sorted({g for snap in snapshots.values() for g in snap} | {g for _, g in flows})
    out = []
    for b in keys:
        snap = snapshots.get(b, {})
        for g in groups:
            open_, muted = snap.get(g, (0, 0))
            new, resolved, seconds = flows.get((b, g), (0, 0, 0.0))
            if not (open_ or muted or new or resolved):
                continue
            mttr = timedelta(seconds=seconds / resolved) if resolved else None
            out.append(TrendPoint(b[0], b[1], last_scan[b], g, open_, muted, int(new),
                                  int(resolved), mttr, float(seconds)))
    return out


# -- diffs -------------------------------------------------------------------------------------


def diff(
    session: Session, before: ScanRecord, after: ScanRecord, where: FindingFilter | None = None
) -> Diff:
    """What changed between the states after two scans (in either order of ids)."""
    where = where or FindingFilter()
    assert before.id is not None and after.id is not None
    ident = replay.identities(session, where)
    keep = replay.glob_keep(where, ident)
    folded = replay.Replay(lambda _fid, _state: "")
    first, second = sorted((before.id, after.id))
    at_first: dict[int, Brief] | None = None
    for ev in replay.events(session, where, second):
        if ev.finding_id not in ident or (keep is not None and ev.finding_id not in keep):
            continue
        if at_first is None and ev.scan_id > first:
            at_first = dict(folded.states)
        folded.apply(ev.finding_id, ev)
    states_first = at_first if at_first is not None else dict(folded.states)
    a, b = (states_first, folded.states) if before.id <= after.id else (folded.states,
                                                                        states_first)
    mutes = mute_rows(session)
    entries = []
    for fid in a.keys() | b.keys():
        old, new = a.get(fid), b.get(fid)
        snap_new = _snapshot(new, mutes, after.started_at) if new is not None else None
        snap_old = _snapshot(old, mutes, before.started_at) if old is not None else None
        change = _change(snap_old, snap_new)
        if change is None or not _severity_ok(where, snap_old, snap_new):
            continue
        i = ident[fid]
        entries.append(DiffEntry(change, i.key, i.check_id, i.account_id, i.region,
                                 i.resource_arn, i.sub_resource, i.pillar, snap_old, snap_new))
    order = {"new": 0, "resolved": 1, "changed": 2}
    entries.sort(key=lambda e: (order[e.change], e.account_id, e.region, e.check_id,
                                e.resource_arn, e.sub_resource))
    return Diff(scan_row(before), scan_row(after), tuple(entries))


def _snapshot(state: Brief, mutes: dict[int, MuteRow], at: datetime) -> Snapshot:
    mute = mutes.get(state.mute_id) if state.mute_id is not None else None
    return Snapshot(FindingStatus(state.status), state.severity, state.reason,
                    mute_applies(mute, at), state.unverified)


def _change(
    old: Snapshot | None, new: Snapshot | None
) -> Literal["new", "resolved", "changed"] | None:
    was_fail = old is not None and old.status == FAIL
    is_fail = new is not None and new.status == FAIL
    if is_fail and not was_fail:
        return "new"
    if was_fail and not is_fail:
        return "resolved"
    # Changes among passing, not applicable and gone findings (a passing resource deleted)
    # are not what a diff is read for; `findings --as-of` shows them.
    if was_fail and is_fail and old != new:
        return "changed"
    return None


def _severity_ok(where: FindingFilter, old: Snapshot | None, new: Snapshot | None) -> bool:
    if where.severity is None:
        return True
    return any(s is not None and s.severity in where.severity for s in (old, new))


# -- scans -------------------------------------------------------------------------------------


def scan_summaries(session: Session, limit: int | None = None) -> list[ScanSummary]:
    """The latest `limit` scans (all when None), newest first."""
    q = select(ScanRecord).order_by(col(ScanRecord.id).desc())
    if limit is not None:
        q = q.limit(limit)
    recs = list(session.scalars(q))
    if not recs:
        return []
    ids = [r.id for r in recs if r.id is not None]
    sa, cs = ScanAccountRecord, CoverageSetRecord
    cov = {
        row[0]: row[1:]
        for row in session.execute(
            select(
                col(sa.scan_id), func.count(), func.sum(cs.complete), func.sum(cs.partial),
                func.sum(cs.failed), func.sum(cs.skipped),
            )
            .join(cs, col(cs.id) == col(sa.coverage_set_id))
            .where(col(sa.scan_id).in_(ids))
            .group_by(col(sa.scan_id))
        )
    }
    gaps = dict(
        session.execute(  # type: ignore[arg-type]
            select(col(GapRecord.scan_id), func.count())
            .where(col(GapRecord.scan_id).in_(ids))
            .group_by(col(GapRecord.scan_id))
        ).all()
    )
    flows = _per_scan_totals(session, set(ids))
    out = []
    for r in recs:
        assert r.id is not None
        n, complete, partial, failed, skipped = cov.get(r.id, (0, 0, 0, 0, 0))
        new, resolved, open_, muted = flows.get(r.id, (0, 0, 0, 0))
        out.append(ScanSummary(
            scan=scan_row(r),
            accounts=int(n or 0),
            coverage={"complete": int(complete or 0), "partial": int(partial or 0),
                      "failed": int(failed or 0), "skipped": int(skipped or 0)},
            gaps=int(gaps.get(r.id, 0)),
            new=new, resolved=resolved, open=open_, muted=muted,
        ))
    return out


def _per_scan_totals(session: Session, ids: set[int]) -> dict[int, tuple[int, int, int, int]]:
    """(new, resolved, open, muted) after each scan in `ids`, from one replay."""
    scans = dict(session.execute(select(col(ScanRecord.id), col(ScanRecord.started_at))).all())
    folded = replay.Replay(lambda _fid, _state: "all")
    mutes = mute_rows(session)
    flows: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    out: dict[int, tuple[int, int, int, int]] = {}
    order = sorted(i for i in scans if i is not None)
    pos = 0

    def close_through(scan_id: int) -> None:
        nonlocal pos
        while pos < len(order) and order[pos] <= scan_id:
            sid = order[pos]
            if sid in ids:
                open_, muted = folded.counts(mutes, scans[sid]).get("all", (0, 0))
                new, resolved = flows.get(sid, (0, 0))
                out[sid] = (new, resolved, open_, muted)
            pos += 1

    for ev in replay.events(session, FindingFilter(), None):
        close_through(ev.scan_id - 1)
        _, opened, resolved, _ = folded.apply(ev.finding_id, ev)
        flows[ev.scan_id][0] += opened
        flows[ev.scan_id][1] += resolved
    close_through(max(order) if order else 0)
    return out

