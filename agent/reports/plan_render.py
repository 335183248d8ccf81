"""The plan for people (a rich table, Markdown) and for machines (JSON)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from rich.markup import escape
from rich.table import Table

from agent.reports.model import short_arn
from agent.reports.plan import Plan

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def md(text: str) -> str:
    """Plain text made safe inside Markdown: resource names and reasons are untrusted."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _where(arn: str) -> str:
    """`region kind/name`: the short ARN alone repeats itself across regions."""
    parts = arn.split(":")
    return f"{parts[3]} {short_arn(arn)}" if arn.startswith("arn:") and len(parts) > 5 else arn


def to_json(plan: Plan) -> str:
    return json.dumps(plan.as_dict(), indent=2) + "\n"


def table(plan: Plan, resources_shown: int = 3) -> Table:
    t = Table(title=f"Remediation plan: {len(plan.actions)} actions",
              caption=plan.left_out() or None)
    for col, kw in (("#", {"justify": "right"}), ("Score", {"justify": "right"}),
                    ("Severity", {}), ("Effort", {}), ("Resources", {"justify": "right"}),
                    ("Prod", {"justify": "right"}), ("Action", {"overflow": "fold"}),
                    ("Lens", {}), ("Affected", {"overflow": "fold"})):
        t.add_column(col, **kw)  # type: ignore[arg-type]
    for a in plan.actions:
        shown = [_where(r) for r in a.resources[:resources_shown]]
        more = len(a.resources) - len(shown)
        t.add_row(
            str(a.rank),
            f"{a.score:.2f}",
            a.severity.value,
            a.effort.label,
            str(len(a.resources)),
            str(len(a.production)),
            escape(f"{a.title} ({a.check_id})"),
            " ".join(p.id for p in a.lens),
            escape(", ".join(shown) + (f" +{more} more" if more > 0 else "")),
        )
    return t


def to_markdown(plan: Plan) -> str:
    lines = ["# mllens remediation plan", ""]
    if not plan.actions:
        lines.append("No open findings: nothing to do.")
    for a in plan.actions:
        lens = ", ".join(f"[{p.id}]({p.url}) ({p.legacy_id}) {md(p.title)}" for p in a.lens)
        lines += [
            f"## {a.rank}. {md(a.title)}",
            "",
            f"- Check: `{a.check_id}`; pillar: {a.pillar.label}; severity: **{a.severity.value}**;"
            f" effort: {a.effort.label}; score: {a.score:.2f}",
            f"- Affects {len(a.resources)} resource(s), {len(a.production)} tagged as"
            f" production ({a.tags_known} with known tags), in {', '.join(a.regions)}",
            f"- Lens: {lens or '-'}",
            "",
            f"**Fix:** {md(a.remediation) or '-'}",
            "",
        ]
        for f in a.findings:
            sub = f" \\[{md(f.sub_resource)}\\]" if f.sub_resource else ""
            lines.append(f"- {md(f.account_id)} {md(f.region)} {md(f.resource_arn)}{sub}:"
                         f" {md(f.reason)}")
        lines.append("")
    lines += _counted("Muted", "Failing findings a mute rule accepts are left out of the plan"
                      " (list them: `mllens findings --muted`):", plan.muted)
    lines += _counted("Not verified", "These checks could not reach a verdict (inputs not"
                      " collected), so the plan cannot rank what they might find:",
                      plan.unknown)
    return "\n".join(lines)


def _counted(title: str, intro: str, counts: Mapping[str, int]) -> list[str]:
    """A section of findings the plan leaves out, counted per check (nothing when none)."""
    if not counts:
        return []
    return [f"## {title}", "", intro, "",
            *(f"- `{c}`: {n} finding(s)" for c, n in counts.items()), ""]
