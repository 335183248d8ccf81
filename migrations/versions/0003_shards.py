"""Sharded scans and target keys.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04

- `scans.target_key`: a digest of the targets a scan was asked to cover, so a scheduled agent
  can see that another agent already scanned the same targets, and stale scans are closed only
  by a scan of the same targets. Existing scans keep NULL (their targets are unknown as keys).
- `scans.run_key` and `scans.shard_count`: N processes (`mllens scan --shard K/N`) join one
  scan row named by their common run; `scan_shards` holds each shard's own status and counts
  until the last one finishes and the scan takes their merged outcome.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (the template's import)
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCAN_STATUSES = "status IN ('running', 'complete', 'partial', 'failed', 'interrupted')"


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    # Plain ADD COLUMN and indexes: no batch rebuild of `scans`, the table every other one
    # references, however long its history.
    op.add_column("scans", sa.Column("target_key", sa.String(length=40), nullable=True))
    op.add_column("scans", sa.Column("run_key", sa.String(length=200), nullable=True))
    op.add_column("scans", sa.Column("shard_count", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_scans_target_key"), "scans", ["target_key"], unique=False)
    op.create_index(op.f("ix_scans_run_key"), "scans", ["run_key"], unique=True)
    op.create_table(
        "scan_shards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("api_calls", sa.Integer(), nullable=False),
        sa.Column("summary", _json(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(SCAN_STATUSES, name=op.f("ck_scan_shards_status")),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["scans.id"], name=op.f("fk_scan_shards_scan_id_scans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_shards")),
        sa.UniqueConstraint("scan_id", "shard", name=op.f("uq_scan_shards_scan_id_shard")),
    )


def downgrade() -> None:
    op.drop_table("scan_shards")
    op.drop_index(op.f("ix_scans_run_key"), table_name="scans")
    op.drop_index(op.f("ix_scans_target_key"), table_name="scans")
    # SQLite >= 3.35 drops a column in place.
    for column in ("shard_count", "run_key", "target_key"):
        op.drop_column("scans", column)
