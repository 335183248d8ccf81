"""`mllens report`: render a stored scan as JSON, CSV, OCSF, ASFF, SARIF or HTML, and
optionally import it into Security Hub. Also the glue `mllens scan` renders through."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agent import reports
from agent.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    FORMAT_FLAGS,
    STATUS_WORDS,
    check_endpoint_url,
    err_console,
    fail,
    parse_severities,
    split_names,
)
from agent.cli.stores import ConfigOption, DbOption, open_reader
from agent.domain import Result, Severity
from agent.reports.model import STATUSES, Report
from checks import by_id

if TYPE_CHECKING:
    from agent.store import Store
    from agent.store.rows import ScanRow


def format_help() -> str:
    return ", ".join(reports.names())


def pick_scan(store: Store, ref: str | None, url: str) -> ScanRow:
    """The scan named by id, uid or uid prefix; by default the latest finished one."""
    from agent.redact import safe_url
    from agent.store import StoreError
    from agent.store.rows import ScanStatus

    try:
        if ref and ref != "latest":
            row = store.scan(ref)
            if row is None:
                fail(f"no scan {ref!r} in {safe_url(url)} (give a scan id or uid)", EXIT_USAGE)
            return row
        recent = store.latest_scans(50)
    except StoreError as exc:
        fail(str(exc))
    for row in recent:
        if row.status in (ScanStatus.COMPLETE, ScanStatus.PARTIAL):
            return row
    if recent:
        fail(f"no finished scan in {safe_url(url)}: the latest, {recent[0].uid}, is "
             f"{recent[0].status.value} (pass --scan to report it anyway)")
    fail(f"no scans in {safe_url(url)}: run 'mllens scan' first")


def filter_report(report: Report, severities: set[Severity], statuses: set[str]) -> Report:
    kept = [
        f for f in report.findings
        if (not severities or f.severity in severities) and (not statuses or f.status in statuses)
    ]
    return replace(report, findings=kept)


def parse_statuses(values: Iterable[str] | None) -> set[str]:
    out = set()
    for v in split_names(values):
        s = STATUS_WORDS.get(v.lower(), v.upper())
        if s not in STATUSES:
            fail(f"unknown status {v!r}; use one of: {', '.join(STATUSES)} (or open, pass, na, "
                 "unknown, gone)", EXIT_USAGE)
        out.add(s)
    return out


def write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")


def scan_report(
    results: Iterable[Result],
    store_url: str,
    scan_id: int | None,
    severities: set[Severity] | None = None,
    with_history: bool = True,
) -> Report:
    """What `mllens scan` shows: the scan's results with the lifecycle, mutes and (for the
    formats that draw trends) history the store it was just written to recorded for them."""
    from agent.reports.build import HISTORY, from_results
    from agent.store import Store, StoreError

    try:
        with Store.open(store_url, migrate=False, read_only=True) as store:
            rep = from_results(results, by_id(), store, scan_id,
                               n_history=HISTORY if with_history else 0)
    except StoreError as exc:
        fail(f"store: {exc}")
    return filter_report(rep, severities or set(), set())


def securityhub_clients(
    profile: str | None, endpoint_url: str | None
) -> Callable[[str], Any]:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    try:
        session = boto3.Session(profile_name=profile)
    except BotoCoreError as exc:
        fail(str(exc), EXIT_USAGE)
    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10,
                    read_timeout=30)

    def client_for(region: str) -> Any:
        return session.client("securityhub", region_name=region, endpoint_url=endpoint_url,
                              config=config)

    return client_for


def import_to_security_hub(report: Report, client_for: Callable[[str], Any]) -> int:
    """Import the report's findings and set muted ones SUPPRESSED (unmuted ones back to NEW);
    print what arrived; the exit code (1 if any import or workflow update failed)."""
    from agent.reports import asff
    from agent.reports.securityhub import import_findings

    payload = asff.findings(report)
    if not payload:
        err_console.print("Security Hub: nothing to import", highlight=False)
        return EXIT_OK
    result = import_findings(payload, client_for)
    err_console.print(result.summary(), highlight=False, soft_wrap=True)
    failures = [*result.failures, *result.update_failures]
    for f in failures[:10]:
        err_console.print(f"  {f.region} {f.finding_id or '-'}: {f.code}: {f.message}",
                          highlight=False, soft_wrap=True, markup=False)
    if len(failures) > 10:
        err_console.print(f"  ... and {len(failures) - 10} more", highlight=False)
    return EXIT_ERROR if failures else EXIT_OK


def report(
    fmt: Annotated[
        str, typer.Option(*FORMAT_FLAGS, help=f"Output format: {format_help()}.")
    ] = "html",
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
    severity: Annotated[
        list[str] | None,
        typer.Option(help="Only findings of these severities (critical, high, medium, low, "
                     "info)."),
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(help="Only findings with these statuses (FAIL, UNKNOWN, PASS, "
                     "NOT_APPLICABLE, GONE)."),
    ] = None,
    history: Annotated[
        int, typer.Option(min=1, help="HTML: finished scans to draw trends from.")
    ] = 30,
    import_security_hub: Annotated[
        bool,
        typer.Option("--import-security-hub",
                     help="Also import the findings (ASFF) into Security Hub with "
                     "BatchImportFindings, each into its own region, and set the workflow "
                     "of muted findings to SUPPRESSED (BatchUpdateFindings)."),
    ] = False,
    profile: Annotated[
        str | None, typer.Option(help="AWS profile for --import-security-hub.")
    ] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(envvar="AWS_ENDPOINT_URL",
                     help="Send Security Hub calls here (an emulator such as moto)."),
    ] = None,
) -> None:
    """Render a stored scan: findings as of that scan, its coverage and the trend history."""
    if fmt not in reports.FORMATS:
        fail(f"unknown format {fmt!r}; use one of: {format_help()}", EXIT_USAGE)
    severities = parse_severities(severity)
    statuses = parse_statuses(status)

    from agent.reports.build import from_store
    from agent.store import StoreError

    store, url = open_reader(db, config)
    with store:
        row = pick_scan(store, scan, url)
        try:
            # Only the HTML report draws trends: the other formats skip reading history.
            rep = from_store(store, row, by_id(), history if fmt == "html" else 0)
        except StoreError as exc:
            fail(str(exc))
    rep = filter_report(rep, severities, statuses)
    write(reports.render(fmt, rep), output)
    if output is not None:
        err_console.print(f"wrote {fmt} report of scan {row.uid} ({len(rep.findings)} findings) "
                          f"to {output}", highlight=False, soft_wrap=True)
    code = EXIT_OK
    if import_security_hub:
        if endpoint_url is not None:
            endpoint_url = check_endpoint_url(endpoint_url)
        code = import_to_security_hub(rep, securityhub_clients(profile, endpoint_url))
    raise typer.Exit(code)
