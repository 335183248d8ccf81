"""`mllens coverage [SCAN]`: the accounts x regions x services matrix of what a scan could see.

Built from the coverage rows a scan writes (see `agent.scan`): per (account, region, kind) how
completely the kind was read, plus account-level rows (region "*", kind "account") and rows for
regions left out (kind "region"). Kinds fold into the service they are read from (a
collector's `service`, else its first action's): a cell is `scanned`, `failed` or `skipped`
when all its kinds were, and `partial` when some were read and some not, with a reason per kind
that was not, so a cell says truthfully how much of that service was seen in that place.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agent.cli.common import EXIT_USAGE, FORMAT_FLAGS, fail, make_console
from agent.cli.stores import ConfigOption, DbOption, open_reader
from agent.reports.tables import plain

ROW = tuple[str, str, str, str, str]  # account, region, kind, state, reason

_LABEL = {"complete": "scanned", "partial": "partial", "failed": "failed", "skipped": "skipped"}
_STYLE = {"scanned": "green", "partial": "yellow", "failed": "red", "skipped": "dim"}


def kind_services() -> dict[str, str]:
    """Inventory kind -> the service it is read from, from the collector wiring."""
    from agent.collectors import COLLECTORS
    from agent.scan import service_of

    return {k.value: c.service or service_of(c) for c in COLLECTORS for k in c.kinds}


def fold(states: Iterable[str]) -> str:
    """One state for several kinds' (or rows'): theirs when they agree, skipped ones left out
    beside others, and `partial` when some were read and some were not."""
    seen = set(states)
    real = seen - {"skipped"} or seen
    if not real:
        return "complete"
    if len(real) == 1:
        return next(iter(real))
    return "partial"


@dataclass
class Cell:
    states: set[str] = field(default_factory=set)
    reasons: set[str] = field(default_factory=set)

    def add(self, state: str, reason: str | None, kind: str | None = None) -> None:
        self.states.add(state)
        if reason and state != "complete":
            # A kind's reason names the kind: a partial cell says which of its kinds failed.
            self.reasons.add(f"{kind} {_LABEL.get(state, state)}: {reason}" if kind else reason)

    @property
    def state(self) -> str:
        return fold(self.states)

    @property
    def label(self) -> str:
        return _LABEL.get(self.state, self.state)


@dataclass
class Matrix:
    services: list[str]
    # account -> region -> service -> cell; account-level state under region "*".
    cells: dict[str, dict[str, dict[str, Cell]]]
    accounts: dict[str, Cell]

    def as_dicts(self, names: Mapping[str, str]) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for account in sorted(self.accounts):
            acct = self.accounts[account]
            regions = self.cells.get(account, {})
            if not regions:
                out.append({"account": account, "name": names.get(account, ""), "region": "*",
                            "service": "*", "state": acct.label,
                            "reasons": sorted(acct.reasons)})
            for region in sorted(regions):
                for service, cell in sorted(regions[region].items()):
                    out.append({"account": account, "name": names.get(account, ""),
                                "region": region, "service": service, "state": cell.label,
                                "reasons": sorted(cell.reasons)})
        return out


def build(rows: Iterable[ROW], services: Mapping[str, str] | None = None) -> Matrix:
    services = kind_services() if services is None else services
    cells: dict[str, dict[str, dict[str, Cell]]] = defaultdict(lambda: defaultdict(dict))
    accounts: dict[str, Cell] = {}
    region_skips: list[tuple[str, str, str]] = []
    for account, region, kind, state, reason in rows:
        if kind == "account":
            accounts.setdefault(account, Cell()).add(state, reason)
            continue
        accounts.setdefault(account, Cell())
        if kind == "regions":
            accounts[account].add(state, reason)
            continue
        if kind == "region":
            region_skips.append((account, region, reason))
            continue
        service = services.get(kind, kind)
        cells[account][region].setdefault(service, Cell()).add(state, reason, kind)
    names = sorted({s for regions in cells.values() for r in regions.values() for s in r}
                   or set(services.values()))
    for account, region, reason in region_skips:
        for service in names:
            cells[account][region].setdefault(service, Cell()).add("skipped", reason)
    return Matrix(names, {a: dict(r) for a, r in cells.items()}, accounts)


def table(m: Matrix, names: Mapping[str, str], title: str = "Coverage") -> Table:
    t = Table(title=title)
    t.add_column("Account", overflow="fold")
    t.add_column("Region")
    for s in m.services:
        t.add_column(s)
    for account in sorted(m.accounts):
        label = f"{account} {names.get(account, '')}".strip()
        regions = m.cells.get(account, {})
        acct = m.accounts[account]
        if not regions:
            style = _STYLE.get(acct.label, "")
            text = f"[{style}]{acct.label}[/]" if style else acct.label
            t.add_row(plain(label), "*", *([text] * len(m.services)))
            continue
        for region in sorted(regions):
            row = []
            for s in m.services:
                cell = regions[region].get(s)
                if cell is None:
                    row.append("")
                    continue
                row.append(f"[{_STYLE.get(cell.label, '')}]{cell.label}[/]")
            t.add_row(plain(label), plain(region), *row)
            label = ""
    return t


def reasons(m: Matrix, names: Mapping[str, str]) -> list[str]:
    """One line per place that was not fully scanned, saying why."""
    lines = []
    for account in sorted(m.accounts):
        who = f"{account} ({names[account]})" if names.get(account) else account
        acct = m.accounts[account]
        if acct.state != "complete":
            for r in sorted(acct.reasons) or [""]:
                lines.append(f"{who}: account {acct.label}{': ' + r if r else ''}")
        for region, services in sorted(m.cells.get(account, {}).items()):
            grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
            for service, cell in sorted(services.items()):
                for r in sorted(cell.reasons):
                    grouped[(cell.label, r)].append(service)
            for (label, r), svcs in sorted(grouped.items()):
                lines.append(f"{who} {region} {', '.join(svcs)}: {label}: {r}")
    return lines


def print_matrix(console: Console, rows: Sequence[ROW], names: Mapping[str, str],
                 title: str = "Coverage") -> None:
    m = build(rows)
    if not m.accounts:
        console.print("no coverage recorded")
        return
    console.print(table(m, names, title))
    for line in reasons(m, names):
        console.print(f"  {line}", highlight=False, markup=False)


def coverage(
    scan: Annotated[
        str | None, typer.Argument(help="Scan id or uid (prefix). Default: the latest scan.")
    ] = None,
    db: DbOption = None,
    config: ConfigOption = None,
    fmt: Annotated[str, typer.Option(*FORMAT_FLAGS, help="table or json.")] = "table",
) -> None:
    """Show which accounts, regions and services a scan covered, skipped or failed, and why."""
    if fmt not in ("table", "json"):
        fail(f"unknown format {fmt!r}; use table or json", EXIT_USAGE)
    from agent.store import StoreError

    store, _ = open_reader(db, config)
    try:
        with store:
            if scan is None:
                latest = store.latest_scans(1)
                if not latest:
                    fail("no scans in the store yet: run 'mllens scan' first")
                row = latest[0]
            else:
                found = store.scan(scan)
                if found is None:
                    fail(f"no scan {scan!r} in the store", EXIT_USAGE)
                row = found
            stored = store.coverage(row.id)
    except StoreError as exc:
        fail(str(exc))
    names = {str(k): str(v) for k, v in (row.scope.get("account_names") or {}).items()}
    rows = [(c.account_id, c.region, c.kind, c.state.value, c.reason or "") for c in stored]
    if fmt == "json":
        print(json.dumps({"scan": row.uid, "status": row.status.value,
                          "coverage": build(rows).as_dicts(names)}, indent=2))
        return
    console = make_console()
    console.print(f"scan {row.uid} ({row.status.value}), started "
                  f"{row.started_at:%Y-%m-%d %H:%M:%S} UTC", highlight=False)
    print_matrix(console, rows, names, title=f"Coverage of scan {row.id}")
