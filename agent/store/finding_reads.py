"""Reading findings: now (from the rows and the accounts' latest writes) or as of a past
scan (replayed from the events), and one finding's history."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, or_, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType
from sqlmodel import col

from agent.domain import Pillar, Severity
from agent.store import lifecycle
from agent.store.lifecycle import FindingState, Observation
from agent.store.reads import FindingFilter, latest_writes
from agent.store.rows import FindingEventRow, FindingRow, FindingStatus, MuteRow, mute_applies
from agent.store.tables import FindingEventRecord, FindingRecord, MuteRuleRecord
from agent.store.types import utc_from_raw
from agent.store.writes import PreviousWrite

_T = FindingRecord
_ORDER = (
    col(_T.account_id),
    col(_T.region),
    col(_T.check_id),
    col(_T.resource_arn),
    col(_T.sub_resource),
)
_STATE_FIELDS = tuple(FindingState.__dataclass_fields__)


class Identity(NamedTuple):
    """The columns of a finding that never change."""

    id: int
    key: str
    check_id: str
    account_id: str
    region: str
    resource_arn: str
    sub_resource: str
    resource_kind: str
    pillar: str


_IDENTITY = tuple(getattr(_T, name) for name in Identity._fields)
_E = FindingEventRecord
# One event row as `replay_events` reads it.
EVENT_COLUMNS = (
    col(_E.finding_id), col(_E.id), type_coerce(col(_E.at), NullType()), col(_E.status),
    col(_E.severity), col(_E.reason), col(_E.mute_id), col(_E.evidence).is_not(None),
    col(_E.scan_id),
)


def mute_rows(session: Session) -> dict[int, MuteRow]:
    return {
        m.id: MuteRow(m.id, m.criteria, m.reason, m.owner, m.expires_at, m.source)
        for m in session.scalars(select(MuteRuleRecord))
        if m.id is not None
    }


def current_findings(
    session: Session, where: FindingFilter, at: datetime
) -> list[FindingRow]:
    """Findings as the latest writes left them; muted compared with `at`."""
    state_cols = [getattr(_T, name) for name in _STATE_FIELDS]
    q = (
        select(*_IDENTITY, col(_T.missing_since_scan_id), *state_cols)
        .where(*where.identity_clauses())
        .order_by(*_ORDER)
    )
    if where.status is not None:
        q = q.where(col(_T.status).in_(sorted(where.status)))
    if where.since is not None:
        q = q.where(since_clause(where.since))
    latest = latest_writes(session)
    mutes = mute_rows(session)
    width = len(Identity._fields)
    out = []
    for row in session.execute(q):
        ident = Identity(*row[:width])
        missing = row[width]
        values = dict(zip(_STATE_FIELDS, row[width + 1 :], strict=True))
        values["status"] = FindingStatus(values["status"])
        state = _effective(missing, FindingState(**values), latest.get(ident.account_id))
        found = finding_row(ident, state, mutes, at, as_of=False, missing_since=missing)
        if where.keeps(found):
            out.append(found)
    return out


def _effective(
    missing_since: int | None, state: FindingState, write: PreviousWrite | None
) -> FindingState:
    """Last seen and observed as of the account's latest write, for a continuously seen row
    (the writer's invariant: see `agent.store.writes`)."""
    if write is None or missing_since is not None or state.status == FindingStatus.GONE:
        return state
    return replace(
        state,
        last_seen_scan_id=write.scan_id,
        last_seen_at=write.observed_at,
        observed_at=write.observed_at if state.unknown_since_at is None else state.observed_at,
    )


def observations(
    events: Iterable[FindingEventRecord],
) -> Iterator[tuple[int, Observation]]:
    """Events as observations, with evidence carried forward where it was not stored."""
    evidence: dict[int, Any] = {}
    for ev in events:
        if ev.evidence is not None:
            evidence[ev.finding_id] = ev.evidence
        yield ev.finding_id, Observation(
            ev.scan_id, ev.at, FindingStatus(ev.status), ev.severity, ev.reason,
            evidence.get(ev.finding_id, {}), ev.mute_id,
        )


class EvidenceRef(Mapping[str, Any]):
    """Stands in for the evidence stored on event `event_id` while replaying: the lifecycle
    treats evidence as an opaque value, so the replay learns which event's evidence each
    state holds and loads only those documents afterwards."""

    __slots__ = ("event_id",)

    def __init__(self, event_id: int | None) -> None:
        self.event_id = event_id

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


def findings_as_of(
    session: Session, where: FindingFilter, scan_id: int, at: datetime
) -> list[FindingRow]:
    """Each finding as it stood after scan `scan_id`, replayed from its events.

    Two passes keep this cheap on a long history: a fold of the small columns of every event
    up to the scan decides which findings the filter keeps; only those are replayed through
    the full lifecycle, and only their evidence documents are loaded.
    """
    seen = [*where.identity_clauses(), col(_T.first_seen_scan_id) <= scan_id]
    conn = session.connection()  # Core rows: no per-row ORM bookkeeping on long histories
    idents = {
        row[0]: Identity(*row)
        for row in conn.execute(select(*_IDENTITY).where(*seen).order_by(*_ORDER))
    }
    e = FindingEventRecord
    q = (
        select(*EVENT_COLUMNS)
        .join(_T, col(_T.id) == col(e.finding_id))
        .where(*seen, col(e.scan_id) <= scan_id)
        .order_by(col(e.finding_id), col(e.scan_id), col(e.id))
    )
    history: dict[int, list[Any]] = {}
    for row in conn.execute(q):
        history.setdefault(row[0], []).append(row)
    mutes = mute_rows(session)
    kept = [fid for fid in idents if fid in history
            and _brief_keeps(where, history[fid], mutes, at)]
    states = {fid: replay_events(history[fid]) for fid in kept}
    refs = {s.evidence.event_id for s in states.values()
            if isinstance(s.evidence, EvidenceRef) and s.evidence.event_id is not None}
    documents = event_evidence(session, refs)
    out = []
    for fid in kept:
        state = states[fid]
        ref = state.evidence
        if isinstance(ref, EvidenceRef):
            state = replace(state, evidence=documents.get(ref.event_id or 0, {}))
        found = finding_row(idents[fid], state, mutes, at, as_of=True)
        if where.keeps(found):
            out.append(found)
    return out


def _brief_keeps(
    where: FindingFilter, events: list[Any], mutes: dict[int, MuteRow], at: datetime
) -> bool:
    if where.status is None and where.severity is None and where.muted is None:
        return True
    brief = None
    for ev in events:
        brief = lifecycle.fold(brief, ev[3], ev[4], ev[5], ev[6])
    assert brief is not None
    if where.status is not None and brief.status not in where.status:
        return False
    if where.severity is not None and brief.severity not in where.severity:
        return False
    if where.muted is not None:
        mute = mutes.get(brief.mute_id) if brief.mute_id is not None else None
        if mute_applies(mute, at) != where.muted:
            return False
    return True


def replay_events(events: list[Any]) -> FindingState:
    """A finding's state from its events (rows of EVENT_COLUMNS, oldest first), its evidence
    an `EvidenceRef` to the event holding the document (load them with `event_evidence`)."""
    state: FindingState | None = None
    ref = EvidenceRef(None)
    for _fid, event_id, at, status, severity, reason, mute_id, has_evidence, scan in events:
        if has_evidence:
            ref = EvidenceRef(event_id)
        obs = Observation(scan, utc_from_raw(at), FindingStatus(status), severity, reason, ref,
                          mute_id)
        state = lifecycle.begin(obs) if state is None else lifecycle.advance(state, obs)
    assert state is not None
    return state


def event_evidence(session: Session, event_ids: set[int]) -> dict[int, Any]:
    e = FindingEventRecord
    ids = sorted(event_ids)
    out: dict[int, Any] = {}
    for i in range(0, len(ids), 500):
        q = select(col(e.id), col(e.evidence)).where(col(e.id).in_(ids[i : i + 500]))
        out.update({eid: doc for eid, doc in session.execute(q)})
    return out


def finding_row(
    ident: Identity,
    state: FindingState,
    mutes: dict[int, MuteRow],
    at: datetime,
    *,
    as_of: bool,
    missing_since: int | None = None,
) -> FindingRow:
    mute = mutes.get(state.mute_id) if state.mute_id is not None else None
    return FindingRow(
        id=ident.id,
        key=ident.key,
        check_id=ident.check_id,
        account_id=ident.account_id,
        region=ident.region,
        resource_arn=ident.resource_arn,
        sub_resource=ident.sub_resource,
        resource_kind=ident.resource_kind,
        status=FindingStatus(state.status),
        severity=Severity(state.severity),
        pillar=Pillar(ident.pillar),
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
        mute=mute,
        muted=mute_applies(mute, at),
        missing_since_scan_id=None if as_of else missing_since,
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
            finding_id=fid,
            scan_id=obs.scan_id,
            at=obs.at,
            status=obs.status,
            severity=Severity(obs.severity),
            reason=obs.reason,
            evidence=obs.evidence,
            mute_id=obs.mute_id,
        )
        for fid, obs in observations(session.scalars(q))
    ]


def since_clause(since: datetime) -> ColumnElement[bool]:
    return or_(col(FindingRecord.first_seen_at) >= since,
               col(FindingRecord.reopened_at) >= since)
