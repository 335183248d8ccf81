"""Moved to `agent.reports`: kept as a thin alias so code written against the old module (and
branches still in flight) keeps working. New code imports `agent.reports` directly."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from agent.domain import Result, utcnow
from agent.reports import csvfmt, jsonfmt
from agent.reports.jsonfmt import FINDING_FIELDS
from agent.reports.model import Finding, Report
from agent.reports.tables import (
    findings_table,
    gaps_table,
    print_summary,
    severity_table,
    summary_table,
)
from checks.base import Check


def _report(results: Iterable[Result], checks: Mapping[str, Check]) -> Report:
    return Report([Finding.from_result(r) for r in results], checks, utcnow(), "")


def to_json(results: Iterable[Result], checks: Mapping[str, Check]) -> str:
    return jsonfmt.render(_report(results, checks))


def to_csv(results: Iterable[Result], checks: Mapping[str, Check]) -> str:
    return csvfmt.render(_report(results, checks))


__all__ = [
    "FINDING_FIELDS",
    "findings_table",
    "gaps_table",
    "print_summary",
    "severity_table",
    "summary_table",
    "to_csv",
    "to_json",
]
