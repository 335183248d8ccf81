"""Writing one account's share of a scan; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from agent.domain import Gap, Resource, Result, Status
from agent.store import lifecycle
from agent.store.lifecycle import FindingState, Observation
from agent.store.rows import AccountWrite, CoverageState, FindingStatus
from agent.store.tables import (
    CoverageRecord,
    FindingEventRecord,
    FindingRecord,
    GapRecord,
    ResourceRecord,
)
from agent.store.types import jsonable

CoverageItem = tuple[str, str, CoverageState | str, str | None]

# When a check reports one finding twice (a bug), keep the verdict that hides least.
_PRECEDENCE = {Status.FAIL: 3, Status.UNKNOWN: 2, Status.PASS: 1, Status.NOT_APPLICABLE: 0}
_WORST_STATE = {
    CoverageState.FAILED: 3,
    CoverageState.PARTIAL: 2,
    CoverageState.SKIPPED: 1,
    CoverageState.COMPLETE: 0,
}

_STATE_COLUMNS = tuple(FindingState.__dataclass_fields__)


def check_account(
    account_id: str,
    results: Sequence[Result],
    gaps: Sequence[Gap],
    resources: Sequence[Resource],
) -> None:
    """Refuse records of another account before anything is written."""
    items: tuple[Result | Gap | Resource, ...] = (*results, *gaps, *resources)
    for item in items:
        if item.account_id != account_id:
            raise ValueError(
                f"{type(item).__name__} of account {item.account_id} passed for {account_id}"
            )


def write_gaps(session: Session, scan_id: int, gaps: Sequence[Gap]) -> None:
    if not gaps:
        return
    rows = [
        {
            "scan_id": scan_id,
            "account_id": g.account_id,
            "region": g.region,
            "service": g.service,
            "operation": g.operation,
            "kind": g.kind.value,
            "message": g.message,
            "resource_arn": g.resource_arn,
            "kinds": [k.value for k in g.kinds],
            "observed_at": g.observed_at,
        }
        for g in gaps
    ]
    session.execute(insert(GapRecord), rows)


def write_coverage(
    session: Session, scan_id: int, account_id: str, coverage: Iterable[CoverageItem]
) -> None:
    merged: dict[tuple[str, str], tuple[CoverageState, str | None]] = {}
    for region, kind, state_value, reason in coverage:
        state = CoverageState(state_value)
        key = (region, kind)
        if key in merged:
            # One row per (scan, account, region, kind): the worse state wins, reasons join.
            old_state, old_reason = merged[key]
            if _WORST_STATE[old_state] > _WORST_STATE[state]:
                state = old_state
            reason = "; ".join(r for r in (old_reason, reason) if r) or None
        merged[key] = (state, reason or None)
    if not merged:
        return
    rows = [
        {
            "scan_id": scan_id,
            "account_id": account_id,
            "region": region,
            "kind": kind,
            "state": state.value,
            "reason": reason,
        }
        for (region, kind), (state, reason) in merged.items()
    ]
    session.execute(insert(CoverageRecord), rows)


def write_resources(
    session: Session, scan_id: int, account_id: str, resources: Sequence[Resource], now: datetime
) -> None:
    """Insert new resources and move last_seen forward on known ones; no per-scan copies."""
    wanted = {(r.region, r.kind.value, r.arn): r for r in resources}
    if not wanted:
        return
    known = {
        (region, kind, arn): rid
        for rid, region, kind, arn in session.execute(
            select(
                col(ResourceRecord.id),
                col(ResourceRecord.region),
                col(ResourceRecord.kind),
                col(ResourceRecord.arn),
            ).where(col(ResourceRecord.account_id) == account_id)
        )
    }
    seen = {"last_seen_at": now, "last_seen_scan_id": scan_id}
    updates = [{"id": known[k], "name": r.name, **seen} for k, r in wanted.items() if k in known]
    inserts = [
        {
            "account_id": account_id,
            "region": region,
            "kind": kind,
            "arn": arn,
            "name": r.name,
            "first_seen_at": now,
            "first_seen_scan_id": scan_id,
            **seen,
        }
        for (region, kind, arn), r in wanted.items()
        if (region, kind, arn) not in known
    ]
    if updates:
        session.execute(update(ResourceRecord), updates)
    if inserts:
        session.execute(insert(ResourceRecord), inserts)


@dataclass
class _Tally:
    findings: int = 0
    opened: int = 0
    resolved: int = 0
    reopened: int = 0
    gone: int = 0
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
            self.findings, self.opened, self.resolved, self.reopened, self.gone, len(self.events)
        )


def write_findings(
    session: Session,
    scan_id: int,
    account_id: str,
    results: Sequence[Result],
    complete_scopes: set[tuple[str, str]],
    now: datetime,
) -> AccountWrite:
    reported = _dedupe(results)
    existing = {
        row.key: row
        for row in session.scalars(
            select(FindingRecord).where(col(FindingRecord.account_id) == account_id)
        )
    }
    tally = _Tally(findings=len(reported))
    pending: list[tuple[FindingRecord, Observation]] = []
    for key, result in reported.items():
        obs = _observation(scan_id, result)
        row = existing.get(key)
        if row is None:
            state = lifecycle.begin(obs)
            row = FindingRecord(key=key, pillar=result.pillar.value, **_identity(result))
            _store_state(row, state)
            session.add(row)
            pending.append((row, obs))
            tally.count(None, state)
            continue
        _apply(row, obs, tally, pending)
        row.resource_kind = result.resource_kind
        row.pillar = result.pillar.value

    for row in existing.values():
        if (
            row.key not in reported
            and (row.region, row.check_id) in complete_scopes
            and row.status != FindingStatus.GONE
        ):
            _apply(row, lifecycle.gone(_load_state(row), scan_id, now), tally, pending)

    session.flush()  # new findings get their ids, which their first events need
    tally.events = [_event(row.id, obs) for row, obs in pending]
    if tally.events:
        session.execute(insert(FindingEventRecord), tally.events)
    return tally.result()


def _apply(
    row: FindingRecord,
    obs: Observation,
    tally: _Tally,
    pending: list[tuple[FindingRecord, Observation]],
) -> None:
    old = _load_state(row)
    new = lifecycle.advance(old, obs)
    if lifecycle.is_change(old, obs):
        pending.append((row, obs))
    tally.count(old, new)
    _store_state(row, new)


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


def _observation(scan_id: int, r: Result) -> Observation:
    return Observation(
        scan_id=scan_id,
        at=r.observed_at,
        status=FindingStatus(r.status.value),
        severity=r.severity.value,
        reason=r.reason,
        # Plain JSON now, so the row and the event hold the same value the database returns.
        evidence=jsonable(r.evidence),
    )


def _event(finding_id: int | None, obs: Observation) -> dict[str, Any]:
    return {
        "finding_id": finding_id,
        "scan_id": obs.scan_id,
        "at": obs.at,
        "status": obs.status.value,
        "severity": obs.severity,
        "reason": obs.reason,
        "evidence": obs.evidence,
    }


def _load_state(row: FindingRecord) -> FindingState:
    values = {name: getattr(row, name) for name in _STATE_COLUMNS}
    values["status"] = FindingStatus(values["status"])
    return FindingState(**values)


def _store_state(row: FindingRecord, state: FindingState) -> None:
    for name in _STATE_COLUMNS:
        value = getattr(state, name)
        if name == "status":
            value = value.value
        # Only assign real changes, so the ORM issues UPDATEs for changed columns alone.
        if getattr(row, name, None) != value:
            setattr(row, name, value)
