"""Rendering the history commands: rich tables for people, JSON and CSV for machines."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from agent.cli.common import make_console
from agent.domain import Standing
from agent.reports.model import mute_fields

if TYPE_CHECKING:
    from agent.store import Diff, DiffEntry, FindingRow, ScanRow, ScanSummary, TrendPoint

FINDING_FIELDS = (
    "check_id", "status", "muted", "severity", "pillar", "lens_ids", "account_id", "region",
    "resource_arn", "sub_resource", "resource_kind", "reason", "first_seen_at",
    "first_seen_scan_id", "last_seen_at", "last_seen_scan_id", "resolved_at",
    "resolved_scan_id", "reopened_at", "unknown_since_at", "unknown_reason",
    "missing_since_scan_id", "mute_reason", "mute_owner", "mute_expires_at", "finding_id",
    "evidence",
)
TREND_FIELDS = ("bucket", "at", "scan_id", "group", "open", "muted", "new", "resolved",
                "mean_time_to_resolve_s")
DIFF_FIELDS = ("change", "check_id", "account_id", "region", "resource_arn", "sub_resource",
               "pillar", "status_before", "status_after", "severity_before", "severity_after",
               "muted_before", "muted_after", "reason_before", "reason_after", "finding_id")
SCAN_FIELDS = ("id", "uid", "status", "started_at", "finished_at", "accounts",
               "coverage_complete", "coverage_partial", "coverage_failed", "coverage_skipped",
               "gaps", "new", "resolved", "open", "muted", "api_calls", "throttled",
               "rate_waited_s", "reused", "described", "error")
_STYLE = {"FAIL": "red", "PASS": "green", "UNKNOWN": "yellow", "NOT_APPLICABLE": "dim",
          "GONE": "dim"}


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%MZ") if at else ""


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _short(arn: str) -> str:
    return arn.split(":", 5)[-1] if arn.startswith("arn:") else arn


def _duration(d: timedelta | None) -> str:
    if d is None:
        return "-"
    seconds = d.total_seconds()
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    hours = seconds / 3600
    return f"{hours / 24:.1f}d" if hours >= 48 else f"{hours:.1f}h"


def _write(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _emit(rows: Iterable[Mapping[str, Any]], fields: Sequence[str], output_format: str) -> None:
    if output_format == "json":
        _write(json.dumps(list(rows), indent=2, default=str))
        return
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fields), lineterminator="\n",
                       extrasaction="ignore")
    w.writeheader()
    for row in rows:
        w.writerow({k: json.dumps(v, sort_keys=True, default=str)
                    if isinstance(v, dict | list) else v for k, v in row.items()})
    _write(buf.getvalue())


def empty(output_format: str, fields: Sequence[str]) -> None:
    if output_format in ("json", "csv"):
        _emit([], fields, output_format)


# -- findings ----------------------------------------------------------------------------------


def finding_dict(f: FindingRow, lens_ids: Mapping[str, list[str]]) -> dict[str, Any]:
    row = {
        "check_id": f.check_id,
        "status": f.status.value,
        "severity": f.severity.value,
        "pillar": f.pillar.value,
        "lens_ids": lens_ids.get(f.check_id, []),
        "account_id": f.account_id,
        "region": f.region,
        "resource_arn": f.resource_arn,
        "sub_resource": f.sub_resource,
        "resource_kind": f.resource_kind,
        "reason": f.reason,
        "first_seen_at": _iso(f.first_seen_at),
        "first_seen_scan_id": f.first_seen_scan_id,
        "last_seen_at": _iso(f.last_seen_at),
        "last_seen_scan_id": f.last_seen_scan_id,
        "resolved_at": _iso(f.resolved_at),
        "resolved_scan_id": f.resolved_scan_id,
        "reopened_at": _iso(f.reopened_at),
        "unknown_since_at": _iso(f.unknown_since_at),
        "unknown_reason": f.unknown_reason,
        "missing_since_scan_id": f.missing_since_scan_id,
        **mute_fields(f.mute, f.muted),
        "finding_id": f.key,
        "evidence": dict(f.evidence),
    }
    return {k: row[k] for k in FINDING_FIELDS}


def findings(
    rows: Sequence[FindingRow], output_format: str, scan: ScanRow | None, at: datetime | None
) -> None:
    if output_format != "table":
        from checks import by_id

        lens = {c.id: list(c.lens_ids) for c in by_id().values()}
        _emit([finding_dict(f, lens) for f in rows], FINDING_FIELDS, output_format)
        return
    view = f"as of scan {scan.id} ({_when(scan.started_at)})" if scan else (
        f"as of {_when(at)}" if at else "now")
    # Open and muted as every view counts them (`agent.domain.standing`).
    standing = Counter(f.standing for f in rows)
    counts = f": {standing[Standing.OPEN]} open, {standing[Standing.MUTED]} muted" \
        if standing[Standing.MUTED] else ""
    t = Table(title=f"{len(rows)} findings {view}{counts}")
    for name in ("Status", "Severity", "Check", "Account", "Region", "Resource", "Since",
                 "Reason"):
        t.add_column(name, overflow="fold")
    order = sorted(rows, key=lambda f: (f.muted, f.status.value != "FAIL", -f.severity.rank,
                                        f.check_id, f.account_id, f.resource_arn))
    for f in order:
        status = f"[{_STYLE.get(f.status.value, '')}]{f.status.value}[/]"
        if f.muted:
            status += " [dim](muted)[/]"
        elif f.mute is not None:
            status += " [dim](mute expired)[/]"
        if f.unknown_since_at is not None:
            status += " [yellow](unverified)[/]"
        since = f.reopened_at or f.first_seen_at
        res = _short(f.resource_arn) + (f" [{f.sub_resource}]" if f.sub_resource else "")
        reason = f.reason + (f" — muted: {f.mute.reason}" if f.muted and f.mute else "")
        t.add_row(status, f.severity.value, f.check_id, f.account_id, f.region, res,
                  _when(since), reason)
    make_console().print(t)


# -- trends ------------------------------------------------------------------------------------


def trend_dict(p: TrendPoint) -> dict[str, Any]:
    mttr = p.mean_time_to_resolve
    return {
        "bucket": p.bucket, "at": _iso(p.at), "scan_id": p.scan_id, "group": p.group,
        "open": p.open, "muted": p.muted, "new": p.new, "resolved": p.resolved,
        "mean_time_to_resolve_s": mttr.total_seconds() if mttr is not None else None,
    }


def trends(points: Sequence[TrendPoint], output_format: str, by: str, per: str,
           console: Console | None = None) -> None:
    if output_format != "table":
        _emit([trend_dict(p) for p in points], TREND_FIELDS, output_format)
        return
    console = console or make_console()
    if not points:
        console.print("no finished scans in that window", highlight=False)
        return
    console.print(trend_table(points, by, per))


def trend_table(points: Sequence[TrendPoint], by: str, per: str) -> Table:
    """Groups down, buckets across: open findings per bucket, then the window's totals."""
    buckets = list(dict.fromkeys(p.bucket for p in points))
    cells: dict[str, dict[str, TrendPoint]] = defaultdict(dict)
    for p in points:
        cells[p.group][p.bucket] = p
    label = "day" if per == "day" else "scan"
    t = Table(title=f"Open findings by {by}, per {label} (+new / -resolved in the window)")
    t.add_column(by.title())
    for b in buckets:
        t.add_column(b[5:] if per == "day" else f"#{b}", justify="right")
    for name in ("Muted", "New", "Resolved", "Mean time to resolve"):
        t.add_column(name, justify="right")
    last = buckets[-1]
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
    for group in sorted(cells):
        row = cells[group]
        new = sum(p.new for p in row.values())
        resolved = sum(p.resolved for p in row.values())
        seconds = sum(p.resolved_seconds for p in row.values())
        muted = row[last].muted if last in row else 0
        t.add_row(group, *(str(row[b].open) if b in row else "0" for b in buckets),
                  str(muted), f"+{new}", f"-{resolved}",
                  _duration(timedelta(seconds=seconds / resolved) if resolved else None))
        for b in buckets:
            totals[b][0] += row[b].open if b in row else 0
        totals["_"][1] += new
        totals["_"][2] += resolved
        totals["_"][3] += seconds
        totals["_"][0] += muted
    n = totals["_"]
    t.add_section()
    t.add_row("Total", *(str(int(totals[b][0])) for b in buckets), str(int(n[0])),
              f"+{int(n[1])}", f"-{int(n[2])}",
              _duration(timedelta(seconds=n[3] / n[2]) if n[2] else None))
    return t


