"""Which findings are new in a scan: open after it, and not open before it.

Open is failing and not muted (`agent.domain.standing`), judged at each scan's start as
`mllens scans` counts it: a new failure a mute accepts is not news, and a failing finding
whose mute expired or was removed is ("no longer muted")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from agent.domain import Severity
from agent.store.rows import FindingRow, FindingStatus, ScanRow

Change = Literal["new", "reopened", "now failing", "no longer muted"]
CHANGE_ORDER = {"new": 0, "reopened": 1, "now failing": 2, "no longer muted": 3}



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
    failing = store.findings(prior, status=FindingStatus.FAIL) if prior is not None else []
    before = {f.key for f in failing if f.is_open}
    muted_before = {f.key for f in failing if not f.is_open}
    out = []
    for f in store.findings(scan.id, status=FindingStatus.FAIL):
        if f.is_open and f.account_id in accounts and f.key not in before \
                and f.severity.rank >= min_severity.rank:
            out.append(NewFinding(f, _change(f, scan, muted_before)))
    return out


def _change(f: FindingRow, scan: ScanRow, muted_before: set[str]) -> Change:
    if f.key in muted_before:
        return "no longer muted"
    if f.first_seen_scan_id == scan.id:
        return "new"
    # Only a finding that failed before and was resolved carries `reopened_at`; one that is
    # new in this scan and carries it was therefore reopened by this scan.
    if f.reopened_at is not None:
        return "reopened"
    return "now failing"


