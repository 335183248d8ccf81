"""Running one scan job from the command line: locks, signals, progress, and its rendering.

`run_job` is what `mllens scan` and `mllens demo` share: take the store's locks (refuse or wait),
scan with SIGINT, SIGTERM and SIGHUP recorded as an interruption, then notify and write the
configured reports (`agent.job`). Every failure is one line and an exit code, never a traceback.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aioboto3
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from agent import report, reports
from agent.cli.common import (
    EXIT_ERROR,
    EXIT_FAILED_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    err_console,
    fail,
    make_console,
)
from agent.cli.coverage_cmd import print_matrix
from agent.cli.report_cmd import scan_report
from agent.domain import Result, Severity, Status
from agent.job import AfterResult, AfterScan, Busy, after_scan, take_locks
from agent.redact import safe_url
from agent.scan import NOTHING_READ, ScanError, ScanOutcome, ScanRequest, run_scan
from checks import by_id


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
SIGNAL_EXIT = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129}


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


@dataclass(frozen=True)
class JobRun:
    outcome: ScanOutcome
    closed: list[int]
    after: AfterResult


def run_job(
    req: ScanRequest,
    store: Any,
    *,
    sink: Any = None,
    wait: bool = False,
    show_progress: bool = False,
    session: Callable[[], Any] | None = None,
    after: AfterScan | None = None,
) -> JobRun:
    """Lock, scan and follow up, or end the process with one line and its exit code."""
    from agent.store import StoreError
    from agent.store.runs import RunConflict

    def profile_session() -> Any:
        return aioboto3.Session(profile_name=req.profile)

    factory = session or profile_session

    async def job(progress: Any) -> JobRun:
        def waiting(who: str) -> None:
            err_console.print(f"{who}; waiting for it to finish", highlight=False)

        locks = await take_locks(store, req.spec, req.run_id, wait=None if wait else 0,
                                 on_wait=waiting)
        try:
            if locks.closed:
                err_console.print(
                    f"closed {len(locks.closed)} scan(s) left running by a stopped process as "
                    f"interrupted: {', '.join(map(str, locks.closed))}", highlight=False)
            outcome = await run_scan(req, sink if sink is not None else store, factory,
                                     progress)
        finally:
            locks.release()
        done = await after_scan(store, outcome, after or AfterScan(),
                                {cid: c.title for cid, c in by_id().items()})
        for problem in done.problems:
            err_console.print(f"[bold yellow]mllens:[/] {problem}", highlight=False,
                              markup=True)
        return JobRun(outcome, locks.closed, done)

    try:
        if show_progress:
            rp = RichProgress(err_console)
            with rp.bar:
                run: JobRun = asyncio.run(_guarded(job(rp)))
                return run
        run = asyncio.run(_guarded(job(None)))
        return run
    except Busy as exc:
        hint = "" if wait else "; wait for it to finish, or pass --wait"
        fail(f"{exc}{hint}")
    except ScanError as exc:
        fail(str(exc))
    except RunConflict as exc:
        # The shard or run flags do not fit the run as stored: the user's input, not the store's.
        fail(str(exc), EXIT_USAGE)
    except StoreError as exc:
        fail(f"store: {exc}")
    except Interrupted as exc:
        fail(f"interrupted by {exc.signal_name}; the scan is recorded as interrupted and its "
             "unfinished accounts were not written", SIGNAL_EXIT.get(exc.signal_name, 130))
    except KeyboardInterrupt:
        fail("interrupted; the scan is recorded as interrupted", 130)


def render(
    outcome: ScanOutcome,
    output_format: str,
    output: Path | None,
    severities: set[Severity],
    all_statuses: bool,
    store_url: str,
    after: AfterResult | None = None,
) -> int:
    results: list[Result] = outcome.results
    if severities:
        results = [r for r in results if r.severity in severities]
    machine = output_format != "table"
    # Keep stdout parseable when findings go there in a file format: the summary goes to stderr.
    human = err_console if machine and output is None else make_console()
    # Every form reads the findings back with what the store recorded for them (mutes too).
    rep = scan_report(results, store_url, outcome.scan_id, severities,
                      with_history=output_format == "html")
    if machine:
        text = reports.render(output_format, rep)
    else:
        text = ""
        if output is None:
            observed = [f for f in rep.findings if f.status != "GONE"]
            human.print(report.findings_table(observed if all_statuses else [
                f for f in observed if f.status in (Status.FAIL, Status.UNKNOWN)]))
        else:
            text = reports.render("json", rep)
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
    what = f"scan {outcome.uid}" if outcome.shard is None else \
        f"shard {outcome.shard} of scan {outcome.uid}"
    human.print(
        f"{what} ({outcome.status}): {len(results)} results, "
        f"{sum(r.status is Status.FAIL for r in results)} failed, {len(outcome.gaps)} gaps, "
        f"{outcome.api_calls} API calls in "
        f"{(outcome.finished_at - outcome.started_at).total_seconds():.1f}s; "
        f"stored in {safe_url(store_url)}",
        highlight=False,
    )
    if outcome.shard is not None:
        count = outcome.shard.split("/")[1]
        human.print(
            f"the scan waits for its other shards (it counts once all {count} have finished)"
            if outcome.run_status == "running"
            else f"all {count} shards have finished: the scan is {outcome.run_status}",
            highlight=False)
    if after is not None:
        if after.notified is not None:
            for d in after.notified.deliveries:
                human.print(f"notification to {d.channel}: {d.state} ({d.findings} new "
                            "findings)", highlight=False)
        for path in after.reports:
            human.print(f"report written: {path}", highlight=False)
    if outcome.note:
        # Not an error: every requested region is off (or lacks the services) in every account.
        err_console.print(f"[bold yellow]mllens:[/] {outcome.note}", highlight=False)
    if outcome.status == "failed":
        err_console.print(f"[bold red]mllens:[/] {NOTHING_READ}; see the coverage matrix above",
                          highlight=False)
        return EXIT_ERROR
    if any(r.status is Status.FAIL for r in results):
        return EXIT_FAILED_FINDINGS
    return EXIT_OK

