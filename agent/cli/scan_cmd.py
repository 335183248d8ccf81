"""`mllens scan`: the on-demand scan, and the rendering of its outcome."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import aioboto3
import botocore.session
import typer
from botocore.exceptions import BotoCoreError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from agent import report, reports
from agent.aws.handle import DEFAULT_MAX_ATTEMPTS, Limits
from agent.aws.ratelimit import DEFAULT_RATE, DEFAULT_RATES
from agent.cli.common import (
    EXIT_ERROR,
    EXIT_FAILED_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    check_endpoint_url,
    check_output_path,
    err_console,
    fail,
    parse_severities,
    resolve_db,
    select_checks,
    split_names,
)
from agent.cli.coverage_cmd import print_matrix
from agent.cli.history_cmd import read_mute_file, report_mutes
from agent.cli.report_cmd import format_help, scan_output
from agent.collectors import CollectOptions
from agent.domain import Result, Severity, Status
from agent.mutes import MutingSink
from agent.scan import NOTHING_READ, ScanError, ScanOutcome, ScanRequest, run_scan
from agent.targets import TargetSpec
from checks import by_id

_REGION_SHAPE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_TARGETS = "Accounts and roles"
_PRESSURE = "Rate limits and concurrency"


def known_regions() -> set[str]:
    s = botocore.session.get_session()
    out: set[str] = set()
    for partition in s.get_available_partitions():
        out.update(s.get_available_regions("sagemaker", partition_name=partition))
    return out


def resolve_regions(values: list[str] | None) -> tuple[str, ...]:
    """The regions asked for, validated; none asked means every region each account has
    enabled. Emulators are held to AWS's region names too: moto answers for any name, so a typo
    would otherwise scan an empty, made-up region."""
    regions = split_names(values)
    if values and not regions:
        fail("--region was given but names no region", EXIT_USAGE)
    known = known_regions()
    for r in regions:
        if not _REGION_SHAPE.match(r) or r not in known:
            fail(f"unknown region {r!r} (SageMaker regions: see 'aws ec2 describe-regions')",
                 EXIT_USAGE)
    return tuple(dict.fromkeys(regions))


class RichProgress:
    """Progress on a terminal: one bar per account, over the collectors of all its regions."""

    def __init__(self, console: Console) -> None:
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[regions]} regions"),
            TextColumn("{task.fields[resources]} resources"),
            TextColumn("{task.fields[state]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}

    def _task(self, account_id: str, name: str = "") -> Any:
        if account_id not in self.tasks:
            label = f"{account_id} {name}".strip()
            self.tasks[account_id] = self.bar.add_task(label, total=None, resources=0,
                                                       regions="0/0", state="")
        return self.tasks[account_id]

    def account_started(self, account_id: str, name: str) -> None:
        self._task(account_id, name)

    def region_started(self, account_id: str, region: str, collectors: int) -> None:
        task = self._task(account_id)
        t = self.bar.tasks[task]
        done, total = (int(x) for x in str(t.fields["regions"]).split("/"))
        self.bar.update(task, total=(t.total or 0) + collectors, regions=f"{done}/{total + 1}")

    def collector_done(self, account_id: str, region: str, collector: str, count: int) -> None:
        task = self._task(account_id)
        current = self.bar.tasks[task].fields.get("resources", 0)
        self.bar.update(task, advance=1, resources=current + count)

    def region_done(self, account_id: str, region: str) -> None:
        task = self._task(account_id)
        done, total = (int(x) for x in str(self.bar.tasks[task].fields["regions"]).split("/"))
        self.bar.update(task, regions=f"{done + 1}/{total}")

    def account_done(self, account_id: str, state: str, reason: str) -> None:
        task = self._task(account_id)
        t = self.bar.tasks[task]
        self.bar.update(task, total=t.total or 1, completed=t.total or 1,
                        state=state if not reason or state == "complete"
                        else f"{state}: {reason[:60]}")


# 128 + the signal number, as shells report a process a signal ended.
_SIGNAL_EXIT = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129}


class Interrupted(Exception):
    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


async def _guarded(coro: Any) -> Any:
    """Run the scan with SIGINT, SIGTERM or SIGHUP (the terminal closed) cancelling it, so it
    is recorded as interrupted instead of left running."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    received: list[str] = []

    def stop(name: str) -> None:
        received.append(name)
        if task is not None:
            task.cancel()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            loop.add_signal_handler(sig, stop, sig.name)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not on this platform / thread
            pass
    try:
        return await coro
    except asyncio.CancelledError:
        if received:
            raise Interrupted(received[0]) from None
        raise
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def parse_rates(values: list[str] | None) -> dict[str, float]:
    rates = dict(DEFAULT_RATES)
    for item in split_names(values):
        service, sep, number = item.partition("=")
        try:
            rate = float(number)
        except ValueError:
            rate = -1.0
        if not sep or not service.strip() or rate <= 0:
            fail(f"bad --rate {item!r}: use SERVICE=REQUESTS_PER_SECOND, e.g. sagemaker=10",
                 EXIT_USAGE)
        rates[service.strip()] = rate
    return rates


def _usage(message: str) -> NoReturn:
    fail(message, EXIT_USAGE)


