"""Initial schema: scans, coverage, resources, findings, finding_events, gaps.

Revision ID: 0001
Revises:
Create Date: 2026-12-03

Written from an autogenerate draft and reviewed. Column types are spelled as plain SQLAlchemy
types (the app's UTCDateTime and JSONDoc decorate exactly these), so this file never breaks
when application code moves.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (the template's import; later revisions may use AutoString)
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FINDING_STATUSES = "status IN ('PASS', 'FAIL', 'NOT_APPLICABLE', 'UNKNOWN', 'GONE')"


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _scan_ref(table: str, column: str, nullable: bool = False) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column(column, sa.Integer(), nullable=nullable),
        sa.ForeignKeyConstraint([column], ["scans.id"], name=op.f(f"fk_{table}_{column}_scans")),
    ]


def upgrade() -> None:
    op.create_table(
        "scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        _when("started_at"),
        _when("finished_at", nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("scope", _json(), nullable=False),
        sa.Column("api_calls", sa.Integer(), nullable=False),
        sa.Column("summary", _json(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("tool_version", sa.String(), nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'complete', 'partial', 'failed', 'interrupted')",
            name=op.f("ck_scans_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scans")),
        sa.UniqueConstraint("uid", name=op.f("uq_scans_uid")),
    )
    op.create_table(
        "coverage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "state IN ('complete', 'partial', 'failed', 'skipped')",
            name=op.f("ck_coverage_state"),
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["scans.id"], name=op.f("fk_coverage_scan_id_scans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage")),
        sa.UniqueConstraint(
            "scan_id",
            "account_id",
            "region",
            "kind",
            name=op.f("uq_coverage_scan_id_account_id_region_kind"),
        ),
    )
    op.create_table(
        "resources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("arn", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        _when("first_seen_at"),
        *_scan_ref("resources", "first_seen_scan_id"),
        _when("last_seen_at"),
        *_scan_ref("resources", "last_seen_scan_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resources")),
        sa.UniqueConstraint(
            "account_id",
            "region",
            "kind",
            "arn",
            name=op.f("uq_resources_account_id_region_kind_arn"),
        ),
    )
    op.create_index("ix_resources_last_seen_scan_id", "resources", ["last_seen_scan_id"])
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("check_id", sa.String(), nullable=False),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("resource_arn", sa.String(), nullable=False),
        sa.Column("sub_resource", sa.String(), nullable=False),
        sa.Column("resource_kind", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("pillar", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", _json(), nullable=False),
        _when("observed_at"),
        _when("first_seen_at"),
        *_scan_ref("findings", "first_seen_scan_id"),
        _when("last_seen_at"),
        *_scan_ref("findings", "last_seen_scan_id"),
        _when("resolved_at", nullable=True),
        *_scan_ref("findings", "resolved_scan_id", nullable=True),
        _when("reopened_at", nullable=True),
        _when("unknown_since_at", nullable=True),
        *_scan_ref("findings", "unknown_since_scan_id", nullable=True),
        sa.Column("unknown_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(FINDING_STATUSES, name=op.f("ck_findings_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
        sa.UniqueConstraint("key", name=op.f("uq_findings_key")),
    )
    op.create_index(
        "ix_findings_account_id_region_check_id", "findings", ["account_id", "region", "check_id"]
    )
    op.create_index("ix_findings_status", "findings", ["status"])
    op.create_table(
        "finding_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        _when("at"),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", _json(), nullable=False),
        sa.CheckConstraint(FINDING_STATUSES, name=op.f("ck_finding_events_status")),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["findings.id"],
            name=op.f("fk_finding_events_finding_id_findings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["scans.id"],
            name=op.f("fk_finding_events_scan_id_scans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding_events")),
    )
    op.create_index(
        "ix_finding_events_finding_id_scan_id", "finding_events", ["finding_id", "scan_id"]
    )
    op.create_index("ix_finding_events_scan_id", "finding_events", ["scan_id"])
    op.create_table(
        "gaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("service", sa.String(), nullable=False),
        sa.Column("operation", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("resource_arn", sa.String(), nullable=True),
        sa.Column("kinds", _json(), nullable=False),
        _when("observed_at"),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["scans.id"], name=op.f("fk_gaps_scan_id_scans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gaps")),
    )
    op.create_index("ix_gaps_scan_id", "gaps", ["scan_id"])


def downgrade() -> None:
    # Indexes go with their tables.
    for table in ("gaps", "finding_events", "findings", "resources", "coverage", "scans"):
        op.drop_table(table)
