"""Output formats, registered explicitly: each is a small module with `render(Report) -> str`.

`FORMATS` is the whole list; the CLI offers exactly these names (plus `table`, the terminal
view, which is not a file format). Build the `Report` with `agent.reports.build`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent.reports import asff, csvfmt, html_report, jsonfmt, ocsf, sarif
from agent.reports.model import Finding, Report, ScanInfo


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    description: str
    suffix: str
    render: Callable[[Report], str]


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("json", "findings as a JSON array (mllens' own fields)", ".json", jsonfmt.render),
        Format("csv", "findings as CSV, one row per finding", ".csv", csvfmt.render),
        Format("ocsf", "OCSF 1.7.0 Detection Finding events (JSON array)", ".ocsf.json",
               ocsf.render),
        Format("asff", "AWS Security Finding Format for Security Hub (JSON array)",
               ".asff.json", asff.render),
        Format("sarif", "SARIF 2.1.0 log", ".sarif", sarif.render),
        Format("html", "self-contained HTML report with charts", ".html", html_report.render),
    )
}


def names() -> tuple[str, ...]:
    return tuple(FORMATS)


def render(name: str, report: Report) -> str:
    """The report in format `name` (a key of FORMATS), ending with a newline."""
    text = FORMATS[name].render(report)
    return text if text.endswith("\n") else text + "\n"


__all__ = ["FORMATS", "Finding", "Format", "Report", "ScanInfo", "names", "render"]
