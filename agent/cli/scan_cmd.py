"""`mllens scan`: the on-demand scan (and the one-shot scheduled one), from flags and settings.

The scan's request comes from the settings with the flags given on top (`scan_settings`); it
runs under the store's locks, then notifies and writes the configured reports (`scan_run`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import aioboto3
import typer
from botocore.exceptions import BotoCoreError

from agent import reports
from agent.aws.handle import DEFAULT_MAX_ATTEMPTS
from agent.aws.ratelimit import DEFAULT_RATE, DEFAULT_RATES
from agent.cli.common import (
    EXIT_FAILED_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    FORMAT_FLAGS,
    check_endpoint_url,
    check_output_path,
    fail,
    parse_severities,
)
from agent.cli.history_cmd import read_mute_file, report_mutes
from agent.cli.report_cmd import format_help
from agent.cli.scan_run import render, run_job
from agent.cli.scan_settings import build_request
from agent.cli.stores import DbOption, settings_or_fail, store_url
from agent.job import AfterScan
from agent.mutes import MutingSink

_TARGETS = "Accounts and roles"
_PRESSURE = "Rate limits and concurrency"


def given_flags(ctx: typer.Context) -> dict[str, Any]:
    """The parameters set on the command line or through their own environment variable."""
    # By name: typer ships its own copy of click, whose enum is not `click.core`'s.
    def by_user(name: str) -> bool:
        source = ctx.get_parameter_source(name)
        return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")

    return {name: value for name, value in ctx.params.items() if by_user(name)}


def scan(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar="MLLENS_CONFIG",
                     help="TOML settings file (see `mllens config example`); flags given here "
                     "override it, and MLLENS_<SECTION>__<KEY> variables apply with or "
                     "without it."),
    ] = None,
    profile: Annotated[str | None, typer.Option(help="AWS named profile to use.")] = None,
    region: Annotated[
        list[str] | None,
        typer.Option("--region", "-r", help="Region to scan; repeat or comma-separate. "
                     "Default: every region each account has enabled (regions not enabled in "
                     "an account are skipped there and reported)."),
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
    db: DbOption = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(envvar="AWS_ENDPOINT_URL",
                     help="Send every AWS call here (an emulator such as moto)."),
    ] = None,
    output_format: Annotated[
        str, typer.Option(*FORMAT_FLAGS,
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
    full: Annotated[
        bool, typer.Option("--full", help="Describe every resource again instead of reusing "
                           "the records an earlier scan kept that the listings prove "
                           "unchanged (docs/performance.md).")
    ] = False,
    history_max_age: Annotated[
        float, typer.Option(min=0, max=720, help="Hours a kept Glue job run or monitoring "
                            "execution "
                            "history is reused before it is read again (0: every scan).")
    ] = 6.0,
    max_in_flight: Annotated[int, typer.Option(min=1, help="API calls in flight, in all.")] = 64,
    per_service: Annotated[
        int, typer.Option(min=1, help="API calls in flight per account, region and service.")
    ] = 16,
    progress: Annotated[bool, typer.Option(help="Show progress on a terminal.")] = True,
    organization: Annotated[
        bool, typer.Option("--organization", help="Scan every ACTIVE account of the AWS "
                           "organisation (needs --role-name).", rich_help_panel=_TARGETS)
    ] = False,
    ou: Annotated[
        list[str] | None,
        typer.Option("--ou", help="Only accounts under this OU or root, recursively; repeat or "
                     "comma-separate. Implies --organization.", rich_help_panel=_TARGETS),
    ] = None,
    account: Annotated[
        list[str] | None,
        typer.Option("--account", help="Scan these account IDs; repeat or comma-separate.",
                     rich_help_panel=_TARGETS),
    ] = None,
    include: Annotated[
        list[str] | None,
        typer.Option(help="Only accounts whose ID or name matches one of these globs.",
                     rich_help_panel=_TARGETS),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(help="Skip accounts whose ID or name matches one of these globs.",
                     rich_help_panel=_TARGETS),
    ] = None,
    role_name: Annotated[
        str | None,
        typer.Option(envvar="MLLENS_ROLE_NAME", help="Role to assume in each target account "
                     "(arn:<partition>:iam::<account>:role/<name>).", rich_help_panel=_TARGETS),
    ] = None,
    external_id: Annotated[
        str | None,
        typer.Option(envvar="MLLENS_EXTERNAL_ID", help="ExternalId the role's trust policy "
                     "requires.", rich_help_panel=_TARGETS),
    ] = None,
    session_name: Annotated[
        str, typer.Option(help="RoleSessionName, as CloudTrail shows it.",
                          rich_help_panel=_TARGETS)
    ] = "mllens",
    accounts_in_parallel: Annotated[
        int, typer.Option(min=1, help="Accounts collected at once (each holds its inventory "
                          "in memory until written).", rich_help_panel=_PRESSURE)
    ] = 4,
    rate: Annotated[
        list[str] | None,
        typer.Option(help="Ceiling of requests per second per account, region and API "
                     "operation, as SERVICE=N or, for one operation, SERVICE:Operation=N; "
                     "repeatable. Each operation's rate adapts under it when AWS throttles. "
                     "Defaults: "
                     + ", ".join(f"{k}={v:g}" for k, v in DEFAULT_RATES.items()) + ".",
                     rich_help_panel=_PRESSURE),
    ] = None,
    default_rate: Annotated[
        float, typer.Option(min=0.01, help="Requests per second for any service not given by "
                            "--rate.", rich_help_panel=_PRESSURE)
    ] = DEFAULT_RATE,
    max_attempts: Annotated[
        int, typer.Option(min=1, help="Attempts per call, first included (botocore standard "
                          "retries).", rich_help_panel=_PRESSURE)
    ] = DEFAULT_MAX_ATTEMPTS,
    call_timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds one call may take, retries included.",
                            rich_help_panel=_PRESSURE)
    ] = 60.0,
    wait: Annotated[
        bool, typer.Option("--wait", help="If another scan holds the store, wait for it to "
                           "finish instead of refusing.")
    ] = False,
    shard: Annotated[
        str | None,
        typer.Option(envvar="MLLENS_SHARD", help="Scan only shard K of N of the target "
                     "accounts (K/N); N processes with the same --run-id join one scan.",
                     rich_help_panel=_TARGETS),
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option(envvar="MLLENS_RUN_ID", help="The run every shard of one sharded scan "
                     "names, e.g. the scheduled time.", rich_help_panel=_TARGETS),
    ] = None,
    mute_file: Annotated[
        Path | None,
        typer.Option(envvar="MLLENS_MUTE_FILE",
                     help="Mute rules (YAML, or TOML for *.toml): matching findings are stored "
                     "and shown as muted, never dropped. See docs/history.md."),
    ] = None,
) -> None:
    """Scan AWS accounts' ML estates (one, a list, or an organisation), store the findings
    and print them with the coverage matrix."""
    if output_format != "table" and output_format not in reports.FORMATS:
        fail(f"unknown output format {output_format!r}; use table, {format_help()}",
             EXIT_USAGE)
    severities = parse_severities(severity)
    if endpoint_url is not None:
        endpoint_url = check_endpoint_url(endpoint_url)
    if output is not None:
        check_output_path(output)
    settings = settings_or_fail(config)
    given = given_flags(ctx)
    req = build_request(settings, given, profile=profile, endpoint_url=endpoint_url)
    try:
        aioboto3.Session(profile_name=profile)
    except BotoCoreError as exc:
        fail(f"AWS configuration: {exc}", EXIT_USAGE)
    # A malformed mute file fails here, before any scan work.
    mutes = read_mute_file(mute_file if "mute_file" in given else settings.mutes.path)

    from agent.store import Store, StoreError  # imported late: the store pulls in SQLAlchemy

    url = store_url(db, settings)
    try:
        store = Store.open(url)
    except StoreError as exc:
        fail(str(exc))
    sink = store if mutes is None else MutingSink(store, mutes)
    after = AfterScan.from_settings(settings, lambda: aioboto3.Session(profile_name=profile),
                                    endpoint_url)
    run = run_job(req, store, sink=sink, wait=wait, after=after,
                  show_progress=progress and sys.stderr.isatty())
    code = render(run.outcome, output_format, output, severities, all_statuses, store_url=url,
                  after=run.after)
    if isinstance(sink, MutingSink):
        code = report_mutes(run.outcome.results, sink, code)
    if code == EXIT_FAILED_FINDINGS and ignore_exit_code_3:
        code = EXIT_OK
    raise typer.Exit(code)
