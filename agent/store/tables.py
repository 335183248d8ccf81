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

from agent.store.rows import CoverageState, FindingStatus, ScanStatus
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
    __table_args__ = (_one_of("status", ScanStatus, "status"),)

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


class CoverageRecord(_Table, table=True):
    """How completely one collector (or inventory kind) was read in one account and region."""

    __tablename__ = "coverage"
    __table_args__ = (
        UniqueConstraint("scan_id", "account_id", "region", "kind"),
        _one_of("state", CoverageState, "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    scan_id: int = Field(foreign_key="scans.id", ondelete="CASCADE")
    account_id: str
    region: str
    kind: str
    state: str
    reason: str | None = Field(default=None, sa_type=Text)


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


class FindingRecord(_Table, table=True):
    """The current state of one finding identity (`agent.domain.finding_key`)."""

    __tablename__ = "findings"
    __table_args__ = (
        Index("ix_findings_account_id_region_check_id", "account_id", "region", "check_id"),
        Index("ix_findings_status", "status"),
        _one_of("status", FindingStatus, "status"),
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


class FindingEventRecord(_Table, table=True):
    """A change in (status, severity, reason) of a finding, or its first observation."""

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
    evidence: dict[str, Any] = Field(default_factory=dict, sa_type=JSONDoc)


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
