"""Render results for people (rich tables and summaries) and for machines (JSON, CSV)."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from agent.domain import Gap, Pillar, Result, Severity, Status
from checks.base import Check

FINDING_FIELDS = (
    "check_id",
    "status",
    "severity",
    "pillar",
    "lens_ids",
    "legacy_lens_ids",
    "account_id",
    "region",
    "resource_arn",
    "sub_resource",
    "resource_kind",
    "reason",
    "observed_at",
    "finding_id",
    "evidence",
)

_STATUS_STYLE = {
    Status.PASS: "green",
    Status.FAIL: "red",
    Status.UNKNOWN: "yellow",
    Status.NOT_APPLICABLE: "dim",
}


def _default(o: Any) -> Any:
    if isinstance(o, datetime):
        return o.isoformat()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    return str(o)


def finding_dict(r: Result, checks: dict[str, Check]) -> dict[str, Any]:
    chk = checks.get(r.check_id)
    return {
        "check_id": r.check_id,
        "status": r.status.value,
        "severity": r.severity.value,
        "pillar": r.pillar.value,
        "lens_ids": list(chk.lens_ids) if chk else [],
        "legacy_lens_ids": list(chk.legacy_lens_ids) if chk else [],
        "account_id": r.account_id,
        "region": r.region,
        "resource_arn": r.resource_arn,
        "sub_resource": r.sub_resource,
        "resource_kind": r.resource_kind,
        "reason": r.reason,
        "observed_at": r.observed_at.isoformat(),
        "finding_id": r.key,
        "evidence": dict(r.evidence),
    }


def to_json(results: Iterable[Result], checks: dict[str, Check]) -> str:
    return json.dumps([finding_dict(r, checks) for r in results], indent=2, default=_default)


def to_csv(results: Iterable[Result], checks: dict[str, Check]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=FINDING_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in results:
        row = finding_dict(r, checks)
        row["lens_ids"] = " ".join(row["lens_ids"])
        row["legacy_lens_ids"] = " ".join(row["legacy_lens_ids"])
        row["evidence"] = json.dumps(row["evidence"], default=_default, sort_keys=True)
        w.writerow(row)
    return buf.getvalue()


def _short_arn(arn: str) -> str:
    return arn.split(":", 5)[-1] if arn.startswith("arn:") else arn


def findings_table(results: Sequence[Result]) -> Table:
    t = Table(title="Findings", show_lines=False, expand=False)
    for col in ("Status", "Severity", "Check", "Region", "Resource", "Reason"):
        t.add_column(col, overflow="fold")
    order = sorted(
        results,
        key=lambda r: (r.status is not Status.FAIL, -r.severity.rank, r.check_id, r.resource_arn),
    )
    for r in order:
        res = _short_arn(r.resource_arn) + (f" [{r.sub_resource}]" if r.sub_resource else "")
        t.add_row(
            f"[{_STATUS_STYLE[r.status]}]{r.status.value}[/]",
            r.severity.value,
            r.check_id,
            r.region,
            res,
            r.reason,
        )
    return t


def summary_table(results: Sequence[Result]) -> Table:
    t = Table(title="Posture by pillar")
    t.add_column("Pillar")
    for s in (Status.FAIL, Status.PASS, Status.UNKNOWN, Status.NOT_APPLICABLE):
        t.add_column(s.value, justify="right", style=_STATUS_STYLE[s])
    counts: dict[Pillar, Counter[Status]] = {p: Counter() for p in Pillar}
    for r in results:
        counts[r.pillar][r.status] += 1
    for p, c in counts.items():
        t.add_row(p.label, *(str(c[s]) for s in (Status.FAIL, Status.PASS, Status.UNKNOWN,
                                                   Status.NOT_APPLICABLE)))
    total: Counter[Status] = Counter(r.status for r in results)
    t.add_section()
    t.add_row("Total", *(str(total[s]) for s in (Status.FAIL, Status.PASS, Status.UNKNOWN,
                                                  Status.NOT_APPLICABLE)))
    return t


def severity_table(results: Sequence[Result]) -> Table:
    t = Table(title="Failed findings by severity")
    t.add_column("Severity")
    t.add_column("FAIL", justify="right", style="red")
    c = Counter(r.severity for r in results if r.status is Status.FAIL)
    for s in Severity:
        t.add_row(s.value, str(c[s]))
    return t


def gaps_table(gaps: Sequence[Gap]) -> Table:
    t = Table(title="Collection gaps (what the scan could not see)")
    for col in ("Region", "API", "Kind", "Affects", "Message"):
        t.add_column(col, overflow="fold")
    for g in gaps:
        affects = ", ".join(k.value for k in g.kinds) or _short_arn(g.resource_arn or "")
        t.add_row(g.region, f"{g.service}:{g.operation}", g.kind.value, affects, g.message[:200])
    return t


def print_summary(console: Console, results: Sequence[Result], gaps: Sequence[Gap]) -> None:
    console.print(summary_table(results))
    console.print(severity_table(results))
    if gaps:
        console.print(gaps_table(gaps))