def scan(
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
        typer.Option(help="Requests per second per account, region and service, as "
                     "SERVICE=N; repeatable. Defaults: "
                     + ", ".join(f"{k}={v:g}" for k, v in DEFAULT_RATES.items()) + ".",
                     rich_help_panel=_PRESSURE),
    ] = None,
    default_rate: Annotated[
        float, typer.Option(min=0.01, help="Requests per second for any service not given by "
                            "--rate.", rich_help_panel=_PRESSURE)
    ] = DEFAULT_RATE,
    max_attempts: Annotated[
        int, typer.Option(min=1, help="Attempts per call, first included (botocore adaptive "
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
    selected = select_checks(checks, excluded_checks)
    if not selected:
        fail("no checks selected (every selected check was excluded)", EXIT_USAGE)
    severities = parse_severities(severity)
    regions = resolve_regions(region)
    if endpoint_url is not None:
        endpoint_url = check_endpoint_url(endpoint_url)
    if output is not None:
        check_output_path(output)
    try:
        targets = TargetSpec(
            organization=organization,
            ou_ids=tuple(split_names(ou)),
            accounts=tuple(split_names(account)),
            include=tuple(split_names(include)),
            exclude=tuple(split_names(exclude)),
            role_name=role_name or None,
            external_id=external_id or None,
            session_name=session_name,
            regions=regions,
        )
        limits = Limits(
            max_in_flight=max_in_flight, per_service=per_service, max_attempts=max_attempts,
            call_timeout=call_timeout, rates=parse_rates(rate), default_rate=default_rate,
            accounts_in_parallel=accounts_in_parallel,
        )
    except ValueError as exc:
        _usage(str(exc))
    try:
        aioboto3.Session(profile_name=profile)
    except BotoCoreError as exc:
        fail(str(exc), EXIT_USAGE)
    mutes = read_mute_file(mute_file)  # a malformed file fails here, before any scan work

    from agent.store import Store, StoreError  # imported late: the store pulls in SQLAlchemy

    url = resolve_db(db)
    try:
        store = Store.open(url)
    except StoreError as exc:
        fail(str(exc))
    req = ScanRequest(
        checks=selected,
        targets=targets,
        profile=profile,
        endpoint_url=endpoint_url,
        limits=limits,
        collect=CollectOptions(training_lookback_days=training_lookback_days),
    )
    sink = store if mutes is None else MutingSink(store, mutes)
    with exclusive(store, wait):
        outcome = execute(req, sink, show_progress=progress and sys.stderr.isatty())
    code = render(outcome, output_format, output, severities, all_statuses, store_url=url)
    if isinstance(sink, MutingSink):
        code = report_mutes(outcome.results, sink, code)
    if code == EXIT_FAILED_FINDINGS and ignore_exit_code_3:
        code = EXIT_OK
    raise typer.Exit(code)


@contextmanager
def exclusive(store: Any, wait: bool) -> Iterator[None]:
    """Hold the store's scan lock for the block; refuse (or wait) if another scan holds it.

    Holding the lock proves no other scan runs, so scans still marked running are stale (their
    process died): they are closed as interrupted before this one starts.
    """
    from agent.store import StoreError
    from agent.store.lock import StoreLock, StoreLocked

    lock = StoreLock(store.engine)
    try:
        try:
            lock.acquire(timeout=0)
        except StoreLocked:
            if not wait:
                fail(f"{_holder(store)}; wait for it to finish, or pass --wait")
            err_console.print(f"{_holder(store)}; waiting for it to finish", highlight=False)
            lock.acquire(timeout=None)
        stale = store.mark_interrupted(
            error="interrupted: the process running it stopped before it finished"
        )
    except StoreError as exc:
        fail(str(exc))
    if stale:
        err_console.print(f"closed {len(stale)} scan(s) left running by a stopped process as "
                          f"interrupted: {', '.join(map(str, stale))}", highlight=False)
    try:
        yield
    finally:
        lock.release()


def _holder(store: Any) -> str:
    from agent.store import ScanStatus, StoreError
    from agent.store.engine import where

    try:
        running = [s for s in store.latest_scans(20) if s.status == ScanStatus.RUNNING]
    except StoreError:
        running = []
    place = where(store.engine)
    if not running:
        return f"another mllens scan is running against {place}"
    s = running[0]
    return (f"another mllens scan is running against {place} (scan {s.id}, {s.uid[:8]}, "
            f"started {s.started_at:%Y-%m-%d %H:%M:%S} UTC)")


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
                outcome: ScanOutcome = asyncio.run(_guarded(run_scan(req, store, session, rp)))
                return outcome
        outcome = asyncio.run(_guarded(run_scan(req, store, session)))
        return outcome
    except ScanError as exc:
        fail(str(exc))
    except StoreError as exc:
        fail(f"store: {exc}")
    except Interrupted as exc:
        fail(f"interrupted by {exc.signal_name}; the scan is recorded as interrupted and its "
             "unfinished accounts were not written", _SIGNAL_EXIT.get(exc.signal_name, 130))
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
    names = {a.account_id: a.name for a in outcome.accounts if a.name}
    print_matrix(human, outcome.coverage(), names)
    human.print(
        f"scan {outcome.uid} ({outcome.status}): {len(results)} results, "
        f"{sum(r.status is Status.FAIL for r in results)} failed, {len(outcome.gaps)} gaps, "
        f"{outcome.api_calls} API calls in "
        f"{(outcome.finished_at - outcome.started_at).total_seconds():.1f}s; "
        f"stored in {safe_url(store_url)}",
        highlight=False,
    )
    if outcome.status == "failed":
        err_console.print(f"[bold red]mllens:[/] {NOTHING_READ}; see the coverage matrix above",
                          highlight=False)
        return EXIT_ERROR
    if any(r.status is Status.FAIL for r in results):
        return EXIT_FAILED_FINDINGS
    return EXIT_OK


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
