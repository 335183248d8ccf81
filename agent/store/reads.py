"""Queries, and the mapping from table records to the rows the store hands back."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, func, or_, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType
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
    MuteRow,
    ResourceRow,
    ScanRow,
    ScanStatus,
)
from agent.store.tables import (
    CoverageSetRecord,
    FindingEventRecord,
    FindingRecord,
    GapRecord,
    MuteRuleRecord,
    ResourceRecord,
    ScanAccountRecord,
    ScanRecord,
)
from agent.store.types import utc_from_raw
from agent.store.writes import PreviousWrite

StatusFilter = str | Iterable[str] | None
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class FindingFilter:
    """What `Store.findings` (and the history queries) select. None means any.

    `resource` is a substring of the ARN, or a shell glob over the whole ARN when it holds
    `*`, `?` or `[`. `since` keeps findings first seen or reopened at or after it. `severity`
    and `status` are those of the view's time; `muted` compares with the view's time too.
    """

    status: frozenset[str] | None = None
    severity: frozenset[str] | None = None
    pillar: frozenset[str] | None = None
    check_id: frozenset[str] | None = None
    account_id: frozenset[str] | None = None
    region: frozenset[str] | None = None
    resource: str | None = None
    since: datetime | None = None
    muted: bool | None = None

    @classmethod
    def of(cls, **values: Any) -> FindingFilter:
        """Build from plain values: a string or any iterable of strings per set field."""
        out: dict[str, Any] = {}
        for name, value in values.items():
            if value is None or name in ("resource", "since", "muted"):
                out[name] = value
            elif isinstance(value, str):
                out[name] = frozenset({value})
            else:
                out[name] = frozenset(str(v) for v in value)
        if out.get("status") is not None:
            out["status"] = frozenset(FindingStatus(s).value for s in out["status"])
        if out.get("severity") is not None:
            out["severity"] = frozenset(Severity(s).value for s in out["severity"])
        if out.get("pillar") is not None:
            out["pillar"] = frozenset(Pillar(s).value for s in out["pillar"])
        return cls(**out)

    def identity_clauses(self) -> list[ColumnElement[bool]]:
        """The parts SQL can answer from the findings table (identity columns)."""
        t = FindingRecord
        clauses: list[ColumnElement[bool]] = []
        for name, column in (
            ("check_id", t.check_id),
            ("account_id", t.account_id),
            ("region", t.region),
            ("pillar", t.pillar),
        ):
            wanted = getattr(self, name)
            if wanted is not None:
                clauses.append(col(column).in_(sorted(wanted)))
        if self.resource is not None and not _GLOB_CHARS & set(self.resource):
            clauses.append(col(t.resource_arn).contains(self.resource, autoescape=True))
        return clauses

    def keeps(self, row: FindingRow) -> bool:
        """The parts that depend on the view's time, checked on the finished row."""
        if self.status is not None and row.status.value not in self.status:
            return False
        if self.severity is not None and row.severity.value not in self.severity:
            return False
        if self.muted is not None and row.muted != self.muted:
            return False
        if self.resource is not None and _GLOB_CHARS & set(self.resource) \
                and not fnmatchcase(row.resource_arn, self.resource):
            return False
        if self.since is not None:
            opened = max(row.first_seen_at, row.reopened_at or row.first_seen_at)
            if opened < self.since:
                return False
        return True


def legacy_filter(
    status: StatusFilter, account_id: str | None, region: str | None, check_id: str | None
) -> FindingFilter:
    return FindingFilter.of(status=status, account_id=account_id, region=region,
                            check_id=check_id)


# -- scans -------------------------------------------------------------------------------------


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


def scan_at(session: Session, at: datetime) -> ScanRecord | None:
    """The latest finished scan that started at or before `at`."""
    return session.scalars(
        select(ScanRecord)
        .where(col(ScanRecord.started_at) <= at,
               col(ScanRecord.status) != ScanStatus.RUNNING.value)
        .order_by(col(ScanRecord.started_at).desc(), col(ScanRecord.id).desc())
        .limit(1)
    ).first()


