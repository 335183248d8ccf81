"""Writing one account's share of a scan; the caller owns the transaction.

Growth follows change, not time. A scan adds one `scan_accounts` row per account (pointing at
a coverage set shared by every scan that covered the account the same way) plus its gaps;
findings and resources are written only when something about them changed:

- A finding (or resource) that is reported again unchanged is not touched. It counts as seen
  by every write of its account until a write does not report it; readers take its last seen
  scan and time from the account's latest `scan_accounts` row.
- A write that does not report a finding either makes it GONE (its scope was evaluated
  completely) or marks it missing (`missing_since_scan_id`). Either way its last sighting is
  first written down ("materialised") from the account's previous write, the last one that
  still reported it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha1
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlmodel import col

from agent.domain import Gap, Resource, Result
from agent.mutes import MuteRule
from agent.store.rows import CoverageState, ScanStatus
from agent.store.tables import (
    CoverageSetRecord,
    GapRecord,
    MuteRuleRecord,
    ResourceRecord,
    ScanAccountRecord,
    ScanRecord,
)

CoverageItem = tuple[str, str, CoverageState | str, str | None]

_WORST_STATE = {
    CoverageState.FAILED: 3,
    CoverageState.PARTIAL: 2,
    CoverageState.SKIPPED: 1,
    CoverageState.COMPLETE: 0,
}
# Bound the number of parameters in one IN list (SQLite allows 32766).
CHUNK = 500


@dataclass(frozen=True, slots=True)
class PreviousWrite:
    """The account's latest write before this one: the last scan that saw unchanged rows."""

    scan_id: int
    observed_at: datetime


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


def previous_write(session: Session, account_id: str) -> PreviousWrite | None:
    """The account's latest write by a scan that was not interrupted (an interrupted scan's
    finding changes were taken back, so its sightings count for nothing)."""
    sa = ScanAccountRecord
    row = session.execute(
        select(col(sa.scan_id), col(sa.observed_at))
        .join(ScanRecord, col(ScanRecord.id) == col(sa.scan_id))
        .where(col(sa.account_id) == account_id,
               col(ScanRecord.status) != ScanStatus.INTERRUPTED.value)
        .order_by(col(sa.id).desc())
        .limit(1)
    ).first()
    return PreviousWrite(row[0], row[1]) if row is not None else None


def observed_time(results: Sequence[Result], now: datetime) -> datetime:
    """When this write's results were observed: the latest result time (naive ones are
    refused later, by the column type, with the rest of the write)."""
    return max((r.observed_at for r in results if r.observed_at.tzinfo is not None), default=now)


