"""The replay behind trends, diffs and scan summaries: the small columns of every event, in
scan order, folded per finding (`agent.store.lifecycle.fold`), with FAIL counts kept current
per group and mute rule so a bucket's counts are a lookup, not a pass over all findings."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, NamedTuple

from sqlalchemy import select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType
from sqlmodel import col

from agent.domain import Standing, standing
from agent.store import lifecycle
from agent.store.lifecycle import Brief
from agent.store.reads import UNFINISHED, FindingFilter
from agent.store.rows import FindingStatus, MuteRow, mute_applies
from agent.store.tables import FindingEventRecord, FindingRecord, ScanRecord
from agent.store.types import utc_from_raw

FAIL = FindingStatus.FAIL


@dataclass(frozen=True, slots=True)
class Identity:
    key: str
    check_id: str
    account_id: str
    region: str
    resource_arn: str
    sub_resource: str
    pillar: str


@dataclass
class Replay:
    """Each finding's `Brief` after each event, FAIL counts kept per (group, mute rule)."""

    group_of: Callable[[int, Brief], str]
    states: dict[int, Brief] = field(default_factory=dict)
    opened_at: dict[int, datetime] = field(default_factory=dict)
    failing: Counter[tuple[str, int | None]] = field(default_factory=Counter)

    def apply(self, fid: int, ev: Event) -> tuple[str, bool, bool, float]:
        """Advance one finding; (group, became FAIL, left FAIL, seconds it had been FAIL)."""
        prev = self.states.get(fid)
        new = lifecycle.fold(prev, ev.status, ev.severity, ev.reason, ev.mute_id)
        self.states[fid] = new
        was_fail = prev is not None and prev.status == FAIL
        is_fail = new.status == FAIL
        if was_fail:
            assert prev is not None
            self.failing[(self.group_of(fid, prev), prev.mute_id)] -= 1
        group = self.group_of(fid, new)
        if is_fail:
            self.failing[(group, new.mute_id)] += 1
        seconds = 0.0
        if is_fail and not was_fail:
            self.opened_at[fid] = utc_from_raw(ev.at)
        elif was_fail and not is_fail:
            at = utc_from_raw(ev.at)
            seconds = (at - self.opened_at.pop(fid, at)).total_seconds()
        return group, is_fail and not was_fail, was_fail and not is_fail, seconds

    def counts(self, mutes: dict[int, MuteRow], at: datetime) -> dict[str, tuple[int, int]]:
        """(open, muted) per group, with mutes judged at `at` (`agent.domain.standing`)."""
        out: dict[str, Counter[Standing]] = defaultdict(Counter)
        for (group, mute_id), n in self.failing.items():
            if n:
                mute = mutes.get(mute_id) if mute_id is not None else None
                out[group][standing(FAIL, mute_applies(mute, at))] += n
        return {g: (c[Standing.OPEN], c[Standing.MUTED]) for g, c in out.items()}


class Event(NamedTuple):
    finding_id: int
    scan_id: int
    at: Any  # as the driver returns it: parsed only when a duration needs it
    status: str
    severity: str
    reason: str
    mute_id: int | None


def identities(session: Session, where: FindingFilter) -> dict[int, Identity]:
    t = FindingRecord
    q = select(
        col(t.id), col(t.key), col(t.check_id), col(t.account_id), col(t.region),
        col(t.resource_arn), col(t.sub_resource), col(t.pillar),
    ).where(*where.identity_clauses())
    rows: list[Any] = list(session.connection().execute(q))
    return {row[0]: Identity(*row[1:]) for row in rows}


def events(
    session: Session, where: FindingFilter, until_scan: int | None
) -> Iterator[Event]:
    """Slim events in scan order, identity filters applied in SQL."""
    e = FindingEventRecord
    q = select(
        col(e.finding_id), col(e.scan_id), type_coerce(col(e.at), NullType()), col(e.status),
        col(e.severity), col(e.reason), col(e.mute_id),
    )
    clauses = where.identity_clauses()
    if clauses:
        q = q.join(FindingRecord, col(FindingRecord.id) == col(e.finding_id)).where(*clauses)
    if until_scan is not None:
        q = q.where(col(e.scan_id) <= until_scan)
    q = q.order_by(col(e.scan_id), col(e.id))
    # On the connection: Core rows, without the ORM's per-row bookkeeping.
    for row in session.connection().execute(q).yield_per(5000):
        yield Event(*row)



class Scan(NamedTuple):
    id: int
    started_at: datetime


def finished_scans(session: Session) -> list[Scan]:
    q = (
        select(col(ScanRecord.id), col(ScanRecord.started_at))
        .where(col(ScanRecord.status).not_in(UNFINISHED))
        .order_by(col(ScanRecord.id))
    )
    rows: list[Any] = list(session.execute(q))
    return [Scan(i, at) for i, at in rows]


def grouper(by: str, ident: dict[int, Identity]) -> Callable[[int, Brief], str]:
    if by == "severity":
        return lambda _fid, state: state.severity
    if by == "all":
        return lambda _fid, _state: "all"
    attr = {"pillar": "pillar", "check": "check_id", "account": "account_id",
            "region": "region"}[by]
    return lambda fid, _state: getattr(ident[fid], attr)


def glob_keep(where: FindingFilter, ident: dict[int, Identity]) -> set[int] | None:
    """Finding ids a glob resource filter keeps (SQL cannot), or None for no such filter."""
    if where.resource is None or not set("*?[") & set(where.resource):
        return None
    return {fid for fid, i in ident.items() if fnmatchcase(i.resource_arn, where.resource)}


