"""Queries, and the mapping from table records to the rows the store hands back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from agent.domain import Pillar, Severity
from agent.store.rows import (
    CoverageRow,
    CoverageState,
    FindingRow,
    FindingStatus,
    GapRow,
    ResourceRow,
    ScanRow,
    ScanStatus,
)
from agent.store.tables import (
    CoverageSetRecord,
    FindingRecord,
    GapRecord,
    ResourceRecord,
    ScanAccountRecord,
    ScanRecord,
)
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
        target_key=r.target_key,
        run_key=r.run_key,
        shard_count=r.shard_count,
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
    """The latest finished scan that started at or before `at` (not an interrupted one: it
    changed nothing)."""
    return session.scalars(
        select(ScanRecord)
        .where(col(ScanRecord.started_at) <= at,
               col(ScanRecord.status).not_in(UNFINISHED))
        .order_by(col(ScanRecord.started_at).desc(), col(ScanRecord.id).desc())
        .limit(1)
    ).first()


# Scans history leaves out: still running, or stopped before finishing (changes taken back).
UNFINISHED = (ScanStatus.RUNNING.value, ScanStatus.INTERRUPTED.value)


def latest_scan_id(session: Session) -> int | None:
    return session.scalar(select(func.max(col(ScanRecord.id))))


def latest_writes(session: Session) -> dict[str, PreviousWrite]:
    """Each account's latest write: the scan that last saw its continuously reported rows
    (interrupted scans left out: what they wrote was taken back)."""
    t = ScanAccountRecord
    latest = (select(func.max(col(t.id)))
              .join(ScanRecord, col(ScanRecord.id) == col(t.scan_id))
              .where(col(ScanRecord.status) != ScanStatus.INTERRUPTED.value)
              .group_by(col(t.account_id)))
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