# -- diff --------------------------------------------------------------------------------------


def diff_dict(e: DiffEntry) -> dict[str, Any]:
    b, a = e.before, e.after
    return {
        "change": e.change, "check_id": e.check_id, "account_id": e.account_id,
        "region": e.region, "resource_arn": e.resource_arn, "sub_resource": e.sub_resource,
        "pillar": e.pillar,
        "status_before": b.status.value if b else None,
        "status_after": a.status.value if a else None,
        "severity_before": b.severity if b else None, "severity_after": a.severity if a else None,
        "muted_before": b.muted if b else None, "muted_after": a.muted if a else None,
        "reason_before": b.reason if b else None, "reason_after": a.reason if a else None,
        "finding_id": e.key,
    }


def diff(result: Diff, output_format: str, console: Console | None = None) -> None:
    if output_format == "json":
        _write(json.dumps({
            "before": scan_ref(result.before), "after": scan_ref(result.after),
            "counts": {c: len(result.of(c)) for c in ("new", "resolved", "changed")},
            "entries": [diff_dict(e) for e in result.entries],
        }, indent=2))
        return
    if output_format == "csv":
        _emit([diff_dict(e) for e in result.entries], DIFF_FIELDS, output_format)
        return
    console = console or make_console()
    a, b = result.before, result.after
    counts = ", ".join(f"{len(result.of(c))} {c}" for c in ("new", "resolved", "changed"))
    t = Table(title=f"Scan {a.id} ({_when(a.started_at)}) -> scan {b.id} "
                    f"({_when(b.started_at)}): {counts}")
    for name in ("Change", "Check", "Account", "Region", "Resource", "Before", "After",
                 "Reason"):
        t.add_column(name, overflow="fold")
    for e in result.entries:
        res = _short(e.resource_arn) + (f" [{e.sub_resource}]" if e.sub_resource else "")
        after = e.after or e.before
        reason = after.reason if after else ""
        t.add_row(e.change, e.check_id, e.account_id, e.region, res, _snap(e.before),
                  _snap(e.after), reason)
    console.print(t)


