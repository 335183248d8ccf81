"""Described records kept for incremental scans.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

`inventory_records`: one row per cacheable resource (a finished training job, a model, an
endpoint config, an endpoint or notebook in a stable state, a run history) holding its last
described record and the version the listing showed for it, so a re-scan describes only what
is new or changed (`agent.collectors.cache`). Nothing existing changes; a store migrated from
0004 starts empty, and its next scan describes everything once, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (the template's import)
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inventory_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("arn", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_records")),
        sa.UniqueConstraint(
            "account_id", "region", "kind", "arn",
            name=op.f("uq_inventory_records_account_id_region_kind_arn"),
        ),
    )


def downgrade() -> None:
    op.drop_table("inventory_records")
