"""What the store hands back: frozen rows, apart from the tables they are read from."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.domain import Pillar, Severity, Standing, standing


class ScanStatus(enum.StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    # Finished, but some account, region or collector could not be read completely.
    PARTIAL = "partial"
    FAILED = "failed"
    # Left running by a process that died or was stopped.
    INTERRUPTED = "interrupted"


class CoverageState(enum.StrEnum):
    COMPLETE = "complete"
    PARTIAL = "partial"
    FAILED = "failed"
    SKIPPED = "skipped"


class FindingStatus(enum.StrEnum):
    """A finding's status: a check's verdict, or GONE.

    GONE means a scan evaluated the finding's (account, region, check) scope completely and no
    longer reported it: the resource (or sub-resource) was deleted. Equal to the matching
    `agent.domain.Status` members as strings.
    """

    PASS = "PASS"
    FAIL = "FAIL"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    UNKNOWN = "UNKNOWN"
    GONE = "GONE"


@dataclass(frozen=True, slots=True)
class ScanRow:
    id: int
    uid: str
    started_at: datetime
    finished_at: datetime | None
    status: ScanStatus
    scope: Mapping[str, Any]
    api_calls: int
    summary: Mapping[str, Any]
    error: str | None
    tool_version: str
    target_key: str | None = None
    # Sharded scans: the run every shard named, and how many shards it has.
    run_key: str | None = None
    shard_count: int | None = None


@dataclass(frozen=True, slots=True)
class CoverageRow:
    scan_id: int
    account_id: str
    region: str
    kind: str
    state: CoverageState
    reason: str | None


@dataclass(frozen=True, slots=True)
class GapRow:
    scan_id: int
    account_id: str
    region: str
    service: str
    operation: str
    kind: str
    message: str
    resource_arn: str | None
    kinds: tuple[str, ...]
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class ResourceRow:
    account_id: str
    region: str
    kind: str
    arn: str
    name: str
    first_seen_at: datetime
    first_seen_scan_id: int
    last_seen_at: datetime
    last_seen_scan_id: int


@dataclass(frozen=True, slots=True)
class MuteRow:
    """A stored mute rule (`agent.mutes.MuteRule`, as a scan applied it)."""

    id: int
    criteria: Mapping[str, Any]
    reason: str
    owner: str | None
    expires_at: datetime | None
    source: str

    def active(self, at: datetime) -> bool:
        return self.expires_at is None or at < self.expires_at


def mute_applies(mute: MuteRow | None, at: datetime) -> bool:
    """Whether a finding whose latest write recorded `mute` is muted at `at`: the rule has
    not expired by then. Every view's `muted` is this, judged at the view's time."""
    return mute is not None and mute.active(at)


@dataclass(frozen=True, slots=True)
class FindingRow:
    """One finding as of a scan.

    `status` is the latest *known* status: an UNKNOWN observation after a known one leaves it
    (and severity, reason, evidence) alone and sets `unknown_since_*`/`unknown_reason` instead.
    `last_seen_*` is None in a view of an earlier scan: history records changes, not sightings.
    `mute` is the rule that muted the finding when it was last written; `muted` says whether
    it still applied at the time of this view (a rule stops applying when it expires).
    `missing_since_scan_id` is set while the finding's account was scanned without it being
    reported, in a scope that was not evaluated completely (so it could not become GONE).
    """

    id: int
    key: str
    check_id: str
    account_id: str
    region: str
    resource_arn: str
    sub_resource: str
    resource_kind: str
    status: FindingStatus
    severity: Severity
    pillar: Pillar
    reason: str
    evidence: Mapping[str, Any]
    observed_at: datetime
    first_seen_at: datetime
    first_seen_scan_id: int
    last_seen_at: datetime | None
    last_seen_scan_id: int | None
    resolved_at: datetime | None
    resolved_scan_id: int | None
    reopened_at: datetime | None
    unknown_since_at: datetime | None
    unknown_since_scan_id: int | None
    unknown_reason: str | None
    mute: MuteRow | None = None
    muted: bool = False
    missing_since_scan_id: int | None = None

    @property
    def standing(self) -> Standing:
        return standing(self.status, self.muted)

    @property
    def is_open(self) -> bool:
        """Failing and not muted (`agent.domain.standing`)."""
        return self.standing is Standing.OPEN


@dataclass(frozen=True, slots=True)
class FindingEventRow:
    """A change in what a check reported for a finding (or its first observation)."""

    finding_id: int
    scan_id: int
    at: datetime
    status: FindingStatus
    severity: Severity
    reason: str
    # The evidence in effect from this event on (carried forward when it did not change).
    evidence: Mapping[str, Any]
    mute_id: int | None = None


@dataclass(frozen=True, slots=True)
class AccountWrite:
    """What one `write_account` changed, for the scan's log line."""

    findings: int
    opened: int
    resolved: int
    reopened: int
    gone: int
    events: int
    # Reported findings a mute rule matched.
    muted: int = 0
    # Findings this write did not report, outside complete scopes (left as they were).
    missing: int = 0
    # Keys of the reported findings a mute rule matched.
    muted_keys: frozenset[str] = frozenset()


class DeliveryState(enum.StrEnum):
    """Where one scan's summary stands on one notification channel."""

    SENDING = "sending"  # claimed by a process; taken over when its lease runs out
    SENT = "sent"
    EMPTY = "empty"  # nothing new for this channel: counts as delivered
    FAILED = "failed"  # its findings go into the channel's next delivery