def latest_scan_id(session: Session) -> int | None:
    return session.scalar(select(func.max(col(ScanRecord.id))))


def latest_writes(session: Session) -> dict[str, PreviousWrite]:
    """Each account's latest write: the scan that last saw its continuously reported rows."""
    t = ScanAccountRecord
    latest = select(func.max(col(t.id))).group_by(col(t.account_id))
    q = select(col(t.account_id), col(t.scan_id), col(t.observed_at)).where(col(t.id).in_(latest))
    return {a: PreviousWrite(s, at) for a, s, at in session.execute(q)}


def coverage_rows(session: Session, scan_id: int) -> list[CoverageRow]:
    q = (
        select(col(ScanAccountRecord.account_id), col(CoverageSetRecord.entries))
        .join(CoverageSetRecord,
              col(CoverageSetRecord.id) == col(ScanAccountRecord.coverage_set_id))
        .where(col(ScanAccountRecord.scan_id) == scan_id)
        .order_by(col(ScanAccountRecord.account_id))
    )
    return [
        CoverageRow(scan_id, account, region, kind, CoverageState(state), reason)
        for account, entries in session.execute(q)
        for region, kind, state, reason in entries
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


def resource_rows(
    session: Session, q: Select[Any], last_seen_scan_id: int | None
) -> list[ResourceRow]:
    q = q.order_by(
        col(ResourceRecord.account_id),
        col(ResourceRecord.region),
        col(ResourceRecord.kind),
        col(ResourceRecord.arn),
    )
    latest = latest_writes(session)
    out = []
    for r in session.scalars(q):
        seen_scan, seen_at = r.last_seen_scan_id, r.last_seen_at
        write = latest.get(r.account_id)
        if r.missing_since_scan_id is None and write is not None:
            seen_scan, seen_at = write.scan_id, write.observed_at
        if last_seen_scan_id is not None and seen_scan != last_seen_scan_id:
            continue
        out.append(
            ResourceRow(
                account_id=r.account_id,
                region=r.region,
                kind=r.kind,
                arn=r.arn,
                name=r.name,
                first_seen_at=r.first_seen_at,
                first_seen_scan_id=r.first_seen_scan_id,
                last_seen_at=seen_at,
                last_seen_scan_id=seen_scan,
            )
        )
    return out


# -- findings ----------------------------------------------------------------------------------

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


class _EvidenceRef(Mapping[str, Any]):
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
        select(
            col(e.finding_id), col(e.id), type_coerce(col(e.at), NullType()), col(e.status),
            col(e.severity), col(e.reason), col(e.mute_id), col(e.evidence).is_not(None),
            col(e.scan_id),
        )
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
    states = {fid: _replay_one(history[fid]) for fid in kept}
    refs = {s.evidence.event_id for s in states.values()
            if isinstance(s.evidence, _EvidenceRef) and s.evidence.event_id is not None}
    documents = _event_evidence(session, refs)
    out = []
    for fid in kept:
        state = states[fid]
        ref = state.evidence
        if isinstance(ref, _EvidenceRef):
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
        if (mute is not None and mute.active(at)) != where.muted:
            return False
    return True


def _replay_one(events: list[Any]) -> FindingState:
    state: FindingState | None = None
    ref = _EvidenceRef(None)
    for _fid, event_id, at, status, severity, reason, mute_id, has_evidence, scan in events:
        if has_evidence:
            ref = _EvidenceRef(event_id)
        obs = Observation(scan, utc_from_raw(at), FindingStatus(status), severity, reason, ref,
                          mute_id)
        state = lifecycle.begin(obs) if state is None else lifecycle.advance(state, obs)
    assert state is not None
    return state


def _event_evidence(session: Session, event_ids: set[int]) -> dict[int, Any]:
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
        muted=mute is not None and mute.active(at),
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
