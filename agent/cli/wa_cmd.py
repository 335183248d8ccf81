"""`mllens wa-sync`: write mllens evidence into a workload's ML Lens review (dry run by default)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import Callable
from typing import Annotated, Any

import aioboto3
import botocore.session
import typer
from botocore.exceptions import BotoCoreError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agent.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    FORMAT_FLAGS,
    err_console,
    fail,
    make_console,
    split_names,
)
from agent.cli.stores import ConfigOption, DbOption, open_reader
from agent.reports.tables import plain
from agent.wa.api import ML_LENS, WaError
from agent.wa.plan import QuestionPlan
from agent.wa.sync import SyncFailed, SyncOptions, SyncReport, run_sync, written_note

_WORKLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_WORKLOAD_ARN = re.compile(
    r"^arn:aws[-a-z]*:wellarchitected:(?P<region>[a-z0-9-]+):\d{12}:workload/(?P<id>[0-9a-f]{32})$"
)
_ACCOUNT = re.compile(r"^\d{12}$")


def parse_workload(value: str) -> tuple[str, str | None]:
    """A workload ID, or a workload ARN (which also names the region)."""
    value = value.strip()
    if _WORKLOAD_ID.match(value):
        return value, None
    m = _WORKLOAD_ARN.match(value)
    if m:
        return m["id"], m["region"]
    fail(f"invalid workload {value!r}: expected a 32-character hex ID or a workload ARN",
         EXIT_USAGE)


def parse_tags(values: list[str] | None) -> tuple[tuple[str, str], ...]:
    out = []
    for v in values or ():
        key, sep, val = v.partition("=")
        if not sep or not key.strip():
            fail(f"invalid --tag {v!r}: expected KEY=VALUE", EXIT_USAGE)
        out.append((key.strip(), val.strip()))
    return tuple(out)


def wa_region(explicit: str | None, from_arn: str | None, profile: str | None) -> str:
    region = (
        explicit or from_arn or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION") or _profile_region(profile) or "us-east-1"
    )
    s = botocore.session.get_session()
    known = {r for p in s.get_available_partitions()
             for r in s.get_available_regions("wellarchitected", partition_name=p)}
    if region not in known:
        fail(f"the Well-Architected Tool is not available in region {region!r}", EXIT_USAGE)
    return region


def _profile_region(profile: str | None) -> str | None:
    try:
        return aioboto3.Session(profile_name=profile).region_name
    except BotoCoreError:
        return None


def wa_sync(
    workload_id: Annotated[
        str, typer.Option("--workload-id", "-w", help="The WA Tool workload: its ID or ARN.")
    ],
    apply: Annotated[
        bool, typer.Option("--apply", help="Write the planned notes. Default: a dry run that "
                           "only prints them.")
    ] = False,
    select_passing: Annotated[
        bool, typer.Option("--select-passing", help="Also select choices every mapped check "
                           "passes (never unselects). Default: notes only.")
    ] = False,
    account: Annotated[
        list[str] | None, typer.Option("--account", help="Evidence from these accounts; repeat "
                                       "or comma-separate. Default: the workload's accounts.")
    ] = None,
    region: Annotated[
        list[str] | None, typer.Option("--region", "-r", help="Evidence from these regions. "
                                       "Default: the workload's regions, else every region.")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Evidence only from resources tagged "
                                       "KEY=VALUE (needs findings that carry tags).")
    ] = None,
    lens: Annotated[
        str, typer.Option(help="The lens review to update: alias or ARN.")
    ] = ML_LENS,
    wa_region_opt: Annotated[
        str | None, typer.Option("--wa-region", help="Region of the workload in the WA Tool. "
                                 "Default: from the ARN, else the profile's region.")
    ] = None,
    profile: Annotated[str | None, typer.Option(help="AWS named profile to use.")] = None,
    db: DbOption = None,
    config: ConfigOption = None,
    output_format: Annotated[
        str, typer.Option(*FORMAT_FLAGS, help="table or json.")
    ] = "table",
) -> None:
    """Write evidence from the latest scans into a workload's ML Lens review in the WA Tool.

    Choices are matched to lens practices by the pages they link to, never by their IDs.
    Notes go in an mllens-delimited block; people's selections and notes are kept.
    Dry run unless --apply; see docs/wa-sync.md.
    """
    if output_format not in ("table", "json"):
        fail(f"unknown output format {output_format!r}; use table or json", EXIT_USAGE)
    wid, arn_region = parse_workload(workload_id)
    accounts = tuple(dict.fromkeys(split_names(account)))
    bad = [a for a in accounts if not _ACCOUNT.match(a)]
    if bad:
        fail(f"invalid account ID {bad[0]!r}: expected 12 digits", EXIT_USAGE)
    try:
        aioboto3.Session(profile_name=profile)
    except BotoCoreError as exc:
        fail(str(exc), EXIT_USAGE)
    options = SyncOptions(
        workload_id=wid,
        region=wa_region(wa_region_opt, arn_region, profile),
        lens=lens,
        accounts=accounts,
        regions=tuple(dict.fromkeys(split_names(region))),
        tags=parse_tags(tag),
        apply=apply,
        select_passing=select_passing,
    )
    store, _ = open_reader(db, config)
    with store:
        report = execute(options, store, lambda: aioboto3.Session(profile_name=profile))
    render(report, output_format)
    raise typer.Exit(EXIT_OK)


def execute(options: SyncOptions, store: Any, session: Callable[[], Any]) -> SyncReport:
    """Run the sync; any failure is one line (saying what was written) and exit code 1."""
    from checks import all_checks

    def written(plan: QuestionPlan) -> None:
        err_console.print(f"updated {plan.question_id}", highlight=False)

    report = SyncReport(options)
    try:
        return asyncio.run(
            run_sync(session(), store, options, all_checks(), on_write=written, report=report)
        )
    except SyncFailed as exc:
        fail(str(exc))
    except WaError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted" + (written_note(report) or "; nothing was written"), 130)
    except Exception:
        # A bug: main() reports it; first say what had been written, which would be lost.
        if report.written:
            err_console.print(f"mllens: stopped{written_note(report)}", highlight=False)
        raise


def _row_counts(plan: QuestionPlan) -> list[list[str]]:
    rows = []
    for c in plan.choices:
        ev = c.evidence
        rows.append([
            plan.question_id, c.choice_id, f"{c.practice_id} ({c.legacy_id})",
            str(ev.passed), str(ev.failed), str(ev.unknown),
            c.action,
        ])
    if plan.skipped:
        rows.append([plan.question_id, "", "", "", "", "", f"skipped: {plan.skipped}"])
    return rows


def render(report: SyncReport, output_format: str, stream: Console | None = None) -> None:
    if output_format == "json":
        sys.stdout.write(json.dumps(report_dict(report), indent=2, default=str) + "\n")
        human = err_console
    else:
        human = stream or make_console()
        t = Table(title=_title(report))
        t.add_column("Question", overflow="fold")
        t.add_column("Choice", overflow="fold")
        t.add_column("Practice (legacy)", overflow="fold")
        for col in ("PASS", "FAIL", "UNKNOWN"):
            t.add_column(col, justify="right", no_wrap=True)
        t.add_column("Action", overflow="fold", min_width=14)
        for plan in report.plans:
            for row in _row_counts(plan):
                t.add_row(*(plain(c) for c in row))
        human.print(t)
    for plan in report.plans:
        if plan.warning:
            human.print(f"{plan.question_id}: {plan.warning}", highlight=False)
        for c in plan.choices:
            if c.warning:
                human.print(f"{plan.question_id}/{c.choice_id}: {c.warning}", highlight=False)
    for w in report.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
    human.print(summary_line(report), highlight=False, soft_wrap=True)


def _title(report: SyncReport) -> str:
    wl = report.workload
    lens = report.lens
    name = wl.name if wl else report.options.workload_id
    lens_name = f"{lens.name} {lens.version}".strip() if lens else report.options.lens
    return f"wa-sync: {name} / {lens_name}"


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary_line(report: SyncReport) -> str:
    changes = report.changes
    notes = sum(1 for p in changes for c in p.choices if c.notes_after != c.notes_before)
    selects = sum(1 for p in changes for c in p.choices if c.status_after != c.status_before)
    mapped = sum(1 for _, m in report.mappings if m.practice)
    ev = report.evidence
    head = (f"{mapped} of {_n(len(report.mappings), 'choice')} map to lens practices; evidence "
            f"from {_n(ev.findings if ev else 0, 'finding')}"
            f"{f' ({ev.scope.describe()})' if ev else ''}. ")
    what = f"({_n(notes, 'choice note')}, {_n(selects, 'selection')})"
    if report.options.apply:
        return head + f"Wrote {_n(len(report.written), 'answer')} {what}."
    return (head + f"Dry run: would update {_n(len(changes), 'answer')} {what}; nothing written "
            "(use --apply to write).")


def report_dict(report: SyncReport) -> dict[str, Any]:
    wl, lens, ev = report.workload, report.lens, report.evidence
    return {
        "workload": None if wl is None else {
            "id": wl.id, "name": wl.name, "arn": wl.arn, "region": report.options.region,
        },
        "lens": None if lens is None else {
            "ref": lens.ref, "alias": lens.alias, "arn": lens.arn, "name": lens.name,
            "version": lens.version, "status": lens.status,
        },
        "scope": None if ev is None else {
            "accounts": list(ev.scope.accounts), "regions": list(ev.scope.regions),
            "tags": dict(ev.scope.tags), "findings": ev.findings,
            "scans": [{"id": s.id, "uid": s.uid, "started_at": s.started_at.isoformat()}
                      for s in ev.scans],
        },
        "apply": report.options.apply,
        "select_passing": report.options.select_passing,
        "mappings": [
            {"question_id": q.id, "choice_id": m.choice.id, "title": m.choice.title,
             "practice": m.practice.id if m.practice else None,
             "legacy_practice": m.practice.legacy_id if m.practice else None,
             "source": m.source or None, "problem": m.problem}
            for q, m in report.mappings
        ],
        "questions": [_plan_dict(p) for p in report.plans],
        "written": list(report.written),
        "warnings": list(report.warnings),
    }


def _plan_dict(p: QuestionPlan) -> dict[str, Any]:
    return {
        "question_id": p.question_id,
        "pillar_id": p.pillar_id,
        "title": p.title,
        "skipped": p.skipped,
        "changed": p.params is not None,
        "selected_before": list(p.selected_before),
        "selected_after": list(p.selected_after),
        "notes_before": p.notes_before,
        "notes_after": p.notes_after,
        "notes_truncated": p.notes_truncated,
        "warning": p.warning,
        "choices": [
            {
                "choice_id": c.choice_id, "title": c.title, "practice": c.practice_id,
                "legacy_practice": c.legacy_id, "action": c.action, "warning": c.warning,
                "status_before": c.status_before, "status_after": c.status_after,
                "notes_before": c.notes_before, "notes_after": c.notes_after,
                "truncated": c.truncated, "passing": c.evidence.passing,
                "checks": [
                    {"check_id": e.check_id, "pass": e.passed, "fail": e.failed,
                     "unknown": e.unknown, "not_applicable": e.not_applicable,
                     "failing": [f.resource for f in e.failing]}
                    for e in c.evidence.checks
                ],
            }
            for c in p.choices
        ],
        "update_answer": None if p.params is None else dict(p.params),
    }
