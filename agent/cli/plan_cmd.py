"""`mllens plan`: the open findings of a stored scan as ranked actions a team can take."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agent.cli.common import EXIT_USAGE, FORMAT_FLAGS, fail, make_console
from agent.cli.report_cmd import pick_scan, write
from agent.cli.stores import ConfigOption, DbOption, open_reader
from checks import by_id

FORMATS = ("table", "json", "markdown")


def plan(
    fmt: Annotated[
        str, typer.Option(*FORMAT_FLAGS, help="table, json or markdown.")
    ] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", help="Write here instead of stdout.")
    ] = None,
    scan: Annotated[
        str | None,
        typer.Option("--scan", help="Scan id, uid or uid prefix. Default: the latest finished "
                     "scan."),
    ] = None,
    db: DbOption = None,
    config: ConfigOption = None,
    prod_tag: Annotated[
        list[str] | None,
        typer.Option("--prod-tag",
                     help="Tags marking production resources, KEY=VALUE[,VALUE] (keys may be "
                     "joined with |). Default: environment|env|stage=prod,production."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Show only the first N actions.")
    ] = None,
) -> None:
    """Rank open findings by severity, blast radius and effort into actions, one per check.

    Open is failing and not muted: muted findings (accepted risks) are left out and counted.

    score = severity weight (info 0.5 .. critical 8) x (1 + log2(resources + production
    resources)) / effort cost (config 1, redeploy 2, rearchitect 4). See docs/outputs.md.
    """
    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r}; use table, json or markdown", EXIT_USAGE)
    from agent.reports import plan as planning
    from agent.reports import plan_render
    from agent.reports.build import from_store
    from agent.store import StoreError

    selectors = []
    for spec in prod_tag or ():
        try:
            selectors.append(planning.ProdSelector.parse(spec))
        except ValueError as exc:
            fail(str(exc), EXIT_USAGE)

    store, url = open_reader(db, config)
    with store:
        row = pick_scan(store, scan, url)
        try:
            rep = from_store(store, row, by_id(), 0)
        except StoreError as exc:
            fail(str(exc))
    result = planning.build(rep.findings, rep.catalog, selectors or None)
    if limit is not None:
        result = replace(result, actions=result.actions[:limit])
    if fmt == "json":
        write(plan_render.to_json(result), output)
    elif fmt == "markdown":
        write(plan_render.to_markdown(result), output)
    elif output is None:
        make_console().print(plan_render.table(result))
    else:
        console = Console(file=io.StringIO(), record=True, width=160)
        console.print(plan_render.table(result))
        write(console.export_text(), output)