def record_account(
    session: Session, scan_id: int, account_id: str, observed_at: datetime, coverage_set_id: int
) -> None:
    session.execute(
        insert(ScanAccountRecord),
        [
            {
                "scan_id": scan_id,
                "account_id": account_id,
                "observed_at": observed_at,
                "coverage_set_id": coverage_set_id,
            }
        ],
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


def coverage_entries(coverage: Iterable[CoverageItem]) -> list[list[str | None]]:
    """One entry per (region, kind), sorted: the worse state wins, reasons join."""
    merged: dict[tuple[str, str], tuple[CoverageState, str | None]] = {}
    for region, kind, state_value, reason in coverage:
        state = CoverageState(state_value)
        key = (region, kind)
        if key in merged:
            old_state, old_reason = merged[key]
            if _WORST_STATE[old_state] > _WORST_STATE[state]:
                state = old_state
            reason = "; ".join(r for r in (old_reason, reason) if r) or None
        merged[key] = (state, reason or None)
    return [[region, kind, st.value, why] for (region, kind), (st, why) in sorted(merged.items())]


def coverage_key(entries: list[list[str | None]]) -> str:
    raw = json.dumps(entries, separators=(",", ":"))
    return sha1(raw.encode(), usedforsecurity=False).hexdigest()


def write_coverage(session: Session, coverage: Iterable[CoverageItem]) -> int:
    """The id of the coverage set with exactly these entries, inserted if new."""
    entries = coverage_entries(coverage)
    key = coverage_key(entries)
    counts = {state.value: 0 for state in CoverageState}
    for entry in entries:
        counts[str(entry[2])] += 1
    row = {"key": key, "entries": entries, **counts}
    return _insert_once(session, CoverageSetRecord, [row])[key]


def _insert_once(session: Session, table: Any, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Ids by key of content-addressed rows, inserting those not stored yet. Concurrent writers
    (two accounts at once) may insert the same key: the second insert is skipped, not failed."""
    if not rows:
        return {}
    keys = [r["key"] for r in rows]
    dialect = session.get_bind().dialect.name
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    known = _ids_by_key(session, table, keys)
    missing = [r for r in rows if r["key"] not in known]
    if missing:
        session.execute(stmt.on_conflict_do_nothing(index_elements=["key"]), missing)
        known = _ids_by_key(session, table, keys)
    return known


def _ids_by_key(session: Session, table: Any, keys: list[str]) -> dict[str, int]:
    q = select(table.id, table.key).where(table.key.in_(keys))
    return {k: i for i, k in session.execute(q)}


def write_mute_rules(
    session: Session, rules: Iterable[MuteRule], source: str, now: datetime
) -> dict[str, int]:
    """Ids by rule key for `rules`, stored once each."""
    rows = {
        r.key: {
            "key": r.key,
            "criteria": r.criteria(),
            "reason": r.reason,
            "owner": r.owner,
            "expires_at": r.expires,
            "source": source,
            "created_at": now,
        }
        for r in rules
    }
    return _insert_once(session, MuteRuleRecord, list(rows.values()))


# -- resources ---------------------------------------------------------------------------------


def write_resources(
    session: Session,
    scan_id: int,
    account_id: str,
    resources: Sequence[Resource],
    seen_at: datetime,
    prev: PreviousWrite | None,
) -> None:
    """Insert new resources; touch known ones only when renamed, back, or no longer listed."""
    wanted = {(r.region, r.kind.value, r.arn): r for r in resources}
    t = ResourceRecord
    known = {
        (region, kind, arn): (rid, name, missing)
        for rid, region, kind, arn, name, missing in session.execute(
            select(
                col(t.id), col(t.region), col(t.kind), col(t.arn), col(t.name),
                col(t.missing_since_scan_id),
            ).where(col(t.account_id) == account_id)
        )
    }
    seen = {"last_seen_at": seen_at, "last_seen_scan_id": scan_id, "missing_since_scan_id": None}
    updates = [
        {"id": known[k][0], "name": r.name, **seen}
        for k, r in wanted.items()
        if k in known and (known[k][1] != r.name or known[k][2] is not None)
    ]
    for k, (rid, _name, missing) in known.items():
        if k not in wanted and missing is None:
            gone: dict[str, Any] = {"id": rid, "missing_since_scan_id": scan_id}
            if prev is not None:
                gone |= {"last_seen_at": prev.observed_at, "last_seen_scan_id": prev.scan_id}
            updates.append(gone)
    inserts = [
        {
            "account_id": account_id,
            "region": region,
            "kind": kind,
            "arn": arn,
            "name": r.name,
            "first_seen_at": seen_at,
            "first_seen_scan_id": scan_id,
            **seen,
        }
        for (region, kind, arn), r in wanted.items()
        if (region, kind, arn) not in known
    ]
    update_by_id(session, t, updates)
    if inserts:
        session.execute(insert(t), inserts)


def update_by_id(session: Session, table: Any, updates: list[dict[str, Any]]) -> None:
    """ORM bulk UPDATE by primary key, one executemany per set of columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for u in updates:
        groups.setdefault(tuple(sorted(u)), []).append(u)
    for rows in groups.values():
        session.execute(update(table), rows)
