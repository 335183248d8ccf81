"""`mllens findings`, `trends`, `diff` and `scans`: the findings history, read from the store.

Every command reads (never creates) the store `mllens scan` writes: --db, else the settings'
database.url (--config, MLLENS_DATABASE__URL), else $MLLENS_DB (see `agent.cli.stores`); it
prints tables for people or JSON/CSV for machines on stdout, and explains an empty store,
an unknown scan or an unreachable database in one line on stderr.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from agent.cli import history_render as out
from agent.cli.common import (
    EXIT_FAILED_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    FORMAT_FLAGS,
    STATUS_WORDS,
    err_console,
    fail,
    split_names,
)
from agent.cli.stores import ConfigOption, DbOption, open_reader
from agent.domain import Pillar, Result, Severity, Status
from agent.mutes import MuteFileError, MuteSet, MutingSink, load_mutes

if TYPE_CHECKING:
    from agent.store import ScanRow, Store

FORMATS = ("table", "json", "csv")
_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

Format = Annotated[str, typer.Option(*FORMAT_FLAGS, help="table, json or csv.")]
Accounts = Annotated[list[str] | None, typer.Option("--account", help="Only these accounts.")]
Regions = Annotated[list[str] | None, typer.Option("--region", "-r", help="Only these regions.")]
Checks = Annotated[list[str] | None, typer.Option("--check", "-c", help="Only these check IDs.")]
Pillars = Annotated[list[str] | None, typer.Option("--pillar", help="Only these pillars.")]
Severities = Annotated[
    list[str] | None, typer.Option("--severity", help="Only these severities.")
]
ResourceOpt = Annotated[
    str | None,
    typer.Option("--resource", help="ARN substring, or a glob over the whole ARN (with * ? [)."),
]


# -- mllens findings ---------------------------------------------------------------------------


def findings(
    status: Annotated[
        list[str] | None,
        typer.Option("--status", "-s", help="open (FAIL, the default), pass, na, unknown, gone, "
                     "or all; repeat or comma-separate."),
    ] = None,
    severity: Severities = None,
    pillar: Pillars = None,
    check: Checks = None,
    account: Accounts = None,
    region: Regions = None,
    resource: ResourceOpt = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only findings first seen or reopened since then: an ISO date or "
                     "time, or a duration back from now (7d, 12h, 2w)."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="The state after this scan (id or uid) or at this ISO "
                     "time, instead of now."),
    ] = None,
    muted: Annotated[bool, typer.Option("--muted", help="Only muted findings.")] = False,
    hide_muted: Annotated[bool, typer.Option("--hide-muted", help="Leave muted out.")] = False,
    db: DbOption = None,
    config: ConfigOption = None,
    output_format: Format = "table",
) -> None:
    """List findings from the store: open ones by default, now or as of a past scan or time."""
    check_format(output_format)
    if muted and hide_muted:
        fail("--muted and --hide-muted exclude each other", EXIT_USAGE)
    from agent.store import FindingFilter, StoreError

    where = FindingFilter.of(
        status=parse_statuses(status),
        severity=parse_choices(severity, Severity, "severity"),
        pillar=parse_choices(pillar, Pillar, "pillar"),
        account_id=split_names(account) or None,
        region=split_names(region) or None,
        resource=resource,
        since=parse_since(since, "--since") if since else None,
        muted=True if muted else (False if hide_muted else None),
    )
    with open_reader(db, config)[0] as store:
        try:
            if nothing_finished(store, output_format, out.FINDING_FIELDS):
                return None
            where = replace(where, check_id=known_check_ids(store, check))
            scan, at = resolve_as_of(store, as_of) if as_of is not None else (None, None)
            rows = store.findings(scan.id if scan and at is None else None, where=where, at=at)
        except StoreError as exc:
            fail(str(exc))
        out.findings(rows, output_format, scan, at)


# -- mllens trends -----------------------------------------------------------------------------


def trends(
    by: Annotated[
        str, typer.Option("--by", help="Group by pillar, check, account, region or severity.")
    ] = "pillar",
    per: Annotated[str, typer.Option("--per", help="Buckets: day or scan.")] = "day",
    last: Annotated[
        int | None,
        typer.Option(min=1, help="The last N buckets (default 14 days or 10 scans)."),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="From this ISO date/time or duration back (30d).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Up to this ISO date/time.")] = None,
    pillar: Pillars = None,
    check: Checks = None,
    account: Accounts = None,
    region: Regions = None,
    resource: ResourceOpt = None,
    db: DbOption = None,
    config: ConfigOption = None,
    output_format: Format = "table",
) -> None:
    """Open and muted findings, new, resolved and mean time to resolve, over days or scans."""
    check_format(output_format)
    groups = ("pillar", "check", "account", "region", "severity")
    if by not in groups:
        fail(f"unknown --by {by!r}; use one of: {', '.join(groups)}", EXIT_USAGE)
    if per not in ("day", "scan"):
        fail(f"unknown --per {per!r}; use day or scan", EXIT_USAGE)
    start = parse_since(since, "--since") if since else None
    end = parse_since(until, "--until", end_of_day=True) if until else None
    if last is None and start is None and end is None:
        last = 14 if per == "day" else 10
    from agent.store import FindingFilter, StoreError

    where = FindingFilter.of(
        pillar=parse_choices(pillar, Pillar, "pillar"),
        account_id=split_names(account) or None,
        region=split_names(region) or None,
        resource=resource,
    )
    with open_reader(db, config)[0] as store:
        try:
            if nothing_finished(store, output_format, out.TREND_FIELDS):
                return None
            where = replace(where, check_id=known_check_ids(store, check))
            points = store.trends(by=by, per=per, since=start, until=end, last=last,
                                  where=where)
        except StoreError as exc:
            fail(str(exc))
        out.trends(points, output_format, by, per)


# -- mllens diff -------------------------------------------------------------------------------


def diff(
    scan_a: Annotated[
        str | None, typer.Argument(help="The earlier scan (id, uid or ISO time). Default: the "
                                   "second-latest complete or partial scan.")
    ] = None,
    scan_b: Annotated[
        str | None, typer.Argument(help="The later scan. Default: the latest complete or "
                                   "partial scan.")
    ] = None,
    severity: Severities = None,
    pillar: Pillars = None,
    check: Checks = None,
    account: Accounts = None,
    region: Regions = None,
    resource: ResourceOpt = None,
    fail_on_new: Annotated[
        bool, typer.Option("--fail-on-new", help="Exit 3 when a finding is new (for CI).")
    ] = False,
    db: DbOption = None,
    config: ConfigOption = None,
    output_format: Format = "table",
) -> None:
    """Findings new, resolved and changed between two scans (default: the last two)."""
    check_format(output_format)
    from agent.store import FindingFilter, StoreError

    where = FindingFilter.of(
        severity=parse_choices(severity, Severity, "severity"),
        pillar=parse_choices(pillar, Pillar, "pillar"),
        account_id=split_names(account) or None,
        region=split_names(region) or None,
        resource=resource,
    )
    with open_reader(db, config)[0] as store:
        where = replace(where, check_id=known_check_ids(store, check))
        a, b = pick_pair(store, scan_a, scan_b)
        try:
            result = store.diff(a.id, b.id, where)
        except StoreError as exc:
            fail(str(exc))
        out.diff(result, output_format)
    if fail_on_new and result.of("new"):
        raise typer.Exit(EXIT_FAILED_FINDINGS)


def pick_pair(store: Store, a: str | None, b: str | None) -> tuple[ScanRow, ScanRow]:
    """The two scans to compare: as given, else the latest complete or partial ones."""
    if a is not None and b is not None:
        return scan_named(store, a), scan_named(store, b)
    from agent.store import StoreError

    try:
        done = store.latest_finished(2)
    except StoreError as exc:
        fail(str(exc))
    if a is not None:
        if not done:
            fail("no complete or partial scan to compare with; give both scans")
        return scan_named(store, a), done[0]
    if len(done) < 2:
        fail(f"diff needs two complete or partial scans; the store at {where_is(store)} "
             f"holds {len(done)}: run 'mllens scan' again, or name the scans")
    return done[1], done[0]


# -- mllens scans ------------------------------------------------------------------------------


def scans(
    limit: Annotated[int, typer.Option(min=1, help="How many of the latest scans.")] = 20,
    db: DbOption = None,
    config: ConfigOption = None,
    output_format: Format = "table",
) -> None:
    """List the latest scans with status, coverage, gaps and what each opened and resolved."""
    check_format(output_format)
    from agent.store import StoreError

    with open_reader(db, config)[0] as store:
        try:
            rows = store.scan_summaries(limit)
        except StoreError as exc:
            fail(str(exc))
        if not rows:
            return empty_store(store, output_format, out.SCAN_FIELDS)
        out.scans(rows, output_format)


# -- shared ------------------------------------------------------------------------------------


def scan_named(store: Store, ref: str) -> ScanRow:
    """The scan `ref` names (id, uid, uid prefix or ISO time), or a one-line error: a usage
    error (2) when no scan matches, 1 when the database fails."""
    from agent.store import StoreError, UnknownScan

    try:
        return store.resolve_scan(ref)
    except UnknownScan as exc:
        fail(str(exc), EXIT_USAGE)
    except StoreError as exc:
        fail(str(exc))


def where_is(store: Store) -> str:
    from agent.store.engine import where

    return where(store.engine)


def empty_store(store: Store, output_format: str, fields: Sequence[str]) -> None:
    err_console.print(f"the store at {where_is(store)} holds no scans yet: run 'mllens scan' "
                      "first", highlight=False, soft_wrap=True)
    out.empty(output_format, fields)


def nothing_finished(store: Store, output_format: str, fields: Sequence[str]) -> bool:
    """Say so (and print an empty result) when no scan has finished complete or partial: an
    empty answer then means "not known", never "nothing open"."""
    if store.latest_finished(1):
        return False
    latest = store.latest_scans(1)
    if not latest:
        empty_store(store, output_format, fields)
        return True
    s = latest[0]
    err_console.print(f"the store at {where_is(store)} holds no complete or partial scan yet "
                      f"(the latest, {s.id}, is {s.status.value}): nothing is known",
                      highlight=False, soft_wrap=True)
    out.empty(output_format, fields)
    return True


def known_check_ids(store: Store, values: Iterable[str] | None) -> frozenset[str] | None:
    """The check IDs of a filter, each in the catalog or in the store (a check retired since
    it was stored is still asked about); an unknown one is a usage error."""
    ids = split_names(values)
    if not ids:
        return None
    from checks import by_id

    catalog = by_id()
    unknown = [c for c in ids if c not in catalog]
    if unknown:
        stored = store.check_ids()
        unknown = [c for c in unknown if c not in stored]
    if unknown:
        fail(f"unknown check {', '.join(repr(u) for u in unknown)}; run 'mllens checks list' "
             "for the catalog", EXIT_USAGE)
    return frozenset(ids)


def resolve_as_of(store: Store, ref: str) -> tuple[ScanRow | None, datetime | None]:
    """A scan reference means that scan; a time means that time (and the scan before it). A
    time before the first finished scan is an error: nothing was known then."""
    from agent.store import parse_time

    when = parse_time(ref, end_of_day=True)
    if when is not None:
        scan_named(store, ref)  # fails when no finished scan started by then
        return None, when
    return scan_named(store, ref), None


def check_format(output_format: str) -> None:
    if output_format not in FORMATS:
        fail(f"unknown output format {output_format!r}; use table, json or csv", EXIT_USAGE)


def parse_statuses(values: Iterable[str] | None) -> set[str] | None:
    words = [v.lower() for v in split_names(values)] or ["open"]
    if "all" in words:
        return None
    bad = [w for w in words if w not in STATUS_WORDS]
    if bad:
        fail(f"unknown status {bad[0]!r}; use open, pass, na, unknown, gone or all", EXIT_USAGE)
    return {STATUS_WORDS[w] for w in words}


def parse_choices(values: Iterable[str] | None, enum: Any, name: str) -> set[str] | None:
    out_values = set()
    for v in split_names(values):
        value = v.lower().replace("-", "_").replace(" ", "_")
        try:
            out_values.add(enum(value).value)
        except ValueError:
            usage(f"unknown {name} {v!r}; use one of: {', '.join(e.value for e in enum)}")
    return out_values or None


def parse_since(text: str, option: str, *, end_of_day: bool = False) -> datetime:
    from agent.store import parse_time

    m = _DURATION.match(text.strip().lower())
    if m:
        return datetime.now(UTC) - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    when = parse_time(text, end_of_day=end_of_day)
    if when is None:
        usage(f"invalid {option} {text!r}: use an ISO date or time (2026-12-01, "
              "2026-12-01T10:00Z) or a duration (7d, 12h, 2w)")
    return when


def usage(message: str) -> NoReturn:
    fail(message, EXIT_USAGE)


# -- mllens scan --mute-file -------------------------------------------------------------------


def read_mute_file(path: Path | None) -> MuteSet | None:
    """The scan's mute rules, or a one-line usage error naming the problem."""
    if path is None:
        return None
    from checks import all_checks

    try:
        mutes = load_mutes(path, known_checks=[c.id for c in all_checks()])
    except MuteFileError as exc:
        fail(str(exc), EXIT_USAGE)
    now = datetime.now(UTC)
    for rule in mutes.expired(now):
        assert rule.expires is not None
        err_console.print(f"mllens: note: a mute in {path} expired on "
                          f"{rule.expires:%Y-%m-%d} and no longer applies ({rule.reason})",
                          highlight=False, soft_wrap=True)
    return mutes


def report_mutes(results: Sequence[Result], sink: MutingSink, code: int) -> int:
    """Say what the mute file muted; failed findings that are all muted do not fail the run."""
    failed = {r.key for r in results if r.status is Status.FAIL}
    muted = failed & sink.muted_keys
    if muted:
        err_console.print(f"{len(muted)} of {len(failed)} failed findings are muted by "
                          f"{sink.mutes.source} (list them: mllens findings --muted)",
                          highlight=False, soft_wrap=True)
    if code == EXIT_FAILED_FINDINGS and failed and failed <= muted:
        return EXIT_OK
    return code


__all__ = ["diff", "findings", "read_mute_file", "report_mutes", "scans", "trends"]
