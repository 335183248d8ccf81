"""The findings store: SQLite by default, PostgreSQL (psycopg 3) alike; Alembic owns the schema.

store = Store.open("sqlite:///mllens.db")
scan_id = store.start_scan({"accounts": [...], "regions": [...]})
store.write_account(scan_id, account_id, results, gaps, resources, coverage, complete_scopes)
store.finish_scan(scan_id, ScanStatus.COMPLETE, api_calls, summary)
open_findings = store.findings(status="FAIL")
store.trends(by="pillar", per="day"); store.diff(a, b); store.scan_summaries()
"""

from agent.store.engine import make_engine, parse_url
from agent.store.errors import StoreError, UnknownScan
from agent.store.history import Diff, DiffEntry, ScanSummary, Snapshot, TrendPoint
from agent.store.lifecycle import GONE_REASON
from agent.store.migrate import current_revision, head_revision, needs_upgrade, upgrade
from agent.store.reads import FindingFilter
from agent.store.rows import (
    AccountWrite,
    CoverageRow,
    CoverageState,
    FindingEventRow,
    FindingRow,
    FindingStatus,
    GapRow,
    MuteRow,
    ResourceRow,
    ScanRow,
    ScanStatus,
)
from agent.store.store import Store, parse_time, tool_version

__all__ = [
    "GONE_REASON",
    "AccountWrite",
    "CoverageRow",
    "CoverageState",
    "Diff",
    "DiffEntry",
    "FindingEventRow",
    "FindingFilter",
    "FindingRow",
    "FindingStatus",
    "GapRow",
    "MuteRow",
    "ResourceRow",
    "ScanRow",
    "ScanStatus",
    "ScanSummary",
    "Snapshot",
    "Store",
    "StoreError",
    "TrendPoint",
    "UnknownScan",
    "current_revision",
    "head_revision",
    "make_engine",
    "needs_upgrade",
    "parse_time",
    "parse_url",
    "tool_version",
    "upgrade",
]
