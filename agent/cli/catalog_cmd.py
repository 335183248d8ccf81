"""`mllens checks docs` and `mllens checks coverage`: the catalog's generated documentation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from agent.cli.common import EXIT_ERROR, EXIT_USAGE, err_console, fail, make_console
from checks import all_checks
from checks.docs import AUTOMATED, HUMAN, PARTIAL, coverage, coverage_summary, render_checks
from checks.docs import render_coverage as render_coverage_md

DOC_FILES = {"checks.md": render_checks, "coverage.md": render_coverage_md}


def docs(
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory to write into.",
                                         file_okay=False)] = Path("docs"),
    check: Annotated[bool, typer.Option("--check",
                                        help="Write nothing; exit 1 if a file is stale.")] = False,
) -> None:
    """Generate docs/checks.md and docs/coverage.md from the checks' own metadata."""
    catalog = all_checks()
    stale = []
    for name, render in DOC_FILES.items():
        path = output / name
        text = render(catalog)
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            continue
        if check:
            stale.append(str(path))
            continue
        try:
            output.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {path}: {exc.strerror or exc}")
        err_console.print(f"wrote {path}", highlight=False)
    if stale:
        fail(f"stale: {', '.join(stale)}; run 'mllens checks docs' to regenerate", EXIT_ERROR)


def coverage_cmd(
    fmt: Annotated[str, typer.Option("--format", "--output-format", "-f",
                                     help="table, json or markdown.")] = "table",
) -> None:
    """Show, per pillar, which lens practices the checks automate, partly or not at all."""
    catalog = all_checks()
    rows = coverage(catalog)
    if fmt == "markdown":
        print(render_coverage_md(catalog), end="")
    elif fmt == "json":
        print(json.dumps([
            {"practice": r.practice.id, "legacy": r.practice.legacy_id,
             "pillar": r.practice.pillar.value, "title": r.practice.title,
             "status": r.status, "primary": list(r.primary), "secondary": list(r.secondary)}
            for r in rows
        ], indent=2))
    elif fmt == "table":
        summary = coverage_summary(rows)
        t = Table(title=f"ML Lens coverage: {len(rows)} practices")
        for col in ("Pillar", "Automated", "Partly automated", "Needs a human"):
            t.add_column(col)
        for pillar, counts in summary.items():
            t.add_row(pillar.label, *(str(counts[s]) for s in (AUTOMATED, PARTIAL, HUMAN)))
        make_console().print(t)
        detail = Table(show_lines=False)
        for col in ("Practice", "Legacy", "Status", "Checks"):
            detail.add_column(col, overflow="fold")
        for r in rows:
            detail.add_row(r.practice.id, r.practice.legacy_id, r.status,
                           " ".join((*r.primary, *(f"({c})" for c in r.secondary))) or "-")
        make_console().print(detail)
    else:
        fail(f"unknown format {fmt!r}; use table, json or markdown", EXIT_USAGE)
