"""History: per-scan account records, shared coverage sets, mute rules, change-only sightings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04

From an autogenerate draft, reviewed, plus the data steps autogenerate cannot write:

- `coverage` (one row per scan x account x region x kind) becomes `scan_accounts` (one row per
  scan x account) pointing at content-addressed `coverage_sets`, so unchanged coverage is not
  copied every scan. Every account write the old tables show a trace of (coverage, gaps,
  findings/resources last seen, events) gets its `scan_accounts` row.
- Findings and resources are no longer rewritten when seen again unchanged; those that the
  latest write of their account did not report get `missing_since_scan_id`, so the new
  readers do not take them as seen by it.
- `mute_rules`, and the rule on findings and events; events may omit unchanged evidence.
- `ix_findings_status` is dropped: a status has too few values to be worth an index, and an
  indexed status would stop PostgreSQL from updating a finding's row in place (HOT).
- On PostgreSQL, `findings` is vacuumed after 5% of its rows changed (default 20%): rows are
  updated in place when findings change, and each update leaves a dead row version.

The coverage-set key is computed exactly as `agent.store.writes.coverage_key` does, so
later scans share the sets made here; it is repeated (not imported) so this file never
depends on application code.
"""

import json
from collections import defaultdict
from collections.abc import Sequence
from hashlib import sha1
from typing import Any

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (the template's import)
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


# Lightweight table views for the data steps (only the columns they touch).
_meta = sa.MetaData()
_coverage = sa.Table(
    "coverage", _meta,
    sa.Column("scan_id", sa.Integer), sa.Column("account_id", sa.String),
    sa.Column("region", sa.String), sa.Column("kind", sa.String),
    sa.Column("state", sa.String), sa.Column("reason", sa.Text),
)
_gaps = sa.Table("gaps", _meta, sa.Column("scan_id", sa.Integer),
                 sa.Column("account_id", sa.String))
_scans = sa.Table("scans", _meta, sa.Column("id", sa.Integer),
                  sa.Column("started_at", sa.DateTime(timezone=True)))
_findings = sa.Table(
    "findings", _meta,
    sa.Column("id", sa.Integer), sa.Column("account_id", sa.String),
    sa.Column("status", sa.String),
    sa.Column("observed_at", sa.DateTime(timezone=True)),
    sa.Column("first_seen_scan_id", sa.Integer),
    sa.Column("last_seen_at", sa.DateTime(timezone=True)),
    sa.Column("last_seen_scan_id", sa.Integer),
    sa.Column("unknown_since_at", sa.DateTime(timezone=True)),
    sa.Column("missing_since_scan_id", sa.Integer),
)
_resources = sa.Table(
    "resources", _meta,
    sa.Column("id", sa.Integer), sa.Column("account_id", sa.String),
    sa.Column("last_seen_at", sa.DateTime(timezone=True)),
    sa.Column("last_seen_scan_id", sa.Integer),
    sa.Column("missing_since_scan_id", sa.Integer),
)
_events = sa.Table(
    "finding_events", _meta,
    sa.Column("id", sa.Integer), sa.Column("finding_id", sa.Integer),
    sa.Column("scan_id", sa.Integer), sa.Column("status", sa.String),
    sa.Column("evidence", _json()),
)
_sets = sa.Table(
    "coverage_sets", _meta,
    sa.Column("id", sa.Integer), sa.Column("key", sa.String(40)),
    sa.Column("entries", _json()),
    sa.Column("complete", sa.Integer), sa.Column("partial", sa.Integer),
    sa.Column("failed", sa.Integer), sa.Column("skipped", sa.Integer),
)
_scan_accounts = sa.Table(
    "scan_accounts", _meta,
    sa.Column("id", sa.Integer), sa.Column("scan_id", sa.Integer),
    sa.Column("account_id", sa.String),
    sa.Column("observed_at", sa.DateTime(timezone=True)),
    sa.Column("coverage_set_id", sa.Integer),
)
_STATES = ("complete", "partial", "failed", "skipped")


def _coverage_key(entries: list[list[Any]]) -> str:
    raw = json.dumps(entries, separators=(",", ":"))
    return sha1(raw.encode(), usedforsecurity=False).hexdigest()


def upgrade() -> None:
    op.create_table(
        "coverage_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("entries", _json(), nullable=False),
        *(sa.Column(state, sa.Integer(), nullable=False) for state in _STATES),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_sets")),
        sa.UniqueConstraint("key", name=op.f("uq_coverage_sets_key")),
    )
    op.create_table(
        "mute_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("criteria", _json(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(), nullable=True),
        _when("expires_at", nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mute_rules")),
        sa.UniqueConstraint("key", name=op.f("uq_mute_rules_key")),
    )
    op.create_table(
        "scan_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(), nullable=False),
        _when("observed_at"),
        sa.Column("coverage_set_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["coverage_set_id"], ["coverage_sets.id"],
            name=op.f("fk_scan_accounts_coverage_set_id_coverage_sets"),
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["scans.id"], name=op.f("fk_scan_accounts_scan_id_scans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_accounts")),
        sa.UniqueConstraint(
            "scan_id", "account_id", name=op.f("uq_scan_accounts_scan_id_account_id")
        ),
    )
    op.create_index("ix_scan_accounts_account_id", "scan_accounts", ["account_id"])

    with op.batch_alter_table("finding_events") as batch:
        batch.add_column(sa.Column("mute_id", sa.Integer(), nullable=True))
        batch.alter_column("evidence", existing_type=_json(), nullable=True)
        batch.create_foreign_key(
            batch.f("fk_finding_events_mute_id_mute_rules"), "mute_rules", ["mute_id"], ["id"]
        )
    with op.batch_alter_table("findings") as batch:
        batch.add_column(sa.Column("mute_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("missing_since_scan_id", sa.Integer(), nullable=True))
        batch.drop_index("ix_findings_status")
        batch.create_foreign_key(
            batch.f("fk_findings_missing_since_scan_id_scans"), "scans",
            ["missing_since_scan_id"], ["id"],
        )
        batch.create_foreign_key(
            batch.f("fk_findings_mute_id_mute_rules"), "mute_rules", ["mute_id"], ["id"]
        )
    with op.batch_alter_table("resources") as batch:
        batch.add_column(sa.Column("missing_since_scan_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_resources_missing_since_scan_id_scans"), "scans",
            ["missing_since_scan_id"], ["id"],
        )

    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute("ALTER TABLE findings SET (autovacuum_vacuum_scale_factor = 0.05)")
    _account_writes_from_coverage(conn)
    _mark_missing(conn, _findings, only_live=True)
    _mark_missing(conn, _resources, only_live=False)
    op.drop_table("coverage")


def _account_writes_from_coverage(conn: sa.Connection) -> None:
    entries: dict[tuple[int, str], list[list[Any]]] = defaultdict(list)
    for scan_id, account, region, kind, state, reason in conn.execute(
        sa.select(_coverage.c.scan_id, _coverage.c.account_id, _coverage.c.region,
                  _coverage.c.kind, _coverage.c.state, _coverage.c.reason)
    ):
        entries[(scan_id, account)].append([region, kind, state, reason or None])
    writes = set(entries)
    f, r, e = _findings, _resources, _events
    for q in (
        sa.select(_gaps.c.scan_id, _gaps.c.account_id),
        sa.select(f.c.last_seen_scan_id, f.c.account_id),
        sa.select(r.c.last_seen_scan_id, r.c.account_id),
        sa.select(e.c.scan_id, f.c.account_id).join(f, f.c.id == e.c.finding_id),
    ):
        writes.update((s, a) for s, a in conn.execute(q.distinct()))
    if not writes:
        return
    seen_at: dict[tuple[int, str], Any] = {}
    for table in (_resources, _findings):
        q = sa.select(table.c.last_seen_scan_id, table.c.account_id,
                      sa.func.max(table.c.last_seen_at)).group_by(
            table.c.last_seen_scan_id, table.c.account_id)
        seen_at.update({(s, a): at for s, a, at in conn.execute(q)})
    started = dict(conn.execute(sa.select(_scans.c.id, _scans.c.started_at)).all())
    set_ids: dict[str, int] = {}
    for scan_id, account in sorted(writes):
        found = sorted(entries.get((scan_id, account), []), key=lambda x: (x[0], x[1]))
        key = _coverage_key(found)
        if key not in set_ids:
            counts = {s: sum(1 for x in found if x[2] == s) for s in _STATES}
            conn.execute(sa.insert(_sets).values(key=key, entries=found, **counts))
            set_ids[key] = conn.execute(
                sa.select(_sets.c.id).where(_sets.c.key == key)
            ).scalar_one()
        # Inserted in scan order: the highest id per account is its latest write.
        conn.execute(sa.insert(_scan_accounts).values(
            scan_id=scan_id, account_id=account, coverage_set_id=set_ids[key],
            observed_at=seen_at.get((scan_id, account)) or started[scan_id],
        ))


def _mark_missing(conn: sa.Connection, table: sa.Table, *, only_live: bool) -> None:
    """Rows their account's latest write did not report: missing since the next write."""
    by_account: dict[str, list[int]] = defaultdict(list)
    for scan_id, account in conn.execute(
        sa.select(_scan_accounts.c.scan_id, _scan_accounts.c.account_id)
        .order_by(_scan_accounts.c.id)
    ):
        by_account[account].append(scan_id)
    cols = [table.c.id, table.c.account_id, table.c.last_seen_scan_id]
    q = sa.select(*cols)
    if only_live:
        q = q.where(table.c.status != "GONE")
    for rid, account, last_seen in conn.execute(q).all():
        later = [s for s in by_account.get(account, []) if s > last_seen]
        if later:
            conn.execute(sa.update(table).where(table.c.id == rid)
                         .values(missing_since_scan_id=later[0]))


def downgrade() -> None:
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
            "scan_id", "account_id", "region", "kind",
            name=op.f("uq_coverage_scan_id_account_id_region_kind"),
        ),
    )
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute("ALTER TABLE findings RESET (autovacuum_vacuum_scale_factor)")
    _coverage_from_sets(conn)
    _materialise_sightings(conn)
    _fill_event_evidence(conn)

    with op.batch_alter_table("resources") as batch:
        batch.drop_constraint("fk_resources_missing_since_scan_id_scans", type_="foreignkey")
        batch.drop_column("missing_since_scan_id")
    with op.batch_alter_table("findings") as batch:
        batch.drop_constraint("fk_findings_mute_id_mute_rules", type_="foreignkey")
        batch.drop_constraint("fk_findings_missing_since_scan_id_scans", type_="foreignkey")
        batch.create_index("ix_findings_status", ["status"])
        batch.drop_column("missing_since_scan_id")
        batch.drop_column("mute_id")
    with op.batch_alter_table("finding_events") as batch:
        batch.drop_constraint("fk_finding_events_mute_id_mute_rules", type_="foreignkey")
        batch.alter_column("evidence", existing_type=_json(), nullable=False)
        batch.drop_column("mute_id")
    op.drop_table("scan_accounts")
    op.drop_table("mute_rules")
    op.drop_table("coverage_sets")


def _coverage_from_sets(conn: sa.Connection) -> None:
    q = sa.select(_scan_accounts.c.scan_id, _scan_accounts.c.account_id, _sets.c.entries).join(
        _sets, _sets.c.id == _scan_accounts.c.coverage_set_id
    )
    rows = [
        {"scan_id": s, "account_id": a, "region": region, "kind": kind, "state": state,
         "reason": reason}
        for s, a, entries in conn.execute(q)
        for region, kind, state, reason in entries
    ]
    if rows:
        conn.execute(sa.insert(_coverage), rows)


def _materialise_sightings(conn: sa.Connection) -> None:
    """Write last seen explicitly again, as revision 0001 kept it on every row."""
    latest: dict[str, tuple[int, Any]] = {}
    for _id, scan_id, account, at in conn.execute(
        sa.select(_scan_accounts.c.id, _scan_accounts.c.scan_id, _scan_accounts.c.account_id,
                  _scan_accounts.c.observed_at).order_by(_scan_accounts.c.id)
    ):
        latest[account] = (scan_id, at)
    for table, live in ((_findings, True), (_resources, False)):
        q = sa.select(table.c.id, table.c.account_id).where(
            table.c.missing_since_scan_id.is_(None)
        )
        if live:
            q = q.add_columns(table.c.unknown_since_at).where(table.c.status != "GONE")
        for row in conn.execute(q).all():
            if row[1] not in latest:
                continue
            scan_id, at = latest[row[1]]
            values: dict[str, Any] = {"last_seen_scan_id": scan_id, "last_seen_at": at}
            if live and row[2] is None:
                values["observed_at"] = at
            conn.execute(sa.update(table).where(table.c.id == row[0]).values(**values))


def _fill_event_evidence(conn: sa.Connection) -> None:
    """Events stored without evidence get the evidence they carried forward ({} for GONE)."""
    carried: dict[int, Any] = {}
    q = sa.select(_events.c.id, _events.c.finding_id, _events.c.status,
                  _events.c.evidence).order_by(_events.c.finding_id, _events.c.scan_id,
                                               _events.c.id)
    for eid, fid, status, evidence in conn.execute(q).all():
        if evidence is not None:
            carried[fid] = evidence
            continue
        fill = {} if status == "GONE" else carried.get(fid, {})
        conn.execute(sa.update(_events).where(_events.c.id == eid).values(evidence=fill))
