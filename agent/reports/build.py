"""Assemble a `Report`: right after a scan from its results, or later from the store.

Both paths read coverage, gaps and the scan history from the store, so `mllens scan -o X` and
`mllens report --format X --scan ID` show the same scan the same way; they differ only in the
findings: a scan reports what it observed, the store what it knows as of that scan (findings
resolved as GONE included, and the last known status of findings that scan could not verify).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from agent.domain import Result, utcnow
from agent.reports.model import GONE, Finding, Report, ScanInfo
from agent.store import FindingFilter, Store, tool_version
from agent.store.rows import FindingRow, ScanRow, ScanStatus
from checks.base import Check

HISTORY = 30
_FINISHED = (ScanStatus.COMPLETE, ScanStatus.PARTIAL)


def in_scope(f: Finding | FindingRow, scope: Mapping[str, Any]) -> bool:
    """Whether a finding belongs to what a scan was asked to cover (absent keys: anything)."""
    for key, value in (("accounts", f.account_id), ("regions", f.region),
                       ("checks", f.check_id)):
        wanted = scope.get(key)
        if wanted and value not in wanted:
            return False
    return True


def history(store: Store, scan: ScanRow, n: int = HISTORY) -> list[ScanRow]:
    """Finished scans up to `scan` over any of its accounts, oldest first."""
    if n <= 0:
        return []
    accounts = set(scan.scope.get("accounts") or ())
    # Read a little more than n: unfinished scans and other estates are dropped below.
    rows = [s for s in store.latest_scans(max(n * 3, n + 10)) if s.id <= scan.id]
    keep = [
        s for s in rows
        if s.status in _FINISHED
        and (not accounts or not s.scope.get("accounts")
             or accounts & set(s.scope.get("accounts") or ()))
    ]
    return sorted(keep[:n], key=lambda s: s.id)


def from_store(
    store: Store, scan: ScanRow, catalog: Mapping[str, Check], n_history: int = HISTORY
) -> Report:
    rows = store.findings(scan.id)
    findings = [Finding.from_row(r) for r in rows if in_scope(r, scan.scope)]
    return _report(store, scan, findings, catalog, n_history)


def from_results(
    results: Iterable[Result],
    catalog: Mapping[str, Check],
    store: Store | None = None,
    scan_id: int | None = None,
    n_history: int = HISTORY,
) -> Report:
    """A just-finished scan: its results, with lifecycle (first seen, resolved) from the store,
    plus the findings this scan resolved as GONE (so exports can retire them)."""
    results = list(results)
    scan = store.scan(scan_id) if store is not None and scan_id is not None else None
    if store is None or scan is None:
        return Report(
            findings=[Finding.from_result(r) for r in results],
            catalog=catalog,
            generated_at=utcnow(),
            tool_version=tool_version(),
        )
    current = {r.key: r for r in store.findings()}
    findings = [Finding.from_result(r, current.get(r.key)) for r in results]
    reported = {r.key for r in results}
    findings.extend(
        Finding.from_row(row)
        for row in current.values()
        if row.key not in reported and _gone_in(row, scan) and in_scope(row, scan.scope)
    )
    return _report(store, scan, findings, catalog, n_history)


def _gone_in(row: FindingRow, scan: ScanRow) -> bool:
    """GONE observations carry the time the scan wrote them, which is after it started."""
    return row.status.value == GONE and row.observed_at >= scan.started_at


def _report(
    store: Store,
    scan: ScanRow,
    findings: Sequence[Finding],
    catalog: Mapping[str, Check],
    n_history: int,
) -> Report:
    scans = history(store, scan, n_history)
    return Report(
        findings=findings,
        catalog=catalog,
        generated_at=utcnow(),
        tool_version=tool_version(),
        scan=ScanInfo.from_row(scan),
        coverage=store.coverage(scan.id),
        gaps=store.gaps(scan.id),
        history=scans,
        failing=failing(store, scan, scans),
    )


def failing(
    store: Store, scan: ScanRow, scans: Sequence[ScanRow]
) -> dict[int, dict[str, tuple[int, int]]]:
    """(open, muted) per pillar after each of `scans`, over `scan`'s accounts: the store's
    trend per scan, so the report's trend counts what `mllens trends` and `scans` count."""
    if not scans:
        return {}
    accounts = scan.scope.get("accounts") or None
    where = FindingFilter.of(account_id=accounts) if accounts else None
    points = store.trends(by="pillar", per="scan", since=scans[0].started_at,
                          until=scans[-1].started_at, where=where)
    wanted = {s.id for s in scans}
    out: dict[int, dict[str, tuple[int, int]]] = {sid: {} for sid in wanted}
    for p in points:
        if p.scan_id in wanted:
            out[p.scan_id][p.group] = (p.open, p.muted)
    return out
