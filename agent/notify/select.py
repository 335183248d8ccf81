"""Which findings are new in a scan: open after it, and not open before it.

Open is failing and not muted (`agent.domain.standing`), judged at each scan's start as
`mllens scans` counts it: a new failure a mute accepts is not news, and a failing finding
whose mute expired or was removed is ("no longer muted")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from agent.domain import Severity
from agent.store.deliveries import Baseline
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
    def latest_finished(self, n: int = 2) -> list[ScanRow]: ...
    def coverage(self, scan_id: int) -> Sequence[Any]: ...
    def findings(self, scan_id: int | None = None, *, status: Any = None) -> list[FindingRow]: ...


def previous_scan_id(store: FindingSource, scan_id: int) -> int | None:
    """The latest complete or partial scan before `scan_id`: a running, failed or interrupted
    scan never serves as "before"."""
    n = 16
    while True:
        scans = store.latest_finished(n)
        earlier = [s.id for s in scans if s.id < scan_id]
        if earlier or len(scans) < n:
            return max(earlier, default=None)
        n *= 4


def select_new(
    store: FindingSource,
    scan: ScanRow,
    min_severity: Severity,
    baseline: Baseline | None = None,
) -> list[NewFinding]:
    """The findings open (failing, not muted) after `scan` that were not open after the
    baseline scan (by default the previous finished one), at or above a severity, in the
    accounts `scan` wrote and those the baseline's undelivered scans wrote."""
    if baseline is None:
        baseline = Baseline(previous_scan_id(store, scan.id))
    accounts = _accounts(store, scan)
    for sid in baseline.undelivered:
        earlier = store.scan(sid)
        if earlier is not None:
            accounts |= _accounts(store, earlier)
    failing = (store.findings(baseline.scan_id, status=FindingStatus.FAIL)
               if baseline.scan_id is not None else [])
    before = {f.key for f in failing if f.is_open}
    muted_before = {f.key for f in failing if not f.is_open}
    out = []
    for f in store.findings(scan.id, status=FindingStatus.FAIL):
        if f.is_open and f.account_id in accounts and f.key not in before \
                and f.severity.rank >= min_severity.rank:
            out.append(NewFinding(f, _change(f, baseline.scan_id, muted_before)))
    return out


def _accounts(store: FindingSource, scan: ScanRow) -> set[str]:
    """The accounts a scan wrote: its coverage rows, and the scope it started with."""
    accounts = {c.account_id for c in store.coverage(scan.id)}
    accounts.update(str(a) for a in scan.scope.get("accounts") or ())
    return accounts


def _change(f: FindingRow, since: int | None, muted_before: set[str]) -> Change:
    if f.key in muted_before:
        return "no longer muted"
    if since is None or f.first_seen_scan_id > since:
        return "new"
    # Only a finding that failed before and was resolved carries `reopened_at`.
    if f.reopened_at is not None:
        return "reopened"
    return "now failing"
