"""Writing one account's findings and their events; the caller owns the transaction.

Only what changed is written (see `agent.store.writes` for the sighting rules): a finding
reported again exactly as stored costs a comparison, not a row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session
from sqlmodel import col

from agent.domain import Pillar, Resource, Result, Severity, Status
from agent.mutes import MuteRule, MuteSet, tags_of
from agent.store import lifecycle
from agent.store.lifecycle import FindingState, Observation
from agent.store.rows import AccountWrite, FindingStatus
from agent.store.tables import FindingEventRecord, FindingRecord, MuteRuleRecord, ScanRecord
from agent.store.types import jsonable
from agent.store.writes import CHUNK, PreviousWrite, update_by_id, write_mute_rules

# When a check reports one finding twice (a bug), keep the verdict that hides least.
_PRECEDENCE = {Status.FAIL: 3, Status.UNKNOWN: 2, Status.PASS: 1, Status.NOT_APPLICABLE: 0}
_STATE_COLUMNS = tuple(FindingState.__dataclass_fields__)


@dataclass
class _Tally:
    findings: int = 0
    opened: int = 0
    resolved: int = 0
    reopened: int = 0
    gone: int = 0
    muted: int = 0
    missing: int = 0
    muted_keys: frozenset[str] = frozenset()
    events: list[dict[str, Any]] = field(default_factory=list)

    def count(self, old: FindingState | None, new: FindingState) -> None:
        was_fail = old is not None and old.status == FindingStatus.FAIL
        if new.status == FindingStatus.FAIL and not was_fail:
            if old is not None and old.resolved_at is not None:
                self.reopened += 1
            else:
                self.opened += 1
        if was_fail and new.resolved_at is not None:
            self.resolved += 1
        if new.status == FindingStatus.GONE:
            self.gone += 1

    def result(self) -> AccountWrite:
        return AccountWrite(
            self.findings, self.opened, self.resolved, self.reopened, self.gone,
            len(self.events), self.muted, self.missing, self.muted_keys,
        )


_T = FindingRecord
_READ = (
    col(_T.id), col(_T.key), col(_T.region), col(_T.check_id), col(_T.resource_kind),
    col(_T.pillar), col(_T.missing_since_scan_id), col(_T.resource_arn), col(_T.sub_resource),
    *(getattr(_T, name) for name in _STATE_COLUMNS),
)


@dataclass(frozen=True, slots=True)
class _Known:
    id: int
    region: str
    check_id: str
    resource_kind: str
    pillar: str
    missing_since: int | None
    resource_arn: str
    sub_resource: str
    state: FindingState


def _known(row: Any) -> _Known:
    values: dict[str, Any] = dict(zip(_STATE_COLUMNS, row[9:], strict=True))
    values["status"] = FindingStatus(values["status"])
    return _Known(row[0], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                  FindingState(**values))


def held_by_unknown(
    existing: Mapping[str, _Known], reported: Mapping[str, Result], account_id: str
) -> dict[str, Result]:
    """Known findings this write does not report, whose check answered UNKNOWN for their
    resource (the whole of it, or another part of it) or for their whole region: a resource
    whose describe failed is judged once, without its variants, and a check that crashed is
    judged once for the region. Not seen then is not gone: they take that UNKNOWN (and read as
    unverified) instead of resolving, however complete the rest of the scope was."""
    by_resource: dict[tuple[str, str, str], Result] = {}
    by_region: dict[tuple[str, str], Result] = {}
    for r in reported.values():
        if r.status is not Status.UNKNOWN:
            continue
        by_resource.setdefault((r.check_id, r.region, r.resource_arn), r)
        if r.resource_kind == "region":
            by_region.setdefault((r.check_id, r.region), r)
    if not by_resource:
        return {}
    held: dict[str, Result] = {}
    for key, k in existing.items():
        if key in reported or k.state.status == FindingStatus.GONE:
            continue
        cause = (by_resource.get((k.check_id, k.region, k.resource_arn))
                 or by_region.get((k.check_id, k.region)))
        if cause is None:
            continue
        held[key] = Result(
            k.check_id, Status.UNKNOWN, k.resource_arn, cause.reason, account_id, k.region,
            Severity(k.state.severity), Pillar(k.pillar), resource_kind=k.resource_kind,
            sub_resource=k.sub_resource, observed_at=cause.observed_at,
        )
    return held


def write_findings(
    session: Session,
    scan: ScanRecord,
    account_id: str,
    results: Sequence[Result],
    resources: Sequence[Resource],
    complete_scopes: set[tuple[str, str]],
    now: datetime,
    prev: PreviousWrite | None,
    mutes: MuteSet | None,
) -> AccountWrite:
    assert scan.id is not None
    scan_id = scan.id
    reported = _dedupe(results)
    existing = {
        row[1]: _known(row)
        for row in session.execute(select(*_READ).where(col(_T.account_id) == account_id))
    }
    reported.update(held_by_unknown(existing, reported, account_id))
    tally = _Tally(findings=len(reported))
    mute_ids = _mutes_for(session, scan, reported, resources, mutes, now)
    tally.muted_keys = frozenset(mute_ids)
    tally.muted = len(tally.muted_keys)
    lapsed = _lapsed_rules(session, existing.values(), scan.started_at)

    new_rows: list[dict[str, Any]] = []
    new_obs: list[Observation] = []
    changed: list[tuple[_Known, FindingState, Result | None]] = []
    pending: list[tuple[int, FindingState | None, Observation]] = []
    for key, result in reported.items():
        known = existing.get(key)
        mute_id = mute_ids.get(key)
        if known is not None and mute_id is None and (
            mutes is None or known.state.mute_id in lapsed
        ):
            # Without a mute file the scan says nothing about mutes: they stay as they were.
            # An expired rule already reads as not applying (see agent.mutes); recording
            # "unmuted" again would rewrite every finding it covered, for no new information.
            mute_id = known.state.mute_id
        obs = _observation(scan_id, result, mute_id)
        if known is None:
            state = lifecycle.begin(obs)
            new_rows.append(
                {"key": key, "pillar": result.pillar.value, **_identity(result),
                 **state_columns(state)}
            )
            new_obs.append(obs)
            tally.count(None, state)
            continue
        if _unchanged(known, obs, result):
            continue
        old = _materialise(known, prev)
        new = lifecycle.advance(old, obs)
        if lifecycle.is_change(old, obs):
            pending.append((known.id, old, obs))
        tally.count(old, new)
        changed.append((known, new, result))

    for key, known in existing.items():
        if key in reported or known.state.status == FindingStatus.GONE:
            continue
        old = _materialise(known, prev)
        if (known.region, known.check_id) in complete_scopes:
            obs = lifecycle.gone(old, scan_id, now)
            new = lifecycle.advance(old, obs)
            pending.append((known.id, old, obs))
            tally.count(old, new)
            changed.append((known, new, None))
        elif known.missing_since is None:
            tally.missing += 1
            changed.append((known, old, None))

    updates = []
    for known, state, seen in changed:
        row = {"id": known.id, **state_columns(state)}
        # Missing (not reported, scope incomplete) is the only change that sets the marker.
        was_missing = seen is None and state.status != FindingStatus.GONE
        row["missing_since_scan_id"] = scan_id if was_missing else None
        if seen is not None:
            row["resource_kind"] = seen.resource_kind
            row["pillar"] = seen.pillar.value
        updates.append(row)
    update_by_id(session, _T, updates)

    if new_rows:
        ids = cast(list[int], session.scalars(
            insert(_T).returning(col(_T.id), sort_by_parameter_order=True), new_rows
        ).all())
        pending.extend((fid, None, obs) for fid, obs in zip(ids, new_obs, strict=True))
    tally.events = _events(session, pending)
    if tally.events:
        session.execute(insert(FindingEventRecord), tally.events)
    return tally.result()


def _mutes_for(
    session: Session,
    scan: ScanRecord,
    reported: Mapping[str, Result],
    resources: Sequence[Resource],
    mutes: MuteSet | None,
    now: datetime,
) -> dict[str, int | None]:
    """The mute rule id for each reported finding key, matched at the scan's start time."""
    if mutes is None or not mutes.rules:
        return {}
    # The tags collector records a resource's tags as a resource of its own under the same
    # ARN; merge what every record of an ARN says.
    tags_by_arn: dict[str, dict[str, str]] = {}
    for res in resources:
        found = tags_of(res.data)
        if found:
            tags_by_arn.setdefault(res.arn, {}).update(found)
    matched: dict[str, MuteRule] = {}
    for key, r in reported.items():
        tags = {**tags_by_arn.get(r.resource_arn, {}), **tags_of(r.evidence)}
        rule = mutes.match(r.check_id, r.account_id, r.region, r.resource_arn, tags,
                           scan.started_at)
        if rule is not None:
            matched[key] = rule
    # Rules are few: key each distinct one once (a rule holds a dict, so it is not hashable).
    distinct = {id(rule): rule for rule in matched.values()}
    rule_keys = {i: rule.key for i, rule in distinct.items()}
    ids = write_mute_rules(session, distinct.values(), mutes.source, now)
    return {key: ids[rule_keys[id(rule)]] for key, rule in matched.items()}