def _snap(s: Any) -> str:
    if s is None:
        return "-"
    text = f"{s.status.value} {s.severity}"
    if s.muted:
        text += " muted"
    if s.unverified:
        text += " unverified"
    return text


def scan_ref(s: ScanRow) -> dict[str, Any]:
    return {"id": s.id, "uid": s.uid, "status": s.status.value,
            "started_at": _iso(s.started_at)}


# -- scans -------------------------------------------------------------------------------------


def scan_dict(r: ScanSummary) -> dict[str, Any]:
    s = r.scan
    return {
        "id": s.id, "uid": s.uid, "status": s.status.value, "started_at": _iso(s.started_at),
        "finished_at": _iso(s.finished_at), "accounts": r.accounts,
        **{f"coverage_{k}": v for k, v in r.coverage.items()},
        "gaps": r.gaps, "new": r.new, "resolved": r.resolved, "open": r.open,
        "muted": r.muted, **_cost(s.api_calls, s.summary), "error": s.error,
    }


def _cost(api_calls: int, summary: Mapping[str, Any]) -> dict[str, Any]:
    """What the scan cost in AWS calls: calls made, throttling answers, seconds queued for
    rate-limit tokens, and records reused from the inventory cache versus described (None
    for scans from before these were recorded)."""
    inventory = summary.get("inventory") or {}
    throttled = summary.get("throttled")
    return {
        "api_calls": api_calls,
        "throttled": sum(throttled.values()) if isinstance(throttled, Mapping) else None,
        "rate_waited_s": summary.get("rate_waited_s"),
        "reused": sum((inventory.get("reused") or {}).values()) if inventory else None,
        "described": sum((inventory.get("described") or {}).values()) if inventory else None,
    }


def scans(rows: Sequence[ScanSummary], output_format: str) -> None:
    if output_format != "table":
        _emit([scan_dict(r) for r in rows], SCAN_FIELDS, output_format)
        return
    t = Table(title=f"The latest {len(rows)} scans")
    for name in ("ID", "UID", "Started", "Took", "Status", "Accounts", "Coverage", "Gaps",
                 "Calls", "New", "Resolved", "Open", "Muted"):
        t.add_column(name, justify="right" if name not in ("UID", "Status") else "left")
    for r in rows:
        s = r.scan
        took = f"{(s.finished_at - s.started_at).total_seconds():.0f}s" if s.finished_at else ""
        cells = sum(r.coverage.values())
        cover = f"{r.coverage['complete']}/{cells} complete" if cells else "-"
        if r.coverage["failed"] or r.coverage["partial"]:
            cover += f", {r.coverage['failed']} failed, {r.coverage['partial']} partial"
        if r.coverage["skipped"]:
            cover += f", {r.coverage['skipped']} skipped"
        cost = _cost(s.api_calls, s.summary)
        calls = str(s.api_calls) + (f" ({cost['throttled']} throttled)" if cost["throttled"]
                                    else "")
        t.add_row(str(s.id), s.uid[:8], _when(s.started_at), took, s.status.value,
                  str(r.accounts), cover, str(r.gaps), calls, f"+{r.new}", f"-{r.resolved}",
                  str(r.open), str(r.muted))
    make_console().print(t)
