"""Rich tables for a terminal: findings, posture by pillar, failures by severity, gaps.

They take scan results (`agent.domain.Result`) and report findings alike: both carry the
fields read here, and a status compares equal to its string.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

from rich.console import Console
from rich.table import Table
from rich.text import Text

from agent.domain import Pillar, Severity, Status
from agent.reports.model import short_arn

_STATUS_STYLE: dict[str, str] = {
    Status.PASS: "green",
    Status.FAIL: "red",
    Status.UNKNOWN: "yellow",
    Status.NOT_APPLICABLE: "dim",
    "GONE": "dim",
}
_COLUMNS = (Status.FAIL, Status.PASS, Status.UNKNOWN, Status.NOT_APPLICABLE)


class Row(Protocol):
    @property
    def check_id(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    @property
    def status(self) -> Any: ...
    @property
    def severity(self) -> Severity: ...
    @property
    def pillar(self) -> Pillar: ...
    @property
    def region(self) -> str: ...
    @property
    def resource_arn(self) -> str: ...
    @property
    def sub_resource(self) -> str: ...
    @property
    def reason(self) -> str: ...


class GapLike(Protocol):
    @property
    def region(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def operation(self) -> str: ...
    @property
    def kind(self) -> Any: ...
    @property
    def kinds(self) -> Sequence[Any]: ...
    @property
    def resource_arn(self) -> str | None: ...
    @property
    def message(self) -> str: ...


def _value(v: Any) -> str:
    return str(getattr(v, "value", v))


def plain(value: Any, style: str = "") -> Text:
    """A table cell that shows its text as is. Resource names, reasons and AWS messages are
    untrusted: rich would read `[bold]` or `[/x]` in them as markup, hide it, or crash."""
    return Text(str(value), style=style)


def findings_table(results: Sequence[Row]) -> Table:
    """One row per finding, open failures first and muted ones last (as `mllens findings`
    orders them), a muted one saying so with the mute's reason. The account column appears
    when the findings span several accounts: without it, one resource name in two accounts
    reads as a duplicate. Findings read back from the store (`agent.reports.Finding`) carry
    their mute; a scan's bare results are never muted."""
    accounts = len({r.account_id for r in results}) > 1
    muted = sum(_muted(r) for r in results)
    t = Table(title="Findings" + (f" ({muted} muted)" if muted else ""), show_lines=False,
              expand=False)
    columns = ("Status", "Severity", "Check", *(("Account",) if accounts else ()), "Region",
               "Resource", "Reason")
    for col in columns:
        t.add_column(col, overflow="fold")
    order = sorted(
        results,
        key=lambda r: (_muted(r), r.status != Status.FAIL, -r.severity.rank, r.check_id,
                       r.account_id, r.region, r.resource_arn),
    )
    for r in order:
        res = short_arn(r.resource_arn) + (f" [{r.sub_resource}]" if r.sub_resource else "")
        status = _value(r.status)
        mute = getattr(r, "mute", None) if _muted(r) else None
        t.add_row(
            plain(status + (" (muted)" if _muted(r) else ""), _STATUS_STYLE.get(status, "")),
            r.severity.value,
            r.check_id,
            *((plain(r.account_id),) if accounts else ()),
            plain(r.region),
            plain(res),
            plain(r.reason + (f" — muted: {mute.reason}" if mute is not None else "")),
        )
    return t


def _muted(r: Row) -> bool:
    return bool(getattr(r, "muted", False))


def summary_table(results: Sequence[Row]) -> Table:
    t = Table(title="Posture by pillar")
    t.add_column("Pillar")
    for s in _COLUMNS:
        t.add_column(s.value, justify="right", style=_STATUS_STYLE[s])
    counts: dict[Pillar, Counter[str]] = {p: Counter() for p in Pillar}
    for r in results:
        counts[r.pillar][_value(r.status)] += 1
    for p, c in counts.items():
        t.add_row(p.label, *(str(c[s.value]) for s in _COLUMNS))
    total: Counter[str] = Counter(_value(r.status) for r in results)
    t.add_section()
    t.add_row("Total", *(str(total[s.value]) for s in _COLUMNS))
    return t


def severity_table(results: Sequence[Row]) -> Table:
    t = Table(title="Failed findings by severity")
    t.add_column("Severity")
    t.add_column("FAIL", justify="right", style="red")
    c = Counter(r.severity for r in results if r.status == Status.FAIL)
    for s in Severity:
        t.add_row(s.value, str(c[s]))
    return t


def gaps_table(gaps: Sequence[GapLike]) -> Table:
    t = Table(title="Collection gaps (what the scan could not see)")
    for col in ("Account", "Region", "API", "Kind", "Affects", "Message"):
        t.add_column(col, overflow="fold")
    for g in gaps:
        affects = ", ".join(_value(k) for k in g.kinds) or short_arn(g.resource_arn or "")
        t.add_row(plain(getattr(g, "account_id", "")), plain(g.region),
                  plain(f"{g.service}:{g.operation}"), _value(g.kind), plain(affects),
                  plain(g.message[:200]))
    return t


def print_summary(console: Console, results: Sequence[Row], gaps: Sequence[GapLike]) -> None:
    console.print(summary_table(results))
    console.print(severity_table(results))
    if gaps:
        console.print(gaps_table(gaps))
