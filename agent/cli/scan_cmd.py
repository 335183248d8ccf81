"""`mllens scan`: the on-demand scan, and the rendering of its outcome."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import aioboto3
import botocore.session
import typer
from botocore.exceptions import BotoCoreError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from agent import report, reports
from agent.aws.handle import Limits
from agent.cli.common import (
    EXIT_FAILED_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    err_console,
    fail,
    parse_severities,
    resolve_db,
    select_checks,
    split_names,
)
from agent.cli.report_cmd import format_help, scan_output
from agent.collectors import CollectOptions
from agent.domain import Result, Severity, Status
from agent.scan import ScanError, ScanOutcome, ScanRequest, run_scan
from checks import by_id

_REGION_SHAPE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


def known_regions() -> set[str]:
    s = botocore.session.get_session()
    out: set[str] = set()
    for partition in s.get_available_partitions():
        out.update(s.get_available_regions("sagemaker", partition_name=partition))
    return out


def resolve_regions(values: list[str] | None, profile: str | None, emulated: bool) -> tuple[
    str, ...
]:
    regions = split_names(values)
    if not regions:
        default = (
            os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or _profile_region(profile)
            or "us-east-1"
        )
        regions = [default]
    known = known_regions()
    for r in regions:
        # An emulator may invent regions; real AWS may not, and a typo would otherwise turn
        # into a wall of network errors.
        if not _REGION_SHAPE.match(r) or (not emulated and r not in known):
            fail(f"unknown region {r!r} (SageMaker regions: see 'aws ec2 describe-regions')",
                 EXIT_USAGE)
    return tuple(dict.fromkeys(regions))


def _profile_region(profile: str | None) -> str | None:
    try:
        return aioboto3.Session(profile_name=profile).region_name
    except BotoCoreError:
        return None


class RichProgress:
    """Progress on a terminal: one bar per (account, region) over its collectors."""

    def __init__(self, console: Console) -> None:
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} collectors"),
            TextColumn("{task.fields[resources]} resources"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[tuple[str, str], Any] = {}

    def region_started(self, account_id: str, region: str, collectors: int) -> None:
        self.tasks[(account_id, region)] = self.bar.add_task(
            f"{account_id} {region}", total=collectors, resources=0
        )

    def collector_done(self, account_id: str, region: str, collector: str, count: int) -> None:
        task = self.tasks[(account_id, region)]
        current = self.bar.tasks[task].fields.get("resources", 0)
        self.bar.update(task, advance=1, resources=current + count)

    def region_done(self, account_id: str, region: str) -> None:
        pass


def scan(
    profile: Annotated[str | None, typer.Option(help="AWS named profile to use.")] = None,
    region: Annotated[
        list[str] | None,
        typer.Option("--region", "-r", help="Region to scan; repeat or comma-separate. "
                     "Default: the profile's or environment's region."),
    ] = None,
    checks: Annotated[
        list[str] | None, typer.Option("--checks", "-c", help="Only these check IDs.")
    ] = None,
    excluded_checks: Annotated[
        list[str] | None, typer.Option("--excluded-checks", "-e", help="Skip these check IDs.")
    ] = None,
    severity: Annotated[
        list[str] | None,
        typer.Option(help="Only report findings of these severities (critical, high, medium, "
                     "low, info)."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(help="Store URL (sqlite:///path, postgresql+psycopg://...) or a file path. "
                     "Default: $MLLENS_DB or mllens.db in the user data directory."),
    ] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(envvar="AWS_ENDPOINT_URL",
                     help="Send every AWS call here (an emulator such as moto)."),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--output-format", "-o",
                          help=f"table, or a file format: {format_help()}.")
    ] = "table",
    output: Annotated[
        Path | None, typer.Option(help="Write findings to this file instead of stdout.")
    ] = None,
    all_statuses: Annotated[
        bool, typer.Option("--all", help="Table: list PASS and NOT_APPLICABLE results too.")
    ] = False,
    ignore_exit_code_3: Annotated[
        bool,
        typer.Option("--ignore-exit-code-3", "-z", help="Exit 0 even when findings failed."),
    ] = False,
    training_lookback_days: Annotated[
        int, typer.Option(min=1, help="Training jobs created in the last N days.")
    ] = 90,
    max_in_flight: Annotated[int, typer.Option(min=1, help="API calls in flight, in all.")] = 64,
    per_service: Annotated[
        int, typer.Option(min=1, help="API calls in flight per account, region and service.")
    ] = 16,
    progress: Annotated[bool, typer.Option(help="Show progress on a terminal.")] = True,
) -> None:
    """Scan an AWS account's ML estate, store the findings and print them."""
    if output_format != "table" and output_format not in reports.FORMATS:
        fail(f"unknown output format {output_format!r}; use table, {format_help()}",
             EXIT_USAGE)
    selected = select_checks(checks, excluded_checks)
    if not selected:
        fail("no checks selected (every selected check was excluded)", EXIT_USAGE)
    severities = parse_severities(severity)
    regions = resolve_regions(region, profile, emulated=bool(endpoint_url))
    try:
        aioboto3.Session(profile_name=profile)
    except BotoCoreError as exc:
        fail(str(exc), EXIT_USAGE)

    from agent.store import Store, StoreError  # imported late: the store pulls in SQLAlchemy

    url = resolve_db(db)
    try:
        store = Store.open(url)
    except StoreError as exc:
        fail(str(exc))
    req = ScanRequest(
        regions=regions,
        checks=selected,
        profile=profile,
        endpoint_url=endpoint_url,
        limits=Limits(max_in_flight=max_in_flight, per_service=per_service),
        collect=CollectOptions(training_lookback_days=training_lookback_days),
    )
    outcome = execute(req, store, show_progress=progress and sys.stderr.isatty())
    code = render(outcome, output_format, output, severities, all_statuses, store_url=url)
    if code == EXIT_FAILED_FINDINGS and ignore_exit_code_3:
        code = EXIT_OK
    raise typer.Exit(code)


