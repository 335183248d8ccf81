"""What every output format renders: findings, the scan they came from, coverage and history.

A scan's own results (`agent.domain.Result`) and findings read back from the store
(`agent.store.FindingRow`) both become a `Finding`, so each format has one input shape whether
it runs straight after a scan or later from the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agent.domain import Pillar, Result, Severity, Standing, standing

if TYPE_CHECKING:  # the store pulls in SQLAlchemy; formats only need its row shapes
    from agent.store.rows import CoverageRow, FindingRow, GapRow, MuteRow, ScanRow
    from checks.base import Check

# A finding's status: the check verdicts plus the store's GONE (the resource was deleted).
PASS, FAIL, UNKNOWN, NOT_APPLICABLE, GONE = "PASS", "FAIL", "UNKNOWN", "NOT_APPLICABLE", "GONE"
STATUSES = (FAIL, UNKNOWN, PASS, NOT_APPLICABLE, GONE)


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding as a report shows it.

    `status` is what the scan reported (from a Result) or the latest known status (from the
    store, where `unknown_since_at` then says since when it could not be verified). The
    lifecycle fields are None when no history is known. `mute` is the rule the store
    recorded with the finding, `muted` whether it applies at the time of the view (the
    store's `FindingRow.muted`); `standing` says open or muted from both, as every view does.
    """

    key: str
    check_id: str
    status: str
    severity: Severity
    pillar: Pillar
    account_id: str
    region: str
    resource_arn: str
    sub_resource: str
    resource_kind: str
    reason: str
    evidence: Mapping[str, Any]
    observed_at: datetime
    first_seen_at: datetime | None = None
    first_seen_scan_id: int | None = None
    resolved_at: datetime | None = None
    reopened_at: datetime | None = None
    unknown_since_at: datetime | None = None
    unknown_reason: str | None = None
    mute: MuteRow | None = None
    muted: bool = False

    @classmethod
    def from_result(cls, r: Result, row: FindingRow | None = None) -> Finding:
        """A scan's result, with the lifecycle and mute the store recorded for it when `row`
        is given."""
        return cls(
            key=r.key,
            check_id=r.check_id,
            status=r.status.value,
            severity=r.severity,
            pillar=r.pillar,
            account_id=r.account_id,
            region=r.region,
            resource_arn=r.resource_arn,
            sub_resource=r.sub_resource,
            resource_kind=r.resource_kind,
            reason=r.reason,
            evidence=r.evidence,
            observed_at=r.observed_at,
            first_seen_at=row.first_seen_at if row else None,
            first_seen_scan_id=row.first_seen_scan_id if row else None,
            resolved_at=row.resolved_at if row else None,
            reopened_at=row.reopened_at if row else None,
            mute=row.mute if row else None,
            muted=row.muted if row else False,
        )

    @classmethod
    def from_row(cls, row: FindingRow) -> Finding:
        return cls(
            key=row.key,
            check_id=row.check_id,
            status=row.status.value,
            severity=row.severity,
            pillar=row.pillar,
            account_id=row.account_id,
            region=row.region,
            resource_arn=row.resource_arn,
            sub_resource=row.sub_resource,
            resource_kind=row.resource_kind,
            reason=row.reason,
            evidence=row.evidence,
            observed_at=row.observed_at,
            first_seen_at=row.first_seen_at,
            first_seen_scan_id=row.first_seen_scan_id,
            resolved_at=row.resolved_at,
            reopened_at=row.reopened_at,
            unknown_since_at=row.unknown_since_at,
            unknown_reason=row.unknown_reason,
            mute=row.mute,
            muted=row.muted,
        )

    @property
    def standing(self) -> Standing:
        return standing(self.status, self.muted)

    @property
    def is_open(self) -> bool:
        """Failing and not muted: what needs work."""
        return self.standing is Standing.OPEN

    @property
    def suppressed(self) -> bool:
        """Muted while it would otherwise ask for attention (FAIL, or UNKNOWN: not verified):
        what the formats with a workflow state (ASFF, OCSF, SARIF) mark as suppressed."""
        return self.muted and self.status in (FAIL, UNKNOWN)

    @property
    def resource_name(self) -> str:
        """The last path element of the ARN (an endpoint's name), or the ARN itself."""
        tail = short_arn(self.resource_arn)
        return tail.rsplit("/", 1)[-1] if "/" in tail else tail

    @property
    def partition(self) -> str:
        parts = self.resource_arn.split(":", 2)
        return parts[1] if len(parts) > 2 and parts[0] == "arn" and parts[1] else "aws"


MUTE_FIELDS = ("muted", "mute_reason", "mute_owner", "mute_expires_at")


def mute_fields(mute: MuteRow | None, muted: bool) -> dict[str, Any]:
    """The mute columns of JSON and CSV (`mllens findings` and the report formats alike): the
    rule's reason, owner and expiry are given while it is recorded with the finding, also
    after it expired (`muted` false: "mute expired")."""
    return {
        "muted": muted,
        "mute_reason": mute.reason if mute else None,
        "mute_owner": mute.owner if mute else None,
        "mute_expires_at": mute.expires_at.isoformat() if mute and mute.expires_at else None,
    }


def mute_note(mute: MuteRow) -> str:
    """One line for a person: why, who and until when (`accepted risk; owner: ...; expires
    2027-06-30T00:00:00+00:00`)."""
    parts = [mute.reason]
    if mute.owner:
        parts.append(f"owner: {mute.owner}")
    parts.append(f"expires {mute.expires_at.isoformat()}" if mute.expires_at
                 else "no expiry")
    return "; ".join(parts)


def short_arn(arn: str) -> str:
    """An ARN without `arn:partition:service:region:account:` (what a person recognises)."""
    return arn.split(":", 5)[-1] if arn.startswith("arn:") else arn


@dataclass(frozen=True, slots=True)
class ScanInfo:
    id: int | None
    uid: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    scope: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, s: ScanRow) -> ScanInfo:
        return cls(s.id, s.uid, s.started_at, s.finished_at, s.status.value, s.scope)


@dataclass(frozen=True)
class Report:
    """Everything a format may show. Formats read what they need and ignore the rest."""

    findings: Sequence[Finding]
    catalog: Mapping[str, Check]
    generated_at: datetime
    tool_version: str
    scan: ScanInfo | None = None
    coverage: Sequence[CoverageRow] = ()
    gaps: Sequence[GapRow] = ()
    # Finished scans, oldest first, for trends.
    history: Sequence[ScanRow] = ()
    # Per scan of `history`: (open, muted) per pillar after it, as `mllens trends --per scan
    # --by pillar` counts them over the report's accounts. A scan missing here falls back to
    # its own summary (failed findings, none of them known to be muted).
    failing: Mapping[int, Mapping[str, tuple[int, int]]] = field(default_factory=dict)
