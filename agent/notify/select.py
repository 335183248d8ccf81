"""Which findings are new in a scan: open after it, and not open before it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from agent.domain import Severity
from agent.store.rows import FindingRow, FindingStatus, ScanRow

Change = Literal["new", "reopened", "now failing"]
CHANGE_ORDER = {"new": 0, "reopened": 1, "now failing": 2}



@dataclass(frozen=True, slots=True)
class NewFinding:
    row: FindingRow
    change: Change


class FindingSource(Protocol):
    """The part of `agent.store.Store` the selection reads."""

    def scan(self, uid_or_id: int | str) -> ScanRow | None: ...
    def latest_scans(self, n: int = 10) -> list[ScanRow]: ...
    def coverage(self, scan_id: int) -> Sequence[Any]: ...
    def findings(self, scan_id: int | None = None, *, status: Any = None) -> list[FindingRow]: ...


def previous_scan_id(store: FindingSource, scan_id: int) -> int | None:
    n = 16
    while True:
        scans = store.latest_scans(n)
        earlier = [s.id for s in scans if s.id < scan_id]
        if earlier or len(scans) < n:
            return max(earlier, default=None)
        n *= 4


def select_new(store: FindingSource, scan: ScanRow, min_severity: Severity) -> list[NewFinding]:
    """The findings open after `scan` that were not open before it, at or above a severity."""
    # The accounts the scan wrote: their coverage rows, and the scope it started with.
    accounts = {c.account_id for c in store.coverage(scan.id)}
    accounts.update(str(a) for a in scan.scope.get("accounts") or ())
    prior = previous_scan_id(store, scan.id)
    before = (
        {f.key for f in store.findings(prior, status=FindingStatus.FAIL)}
        if prior is not None else set()
    )
    out = []
    for f in store.findings(scan.id, status=FindingStatus.FAIL):
        if f.account_id in accounts and f.key not in before \
                and f.severity.rank >= min_severity.rank:
            out.append(NewFinding(f, _change(f, scan)))
    return out


def _change(f: FindingRow, scan: ScanRow) -> Change:
    if f.first_seen_scan_id == scan.id:
        return "new"
    # Only a finding that failed before and was resolved carries `reopened_at`; one that is
    # new in this scan and carries it was therefore reopened by this scan.
    if f.reopened_at is not None:
        return "reopened"
    return "now failing"