def _lapsed_rules(session: Session, known: Iterable[_Known], at: datetime) -> set[int]:
    """The stored mute rules of these findings that have expired by `at`."""
    ids = {k.state.mute_id for k in known if k.state.mute_id is not None}
    if not ids:
        return set()
    t = MuteRuleRecord
    q = select(col(t.id)).where(col(t.id).in_(sorted(ids)), col(t.expires_at) <= at)
    return {i for i in session.scalars(q) if i is not None}


def _unchanged(known: _Known, obs: Observation, result: Result) -> bool:
    """Reported again exactly as stored, while continuously seen: nothing to write."""
    state = known.state
    return (
        known.missing_since is None
        and state.status != FindingStatus.GONE
        and state.signature() == obs.signature()
        and _evidence_kept(state, obs)
        and known.resource_kind == result.resource_kind
        and known.pillar == result.pillar.value
    )


def _evidence_kept(state: FindingState, obs: Observation) -> bool:
    # An UNKNOWN after a known status keeps the known evidence (see lifecycle), so its own
    # evidence is no change.
    if obs.status == FindingStatus.UNKNOWN and state.status != FindingStatus.UNKNOWN:
        return True
    return state.evidence == obs.evidence


def _materialise(known: _Known, prev: PreviousWrite | None) -> FindingState:
    """The stored state with the last sighting the account's previous write implies."""
    state = known.state
    if prev is None or known.missing_since is not None or state.status == FindingStatus.GONE:
        return state
    return replace(
        state,
        last_seen_scan_id=prev.scan_id,
        last_seen_at=prev.observed_at,
        observed_at=prev.observed_at if state.unknown_since_at is None else state.observed_at,
    )


