"""Queries, and the mapping from table records to the rows the store hands back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from agent.domain import Pillar, Severity
from agent.store import lifecycle
from agent.store.lifecycle import FindingState, Observation
from agent.store.rows import (
    CoverageRow,
    CoverageState,
    FindingEventRow,
    FindingRow,
    FindingStatus,
    GapRow,
    ResourceRow,
    ScanRow,
    ScanStatus,
)
from agent.store.tables import (
    CoverageRecord,
    FindingEventRecord,
    FindingRecord,
    GapRecord,
    ResourceRecord,
    ScanRecord,
)

StatusFilter = str | Iterable[str] | None


def scan_row(r: ScanRecord) -> ScanRow:
    assert r.id is not None
    return ScanRow(
        id=r.id,
        uid=r.uid,
        started_at=r.started_at,
        finished_at=r.finished_at,
        status=ScanStatus(r.status),
        scope=r.scope,
        api_calls=r.api_calls,
        summary=r.summary,
        error=r.error,
        tool_version=r.tool_version,
    )


def find_scan(session: Session, uid_or_id: int | str) -> ScanRecord | None:
    """By id, by uid, or by a uid prefix of at least 4 characters that matches one scan."""
    if isinstance(uid_or_id, int) or uid_or_id.isdigit():
        return session.get(ScanRecord, int(uid_or_id))
    exact = session.scalars(select(ScanRecord).where(col(ScanRecord.uid) == uid_or_id)).first()
    if exact is not None or len(uid_or_id) < 4:
        return exact
    matches = session.scalars(
        select(ScanRecord)
        .where(col(ScanRecord.uid).startswith(uid_or_id, autoescape=True))
        .limit(2)
    ).all()
    return matches[0] if len(matches) == 1 else None


def latest_scan_id(session: Session) -> int | None:
    return session.scalar(select(func.max(col(ScanRecord.id))))


def coverage_rows(session: Session, scan_id: int) -> list[CoverageRow]:
    q = (
        select(CoverageRecord)
        .where(col(CoverageRecord.scan_id) == scan_id)
        .order_by(
            col(CoverageRecord.account_id), col(CoverageRecord.region), col(CoverageRecord.kind)
        )
    )
    return [
        CoverageRow(c.scan_id, c.account_id, c.region, c.kind, CoverageState(c.state), c.reason)
        for c in session.scalars(q)
    ]


def gap_rows(session: Session, scan_id: int) -> list[GapRow]:
    q = select(GapRecord).where(col(GapRecord.scan_id) == scan_id).order_by(col(GapRecord.id))
    return [
        GapRow(
            scan_id=g.scan_id,
            account_id=g.account_id,
            region=g.region,
            service=g.service,
            operation=g.operation,
            kind=g.kind,
            message=g.message,
            resource_arn=g.resource_arn,
            kinds=tuple(g.kinds),
            observed_at=g.observed_at,
        )
        for g in session.scalars(q)
    ]


def resource_rows(session: Session, q: Select[Any]) -> list[ResourceRow]:
    q = q.order_by(
        col(ResourceRecord.account_id),
        col(ResourceRecord.region),
        col(ResourceRecord.kind),
        col(ResourceRecord.arn),
    )
    return [
        ResourceRow(
            account_id=r.account_id,
            region=r.region,
            kind=r.kind,
            arn=r.arn,
            name=r.name,
            first_seen_at=r.first_seen_at,
            first_seen_scan_id=r.first_seen_scan_id,
            last_seen_at=r.last_seen_at,
            last_seen_scan_id=r.last_seen_scan_id,
        )
        for r in session.scalars(q)
    ]


def _statuses(status: StatusFilter) -> set[str] | None:
    if status is None:
        return None
    if isinstance(status, str):
        return {FindingStatus(status).value}
    return {FindingStatus(s).value for s in status}


def finding_filters(
    account_id: str | None, region: str | None, check_id: str | None
) -> list[ColumnElement[bool]]:
    filters = []
    if account_id is not None:
        filters.append(col(FindingRecord.account_id) == account_id)
    if region is not None:
        filters.append(col(FindingRecord.region) == region)
    if check_id is not None:
        filters.append(col(FindingRecord.check_id) == check_id)
    return filters


_ORDER = (
    col(FindingRecord.account_id),
    col(FindingRecord.region),
    col(FindingRecord.check_id),
    col(FindingRecord.resource_arn),
    col(FindingRecord.sub_resource),
)

_EVENT_ORDER = (
    col(FindingEventRecord.finding_id),
    col(FindingEventRecord.scan_id),
    col(FindingEventRecord.id),
)


def current_findings(
    session: Session, filters: list[ColumnElement[bool]], status: StatusFilter
) -> list[FindingRow]:
    q = select(FindingRecord).where(*filters).order_by(*_ORDER)
    wanted = _statuses(status)
    if wanted is not None:
        q = q.where(col(FindingRecord.status).in_(sorted(wanted)))
    out = []
    for rec in session.scalars(q):
        values = {name: getattr(rec, name) for name in _STATE_FIELDS}
        values["status"] = FindingStatus(values["status"])
        out.append(finding_row(rec, FindingState(**values), as_of=False))
    return out


def findings_as_of(
    session: Session, filters: list[ColumnElement[bool]], scan_id: int, status: StatusFilter
) -> list[FindingRow]:
    """Each finding as it stood after scan `scan_id`, replayed from its events."""
    seen = [*filters, col(FindingRecord.first_seen_scan_id) <= scan_id]
    records = session.scalars(select(FindingRecord).where(*seen).order_by(*_ORDER)).all()
    events = session.scalars(
        select(FindingEventRecord)
        .join(FindingRecord, col(FindingRecord.id) == col(FindingEventRecord.finding_id))
        .where(*seen, col(FindingEventRecord.scan_id) <= scan_id)
        .order_by(
            col(FindingEventRecord.finding_id),
            col(FindingEventRecord.scan_id),
            col(FindingEventRecord.id),
        )
    )
    states: dict[int, FindingState] = {}
    for ev in events:
        obs = Observation(
            ev.scan_id, ev.at, FindingStatus(ev.status), ev.severity, ev.reason, ev.evidence
        )
        prev = states.get(ev.finding_id)
        states[ev.finding_id] = (
            lifecycle.begin(obs) if prev is None else lifecycle.advance(prev, obs)
        )
    wanted = _statuses(status)
    out = []
    for rec in records:
        state = states.get(rec.id or 0)
        if state is not None and (wanted is None or state.status.value in wanted):
            out.append(finding_row(rec, state, as_of=True))
    return out


_STATE_FIELDS = tuple(FindingState.__dataclass_fields__)


def finding_row(rec: FindingRecord, state: FindingState, *, as_of: bool) -> FindingRow:
    assert rec.id is not None
    return FindingRow(
        id=rec.id,
        key=rec.key,
        check_id=rec.check_id,
        account_id=rec.account_id,
        region=rec.region,
        resource_arn=rec.resource_arn,
        sub_resource=rec.sub_resource,
        resource_kind=rec.resource_kind,
        status=FindingStatus(state.status),
        severity=Severity(state.severity),
        pillar=Pillar(rec.pillar),
        reason=state.reason,
        evidence=state.evidence,
        observed_at=state.observed_at,
        first_seen_at=state.first_seen_at,
        first_seen_scan_id=state.first_seen_scan_id,
        last_seen_at=None if as_of else state.last_seen_at,
        last_seen_scan_id=None if as_of else state.last_seen_scan_id,
        resolved_at=state.resolved_at,
        resolved_scan_id=state.resolved_scan_id,
        reopened_at=state.reopened_at,
        unknown_since_at=state.unknown_since_at,
        unknown_since_scan_id=state.unknown_since_scan_id,
        unknown_reason=state.unknown_reason,
    )


def event_rows(session: Session, finding_ids: Sequence[int]) -> list[FindingEventRow]:
    q = (
        select(FindingEventRecord)
        .where(col(FindingEventRecord.finding_id).in_(finding_ids))
        .order_by(
            col(FindingEventRecord.finding_id),
            col(FindingEventRecord.scan_id),
            col(FindingEventRecord.id),
        )
    )
    return [
        FindingEventRow(
            finding_id=e.finding_id,
            scan_id=e.scan_id,
            at=e.at,
            status=FindingStatus(e.status),
            severity=Severity(e.severity),
            reason=e.reason,
            evidence=e.evidence,
        )
        for e in session.scalars(q)
    ]
