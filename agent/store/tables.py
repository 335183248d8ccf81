"""The SQLModel tables. Alembic owns the schema: change these, then add a migration.

Kept apart from `agent.domain` so the stored shape can evolve without touching checks, and
with their own metadata (not SQLModel's global one) carrying a naming convention, so every
constraint has a predictable name that batch migrations on SQLite can address.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, MetaData, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from agent.store.rows import DeliveryState, FindingStatus, ScanStatus
from agent.store.types import JSONDoc, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _one_of(column: str, values: type[Any], name: str) -> CheckConstraint:
    allowed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name)


class _Table(SQLModel, registry=registry(metadata=metadata)):
    pass


class ScanRecord(_Table, table=True):
    __tablename__ = "scans"
    __table_args__ = (
        _one_of("status", ScanStatus, "status"),
        # An index, not a constraint: SQLite adds it without rebuilding the table.
        Index("ix_scans_run_key", "run_key", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(unique=True, max_length=36)
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str
    # accounts, regions, checks and flags the scan was asked to cover.
    scope: dict[str, Any] = Field(default_factory=dict, sa_type=JSONDoc)
    api_calls: int = 0
    # counts per status, pillar and severity, written when the scan finishes.
    summary: dict[str, Any] = Field(default_factory=dict, sa_type=JSONDoc)
    error: str | None = Field(default=None, sa_type=Text)
    tool_version: str
    # A digest of the targets asked for (accounts, OUs, filters, role, regions; shards left
    # out): scans of the same targets share it, so an agent can tell whether another one has
    # already scanned them, and stale scans are closed only by a scan of the same targets.
    target_key: str | None = Field(default=None, max_length=40, index=True)
    # A scan run as N shards (`mllens scan --shard K/N --run-id ID`): every shard names the
    # same run, joins this one row, and the row stays running until all N have finished.
    run_key: str | None = Field(default=None, max_length=200)
    shard_count: int | None = None


class ScanShardRecord(_Table, table=True):
    """One shard of a sharded scan: its own status and counts until the last one finishes,
    when the scan's row takes the merged status, calls and summary."""

    __tablename__ = "scan_shards"
    __table_args__ = (
        UniqueConstraint("scan_id", "shard"),
        _one_of("status", ScanStatus, "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    scan_id: int = Field(foreign_key="scans.id", ondelete="CASCADE")
    shard: int  # K of K/N, from 1
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str
    api_calls: int = 0
    summary: dict[str, Any] = Field(default_factory=dict, sa_type=JSONDoc)
    error: str | None = Field(default=None, sa_type=Text)


class CoverageSetRecord(_Table, table=True):
    """One account's coverage in one scan, stored once per distinct content.

    An unchanged estate is covered the same way every day, so scans share these rows instead
    of copying (account x region x kind) rows per scan; the counts serve scan summaries.
    """

    __tablename__ = "coverage_sets"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=40)
    # [[region, kind, state, reason], ...] sorted by region and kind.
    entries: list[Any] = Field(default_factory=list, sa_type=JSONDoc)
    complete: int = 0
    partial: int = 0
    failed: int = 0
    skipped: int = 0


class ScanAccountRecord(_Table, table=True):
    """One account written by one scan: the compact per-scan record of what was looked at.

    Findings and resources seen again unchanged are not rewritten: they count as seen by every
    write of their account until one marks them missing (see `agent.store.writes`).
    """

    __tablename__ = "scan_accounts"
    __table_args__ = (
        UniqueConstraint("scan_id", "account_id"),
        Index("ix_scan_accounts_account_id", "account_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    scan_id: int = Field(foreign_key="scans.id", ondelete="CASCADE")
    account_id: str
    # When the account's results were observed (the latest result time), i.e. "last seen".
    observed_at: datetime = Field(sa_type=UTCDateTime)
    coverage_set_id: int = Field(foreign_key="coverage_sets.id")


class MuteRuleRecord(_Table, table=True):
    """A mute rule as some scan applied it; identical rules in later files reuse the row."""

    __tablename__ = "mute_rules"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=40)
    # check/account/region/resource/tags the rule matches on.
    criteria: dict[str, Any] = Field(default_factory=dict, sa_type=JSONDoc)
    reason: str = Field(sa_type=Text)
    owner: str | None = None
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    source: str = ""
    created_at: datetime = Field(sa_type=UTCDateTime)


class ResourceRecord(_Table, table=True):
    """One resource ever inventoried; which scans saw it follows from first/last seen."""

    __tablename__ = "resources"
    __table_args__ = (
        UniqueConstraint("account_id", "region", "kind", "arn"),
        Index("ix_resources_last_seen_scan_id", "last_seen_scan_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: str
    region: str
    kind: str
    arn: str
    name: str
    first_seen_at: datetime = Field(sa_type=UTCDateTime)
    first_seen_scan_id: int = Field(foreign_key="scans.id")
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_scan_id: int = Field(foreign_key="scans.id")
    # Set by the first write of the account that did not list the resource; while it is
    # unset, last_seen is that of the account's latest write (nothing is rewritten per scan).
    missing_since_scan_id: int | None = Field(default=None, foreign_key="scans.id")


class FindingRecord(_Table, table=True):
    """The current state of one finding identity (`agent.domain.finding_key`).

    A row is written only when the finding changes. `last_seen_*` and `observed_at` are as of
    that write; while `missing_since_scan_id` is unset and the status is not GONE, the finding
    was reported by every later write of its account, so readers take those from the
    account's latest `scan_accounts` row instead.
    """

    __tablename__ = "findings"
    __table_args__ = (
        Index("ix_findings_account_id_region_check_id", "account_id", "region", "check_id"),
        _one_of("status", FindingStatus, "status"),
        # Rows are updated in place when findings change; on PostgreSQL every update leaves a
        # dead row version. Vacuum after 5% of the rows changed (default 20%), so the table
        # stays near its live size instead of carrying a fifth of it as dead versions.
        {"postgresql_with": {"autovacuum_vacuum_scale_factor": 0.05}},
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=40)
    check_id: str
    account_id: str
    region: str
    resource_arn: str
    sub_resource: str = ""
    resource_kind: str = ""
    status: str
    severity: str
    pillar: str
    reason: str = Field(sa_type=Text)
    evidence: dict[str, Any] = Field(default_factory=dict, sa_type=JSONDoc)
    observed_at: datetime = Field(sa_type=UTCDateTime)
    first_seen_at: datetime = Field(sa_type=UTCDateTime)
    first_seen_scan_id: int = Field(foreign_key="scans.id")
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_scan_id: int = Field(foreign_key="scans.id")
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_scan_id: int | None = Field(default=None, foreign_key="scans.id")
    reopened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set while the latest observations are UNKNOWN after a known status.
    unknown_since_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    unknown_since_scan_id: int | None = Field(default=None, foreign_key="scans.id")
    unknown_reason: str | None = Field(default=None, sa_type=Text)
    # The rule that muted the finding when it was last written; whether it still applies
    # depends on the rule's expiry and the time asked about (`agent.mutes`).
    mute_id: int | None = Field(default=None, foreign_key="mute_rules.id")
    # Set by the first write of its account, in a scope that was not evaluated completely,
    # that did not report the finding.
    missing_since_scan_id: int | None = Field(default=None, foreign_key="scans.id")


class FindingEventRecord(_Table, table=True):
    """A change in (status, severity, reason, mute) of a finding, or its first observation.

    `evidence` is NULL when it equals the evidence of the finding's previous event that has
    one: a status flip on an unchanged resource does not store the same document again.
    """

    __tablename__ = "finding_events"
    __table_args__ = (
        Index("ix_finding_events_finding_id_scan_id", "finding_id", "scan_id"),
        Index("ix_finding_events_scan_id", "scan_id"),
        _one_of("status", FindingStatus, "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    finding_id: int = Field(foreign_key="findings.id", ondelete="CASCADE")
    scan_id: int = Field(foreign_key="scans.id", ondelete="CASCADE")
    at: datetime = Field(sa_type=UTCDateTime)
    status: str
    severity: str
    reason: str = Field(sa_type=Text)
    evidence: dict[str, Any] | None = Field(default=None, sa_type=JSONDoc)
    mute_id: int | None = Field(default=None, foreign_key="mute_rules.id")


class GapRecord(_Table, table=True):
    """Something a scan could not read (`agent.domain.Gap`)."""

    __tablename__ = "gaps"
    __table_args__ = (Index("ix_gaps_scan_id", "scan_id"),)

    id: int | None = Field(default=None, primary_key=True)
    scan_id: int = Field(foreign_key="scans.id", ondelete="CASCADE")
    account_id: str
    region: str
    service: str
    operation: str
    kind: str
    message: str = Field(sa_type=Text)
    resource_arn: str | None = None
    kinds: list[str] = Field(default_factory=list, sa_type=JSONDoc)
    observed_at: datetime = Field(sa_type=UTCDateTime)


class DeliveryRecord(_Table, table=True):
    """One scan's summary on one notification channel (`agent.store.deliveries`): the durable
    ledger that makes delivery at-least-once, one message per (scan, channel), and lets a
    channel's next summary carry the findings of a summary that failed."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("scan_id", "channel"),
        Index("ix_notification_deliveries_channel_state", "channel", "state"),
        _one_of("state", DeliveryState, "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    scan_id: int = Field(foreign_key="scans.id", ondelete="CASCADE")
    # The sender's kind and a digest of its destination (`agent.notify.channel_id`).
    channel: str = Field(max_length=100)
    state: str
    # The Idempotency-Key the message carries: one per scan, the same on every attempt.
    key: str = Field(max_length=100)
    findings: int = 0
    attempts: int = 0
    error: str | None = Field(default=None, sa_type=Text)
    claimed_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class InventoryRecord(_Table, table=True):
    """A described record a later scan may reuse instead of describing it again
    (`agent.collectors.cache`): the newest version of each cacheable resource.

    `version` is what the listing says about the record (its status and last-modified time,
    or the creation time of an immutable one); a later listing that says the same proves the
    record unchanged. `doc` is the record as JSON text with tagged datetimes
    (`agent.store.inventory`), decoded only when reused.
    """

    __tablename__ = "inventory_records"
    __table_args__ = (UniqueConstraint("account_id", "region", "kind", "arn"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: str
    region: str
    kind: str
    arn: str
    name: str
    version: str
    doc: str = Field(sa_type=Text)
    collected_at: datetime = Field(sa_type=UTCDateTime)