def _events(
    session: Session, pending: Sequence[tuple[int, FindingState | None, Observation]]
) -> list[dict[str, Any]]:
    """Event rows; evidence only where it differs from the finding's last stored evidence."""
    last = _last_event_evidence(session, [fid for fid, old, _ in pending if old is not None])
    rows = []
    for fid, old, obs in pending:
        evidence: Any = obs.evidence
        if obs.status == FindingStatus.GONE or (old is not None and last.get(fid) == evidence):
            evidence = None
        rows.append(
            {
                "finding_id": fid,
                "scan_id": obs.scan_id,
                "at": obs.at,
                "status": obs.status.value,
                "severity": obs.severity,
                "reason": obs.reason,
                "evidence": evidence,
                "mute_id": obs.mute_id,
            }
        )
    return rows


def _last_event_evidence(session: Session, finding_ids: list[int]) -> dict[int, Any]:
    e = FindingEventRecord
    out: dict[int, Any] = {}
    for i in range(0, len(finding_ids), CHUNK):
        chunk = finding_ids[i : i + CHUNK]
        latest = (
            select(func.max(col(e.id)))
            .where(col(e.finding_id).in_(chunk), col(e.evidence).is_not(None))
            .group_by(col(e.finding_id))
        )
        q = select(col(e.finding_id), col(e.evidence)).where(col(e.id).in_(latest))
        out.update({fid: ev for fid, ev in session.execute(q)})
    return out


def _dedupe(results: Sequence[Result]) -> dict[str, Result]:
    out: dict[str, Result] = {}
    for r in results:
        prev = out.get(r.key)
        if prev is None or _PRECEDENCE[r.status] > _PRECEDENCE[prev.status]:
            out[r.key] = r
    return out


def _identity(r: Result) -> dict[str, Any]:
    return {
        "check_id": r.check_id,
        "account_id": r.account_id,
        "region": r.region,
        "resource_arn": r.resource_arn,
        "sub_resource": r.sub_resource,
        "resource_kind": r.resource_kind,
    }


def _observation(scan_id: int, r: Result, mute_id: int | None) -> Observation:
    return Observation(
        scan_id=scan_id,
        at=r.observed_at,
        status=FindingStatus(r.status.value),
        severity=r.severity.value,
        reason=r.reason,
        # Plain JSON now, so the row and the event hold the same value the database returns.
        evidence=jsonable(r.evidence),
        mute_id=mute_id,
    )


def state_columns(state: FindingState) -> dict[str, Any]:
    values = {name: getattr(state, name) for name in _STATE_COLUMNS}
    values["status"] = state.status.value
    return values
