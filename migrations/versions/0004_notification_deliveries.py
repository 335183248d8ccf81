"""The notification delivery ledger.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

`notification_deliveries`: one row per (scan, channel) whose summary was claimed, sent, found
empty or failed (`agent.store.deliveries`). It replaces the ledger the daemon kept in memory,
so a summary is sent once per channel whichever process sends it, a process that died while
sending is taken over once its lease runs out, and a channel's "new findings" are computed
against the last scan delivered on it: a failed summary's findings go into the next one.
Nothing existing is changed; a store migrated from 0003 starts with an empty ledger (each
channel's first summary is then measured against the previous finished scan, as before).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (the template's import)
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DELIVERY_STATES = "state IN ('sending', 'sent', 'empty', 'failed')"


def upgrade() -> None:
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(DELIVERY_STATES, name=op.f("ck_notification_deliveries_state")),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["scans.id"], name=op.f("fk_notification_deliveries_scan_id_scans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
        sa.UniqueConstraint(
            "scan_id", "channel", name=op.f("uq_notification_deliveries_scan_id_channel")
        ),
    )
    op.create_index(
        "ix_notification_deliveries_channel_state", "notification_deliveries",
        ["channel", "state"], unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_notification_deliveries_channel_state",
                  table_name="notification_deliveries")
    op.drop_table("notification_deliveries")
