"""The `mllens` command line. Commands are wired here explicitly; each lives in its own module."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer
from botocore import exceptions as bx
from botocore.exceptions import BotoCoreError
from rich.markup import escape
from rich.table import Table

from agent import __version__
from agent.cli import history_cmd
from agent.cli.agent_cmd import agent, health
from agent.cli.catalog_cmd import coverage_cmd, docs
from agent.cli.common import (
    EXIT_ERROR,
    EXIT_USAGE,
    FORMAT_FLAGS,
    err_console,
    fail,
    make_console,
)
from agent.cli.config_cmd import config_app
from agent.cli.coverage_cmd import coverage
from agent.cli.demo_cmd import demo
from agent.cli.iam_cmd import iam_policy
from agent.cli.plan_cmd import plan
from agent.cli.report_cmd import report
from agent.cli.scan_cmd import scan
from agent.cli.stores import ConfigOption, DbOption, resolve_store
from agent.cli.wa_cmd import wa_sync
from agent.logs import configure
from agent.redact import safe_url
from checks import all_checks

app = typer.Typer(
    # Plain help: the rich panels show a type after every flag and cut names at 80 columns.
    rich_markup_mode=None,
    name="mllens",
    help="Audit live AWS machine learning workloads against the Well-Architected ML Lens.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
checks_app = typer.Typer(help="The check catalog.", no_args_is_help=True, rich_markup_mode=None)
db_app = typer.Typer(help="The findings store.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(checks_app, name="checks")
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.command()(scan)
app.command()(agent)
app.command()(health)
app.command()(demo)
app.command("wa-sync")(wa_sync)
app.command("iam-policy")(iam_policy)
app.command()(report)
app.command()(plan)
app.command()(coverage)
checks_app.command("docs")(docs)
checks_app.command("coverage")(coverage_cmd)
app.command()(history_cmd.findings)
app.command()(history_cmd.trends)
app.command()(history_cmd.diff)
app.command()(history_cmd.scans)


@app.callback()
def _root(
    log_level: Annotated[
        str,
        typer.Option(envvar="MLLENS_LOG_LEVEL",
                     help="debug, info, warning or error (logs go to stderr)."),
    ] = "warning",
    log_json: Annotated[
        bool | None,
        typer.Option("--log-json/--log-console",
                     help="JSON lines or readable lines. Default: JSON unless stderr is a "
                     "terminal."),
    ] = None,
) -> None:
    if log_level.lower() not in ("debug", "info", "warning", "error"):
        fail(f"unknown log level {log_level!r}", EXIT_USAGE)
    configure(log_level, json=log_json)


@app.command()
def version() -> None:
    """Print the mllens version."""
    print(__version__)


@checks_app.command("list")
def checks_list(
    fmt: Annotated[str, typer.Option(*FORMAT_FLAGS, help="table, json or markdown.")] = "table",
) -> None:
    """Print the check catalog with pillar, severity and lens practice IDs."""
    catalog = sorted(all_checks(), key=lambda c: (c.pillar.value, c.id))
    if fmt == "json":
        print(json.dumps([
            {
                "id": c.id,
                "title": c.title,
                "pillar": c.pillar.value,
                "severity": c.severity.value,
                "lens_ids": list(c.lens_ids),
                "legacy_lens_ids": list(c.legacy_lens_ids),
                "needs": [k.value for k in c.needs],
                "optional_needs": [k.value for k in c.optional],
                "options": list(c.options),
                "parameters": {p.name: p.default for p in c.params},
                "parameter_types": {p.name: getattr(p.type, "__name__", None) or str(p.type)
                                    for p in c.params},
                "remediation": c.remediation,
                "description": c.description,
            }
            for c in catalog
        ], indent=2, default=list))
    elif fmt == "markdown":
        print("| Check | Pillar | Severity | Lens (current / legacy) | Title | Parameters |")
        print("|---|---|---|---|---|---|")
        for c in catalog:
            lens = ", ".join(f"{p.id} / {p.legacy_id}" for p in c.lens)
            params = ", ".join(f"`{p.name}={p.default!r}`" for p in c.params) or "-"
            print(f"| `{c.id}` | {c.pillar.label} | {c.severity.value} | {lens} | {c.title} "
                  f"| {params} |")
    elif fmt == "table":
        t = Table(title=f"{len(catalog)} checks")
        for col in ("Check", "Pillar", "Severity", "Lens", "Title", "Parameters"):
            t.add_column(col, overflow="fold")
        for c in catalog:
            t.add_row(c.id, c.pillar.label, c.severity.value,
                      " ".join(f"{p.id} ({p.legacy_id})" for p in c.lens), c.title,
                      " ".join(f"{p.name}={p.default!r}" for p in c.params))
        make_console().print(t)
    else:
        fail(f"unknown format {fmt!r}; use table, json or markdown", EXIT_USAGE)


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None, config: ConfigOption = None) -> None:
    """Create or migrate the store's schema to the current version."""
    from agent.store import StoreError, current_revision, upgrade

    url = resolve_store(db, config)
    try:
        upgrade(url)
        rev = current_revision(url)
    except StoreError as exc:
        fail(str(exc))
    err_console.print(f"{safe_url(url)} is at revision {rev}", highlight=False)


_AWS_SETUP_ERRORS = (bx.ProfileNotFound, bx.ConfigParseError, bx.InvalidConfigError,
                     bx.ConfigNotFound, bx.UnknownServiceError, bx.InvalidRegionError)


def main() -> None:
    """Entry point: no traceback reaches the user unless MLLENS_DEBUG is set."""
    try:
        app()
    except SystemExit:
        raise
    except BotoCoreError as exc:
        # The user's AWS set-up (a profile named by AWS_PROFILE that does not exist, a config
        # file that does not parse, a credential_process that fails): their input, not our bug.
        if os.environ.get("MLLENS_DEBUG"):
            raise
        usage = isinstance(exc, _AWS_SETUP_ERRORS)
        err_console.print(
            f"[bold red]mllens:[/] AWS {'configuration' if usage else 'credentials'}: "
            f"{escape(str(exc))}",
            highlight=False, soft_wrap=True,
        )
        sys.exit(EXIT_USAGE if usage else EXIT_ERROR)
    except Exception as exc:
        if os.environ.get("MLLENS_DEBUG"):
            raise
        err_console.print(
            f"[bold red]mllens:[/] internal error: {escape(f'{type(exc).__name__}: {exc}')} "
            "(set MLLENS_DEBUG=1 for the traceback)",
            highlight=False,
        )
        sys.exit(EXIT_ERROR)


if __name__ == "__main__":
    main()
