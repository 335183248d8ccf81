"""A self-contained HTML report: inline CSS, inline JS drawing SVG charts, no network at all.

Everything from an account (resource names, reasons, evidence) is untrusted: the template
autoescapes every value, chart data travels as HTML-safe JSON (`tojson`), and the script only
ever sets `textContent` and attributes, never markup.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jinja2

from agent.domain import Pillar, Severity, Standing
from agent.reports.asff import iso
from agent.reports.model import (
    FAIL,
    GONE,
    NOT_APPLICABLE,
    PASS,
    UNKNOWN,
    Finding,
    Report,
    mute_note,
    short_arn,
)

# Failing findings split by standing: FAIL counts the open ones, MUTED the muted ones.
MUTED = "MUTED"
POSTURE_STATUSES = (FAIL, MUTED, UNKNOWN, PASS, NOT_APPLICABLE)
LABELS = {FAIL: "open", MUTED: "muted", UNKNOWN: "unknown", PASS: "pass",
          NOT_APPLICABLE: "not applicable"}
COVERAGE_STATES = ("complete", "partial", "failed", "skipped")
TOP_RISKS = 10
PILLAR_COLORS = ("#0969da", "#c62828", "#2e7d32", "#8250df", "#bf8700", "#1b7c83")


@dataclass(frozen=True)
class Risk:
    """The open findings of one check: what the report ranks and explains."""

    check_id: str
    title: str
    severity: Severity
    pillar: Pillar
    effort: str
    remediation: str
    lens: tuple[tuple[str, str, str, str], ...]  # (id, legacy id, title, url)
    findings: tuple[Finding, ...]

    @property
    def resources(self) -> int:
        return len({f.resource_arn for f in self.findings})

    @property
    def regions(self) -> list[str]:
        return sorted({f.region for f in self.findings})


def risks(report: Report) -> list[Risk]:
    """Open findings grouped by check, worst first: severity, then resources affected."""
    groups: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        if f.is_open:
            groups[f.check_id].append(f)
    out = []
    for check_id, items in groups.items():
        chk = report.catalog.get(check_id)
        out.append(Risk(
            check_id=check_id,
            title=chk.title if chk else check_id,
            severity=max((f.severity for f in items), key=lambda s: s.rank),
            pillar=items[0].pillar,
            effort=chk.effort.label if chk else "",
            remediation=chk.remediation if chk else "",
            lens=tuple((p.id, p.legacy_id, p.title, p.url) for p in chk.lens) if chk else (),
            findings=tuple(sorted(items, key=lambda f: (f.region, f.resource_arn,
                                                        f.sub_resource))),
        ))
    out.sort(key=lambda r: (-r.severity.rank, -r.resources, r.check_id))
    return out


def bucket(f: Finding) -> str:
    """The posture column of a finding: MUTED when it fails and a mute applies (FAIL then
    means open), else its status."""
    return MUTED if f.standing is Standing.MUTED else f.status


def posture(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    counts: dict[Pillar, Counter[str]] = {p: Counter() for p in Pillar}
    for f in findings:
        counts[f.pillar][bucket(f)] += 1
    rows = []
    for p, c in counts.items():
        # A muted finding still fails its check: accepting a risk is not passing.
        judged = c[PASS] + c[FAIL] + c[MUTED]
        rows.append({
            "pillar": p.value,
            "label": p.label,
            "counts": {s: c[s] for s in POSTURE_STATUSES},
            "gone": c[GONE],
            # Share of PASS among the findings with a verdict; None when nothing was judged.
            "pass_rate": round(100 * c[PASS] / judged) if judged else None,
        })
    return rows


def trend(report: Report) -> list[dict[str, Any]]:
    """Per finished scan: counts by status from the scan's summary, with its failures split
    into open and muted, and open findings by pillar, as the store counts them after that
    scan (`Report.failing`); without those, the summary's failures count as open."""
    points = []
    for s in report.history:
        summary = s.summary or {}
        status = summary.get("status")
        if not isinstance(status, dict):
            continue  # a failed or interrupted scan wrote no summary
        counts = {k: int(status.get(k, 0)) for k in POSTURE_STATUSES}
        failing = report.failing.get(s.id)
        if failing is not None:
            counts[FAIL] = sum(o for o, _ in failing.values())
            counts[MUTED] = sum(m for _, m in failing.values())
            by_pillar = {p.value: failing.get(p.value, (0, 0))[0] for p in Pillar}
        else:
            pillars = summary.get("by_pillar") or {}
            by_pillar = {p.value: int((pillars.get(p.value) or {}).get(FAIL, 0))
                         for p in Pillar}
        points.append({
            "scan": s.id,
            "uid": s.uid[:8],
            "at": iso(s.started_at),
            "status": counts,
            "fail_by_pillar": by_pillar,
        })
    return points


def coverage(report: Report) -> list[dict[str, Any]]:
    """One matrix per account: kinds down, regions across, each cell a state and its reason."""
    by_account: dict[str, dict[tuple[str, str], Any]] = defaultdict(dict)
    for c in report.coverage:
        by_account[c.account_id][(c.kind, c.region)] = c
    out = []
    for account, cells in sorted(by_account.items()):
        regions = sorted({r for _, r in cells})
        kinds = sorted({k for k, _ in cells})
        rows = []
        for k in kinds:
            row = []
            for r in regions:
                cell = cells.get((k, r))
                row.append({
                    "state": cell.state.value if cell else "",
                    "reason": (cell.reason or "") if cell else "not part of this scan",
                })
            rows.append({"kind": k, "cells": row})
        states = Counter(c.state.value for c in cells.values())
        out.append({"account": account, "regions": regions, "rows": rows,
                    "states": {s: states[s] for s in COVERAGE_STATES}})
    return out


def context(report: Report) -> dict[str, Any]:
    findings = report.findings
    ranked = risks(report)
    scan = report.scan
    scope = dict(scan.scope) if scan else {}
    unknown = Counter(f.check_id for f in findings if f.status == UNKNOWN)
    muted = sorted((f for f in findings if f.standing is Standing.MUTED),
                   key=lambda f: (-f.severity.rank, f.check_id, f.account_id, f.region,
                                  f.resource_arn, f.sub_resource))
    charts = {
        "posture": posture(findings),
        "trend": trend(report),
        "pillars": [
            {"key": p.value, "label": p.label, "color": c}
            for p, c in zip(Pillar, PILLAR_COLORS, strict=True)
        ],
    }
    return {
        "scan": scan,
        "started": iso(scan.started_at) if scan else "",
        "accounts": sorted({f.account_id for f in findings} | set(scope.get("accounts") or [])),
        "regions": sorted({f.region for f in findings} | set(scope.get("regions") or [])),
        "generated": iso(report.generated_at),
        "version": report.tool_version,
        "totals": Counter(bucket(f) for f in findings),
        "statuses": POSTURE_STATUSES,
        "labels": LABELS,
        "posture": charts["posture"],
        "trend": charts["trend"],
        "charts": charts,
        "risks": ranked,
        "top": ranked[:TOP_RISKS],
        "coverage": coverage(report),
        "coverage_states": COVERAGE_STATES,
        "gaps": report.gaps,
        "unknown": sorted(unknown.items(), key=lambda kv: (-kv[1], kv[0])),
        "unknown_findings": [f for f in findings if f.status == UNKNOWN],
        "muted_findings": muted,
        "titles": {c: chk.title for c, chk in report.catalog.items()},
        "mute_note": mute_note,
        "short_arn": short_arn,
    }


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("agent.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(report: Report) -> str:
    return environment().get_template("report.html.j2").render(**context(report))