def execute(
    req: ScanRequest,
    store: Any,
    show_progress: bool,
    session: Callable[[], Any] | None = None,
) -> ScanOutcome:
    from agent.store import StoreError

    def profile_session() -> Any:
        return aioboto3.Session(profile_name=req.profile)

    session = session or profile_session

    try:
        if show_progress:
            rp = RichProgress(err_console)
            with rp.bar:
                return asyncio.run(run_scan(req, store, session, rp))
        return asyncio.run(run_scan(req, store, session))
    except ScanError as exc:
        fail(str(exc))
    except StoreError as exc:
        fail(f"store: {exc}")
    except KeyboardInterrupt:
        fail("interrupted; the scan is recorded as interrupted", 130)


def render(
    outcome: ScanOutcome,
    output_format: str,
    output: Path | None,
    severities: set[Severity],
    all_statuses: bool,
    store_url: str,
) -> int:
    results: list[Result] = outcome.results
    if severities:
        results = [r for r in results if r.severity in severities]
    catalog = by_id()
    machine = output_format != "table"
    # Keep stdout parseable when findings go there in a file format: the summary goes to stderr.
    human = err_console if machine and output is None else Console()
    if machine:
        text = scan_output(results, output_format, store_url, outcome.scan_id, severities)
    else:
        shown = results if all_statuses else [
            r for r in results if r.status in (Status.FAIL, Status.UNKNOWN)
        ]
        text = ""
        if output is None:
            human.print(report.findings_table(shown))
        else:
            text = report.to_json(results, catalog)
    if output is not None:
        try:
            output.write_text(text)
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror}")
    elif text:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    report.print_summary(human, results, outcome.gaps)
    human.print(
        f"scan {outcome.uid} ({outcome.status}): {len(results)} results, "
        f"{sum(r.status is Status.FAIL for r in results)} failed, {len(outcome.gaps)} gaps, "
        f"{outcome.api_calls} API calls in "
        f"{(outcome.finished_at - outcome.started_at).total_seconds():.1f}s; "
        f"stored in {safe_url(store_url)}",
        highlight=False,
    )
    if any(r.status is Status.FAIL for r in results):
        return EXIT_FAILED_FINDINGS
    return EXIT_OK


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
