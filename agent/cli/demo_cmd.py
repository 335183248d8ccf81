"""`mllens demo`: the main job end to end against an embedded, seeded AWS emulator."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import aioboto3
import platformdirs
import typer

from agent.cli.common import EXIT_OK, FORMAT_FLAGS, err_console, fail, make_console, resolve_db
from agent.cli.scan_run import render, run_job
from agent.domain import Status
from agent.logs import configure
from agent.scan import ScanOutcome, ScanRequest
from agent.targets import TargetSpec
from checks import all_checks
from checks.options import EvaluationOptions


def quiet_unless_asked(ctx: typer.Context) -> None:
    """The demo's warnings (a denied API, a role it cannot assume) are the point of the demo
    and shown in its tables; as log lines too they would only bury them. An explicit
    --log-level or MLLENS_LOG_LEVEL still wins."""
    root = ctx.find_root()
    # By name: typer ships its own copy of click, whose ParameterSource is another enum.
    source = root.get_parameter_source("log_level")
    if source is not None and source.name == "DEFAULT":
        configure("error", json=root.params.get("log_json"))


def fresh_demo_store() -> str:
    """The demo's own SQLite file, emptied first: its fake accounts must not mix into the
    store real scans use, and a second run should show what the first showed."""
    path = Path(platformdirs.user_data_dir("mllens")) / "demo.db"
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            stale.unlink(missing_ok=True)
        except OSError as exc:
            fail(f"cannot reset the demo store {stale}: {exc.strerror}")
    return f"sqlite:///{path}"


def demo(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(help="Store URL or SQLite file path, kept as it is. Default: demo.db in "
                     "the user data directory, started afresh each run and never the store "
                     "real scans use."),
    ] = None,
    output_format: Annotated[
        str, typer.Option(*FORMAT_FLAGS, help="table, json or csv.")
    ] = "table",
) -> None:
    """Start an emulated AWS organisation, seed ML estates in its accounts and scan it
    through the audit role; change the estates and scan again (twice), then show the trend
    and what changed in the last scan."""
    quiet_unless_asked(ctx)
    try:
        from agent.emulator.churn import demo_steps
        from agent.emulator.org import demo_faults, seed_organization
        from agent.emulator.seed import DEMO_REGIONS
        from agent.emulator.seed_objectives import DEMO_OBJECTIVES
        from agent.emulator.server import Emulator
    except ImportError as exc:
        fail(f"the demo needs the emulator extra: pip install 'mllens[demo]' ({exc.name} "
             "is missing)")
    from agent.store import Store, StoreError

    url = resolve_db(db) if db else fresh_demo_store()
    try:
        store = Store.open(url)
    except StoreError as exc:
        fail(str(exc))
    with Emulator() as emu:
        err_console.print(f"emulated AWS at {emu.url}; seeding a demo organisation in "
                          f"{', '.join(DEMO_REGIONS)}", highlight=False)
        org = seed_organization(emu)
        demo_faults(emu, org)
        err_console.print(
            f"organisation: management {org.management}, members "
            + ", ".join(f"{n} {a}" for n, a in org.accounts.items())
            + f"; scanning through role {org.role_name}", highlight=False)

        def session() -> Any:
            # The emulator accepts any key; these never leave this machine.
            return aioboto3.Session(
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                region_name=DEMO_REGIONS[0],
            )

        req = ScanRequest(
            checks=all_checks(),
            targets=TargetSpec(organization=True, role_name=org.role_name,
                               external_id=org.external_id, regions=DEMO_REGIONS),
            endpoint_url=emu.url,
            # No settings file in the demo: its objectives are passed as a scan from
            # `scan_request(settings)` would pass those of [objectives].
            evaluation=EvaluationOptions(objectives=DEMO_OBJECTIVES),
        )
        steps = demo_steps(org)
        scans = len(steps) + 1
        outcome = run_job(req, store, show_progress=sys.stderr.isatty(),
                          session=session).outcome
        scanned(1, scans, outcome)
        for n, (change, apply_change) in enumerate(steps, start=2):
            err_console.print(f"changing the estate: {change}", highlight=False,
                              soft_wrap=True)
            apply_change(emu)
            outcome = run_job(req, store, show_progress=sys.stderr.isatty(),
                              session=session).outcome
            scanned(n, scans, outcome)
    render(outcome, output_format, None, set(), False, store_url=url)
    show_history(store, scans, output_format, url)
    raise typer.Exit(EXIT_OK)


def scanned(n: int, total: int, outcome: ScanOutcome) -> None:
    failed = sum(r.status is Status.FAIL for r in outcome.results)
    err_console.print(f"scan {n}/{total} ({outcome.status}): {len(outcome.results)} results, "
                      f"{failed} failed", highlight=False, soft_wrap=True)


def show_history(store: Any, scans: int, output_format: str, url: str) -> None:
    """The trend over the demo's scans and the diff of its last two, for people (on stderr
    when the findings went to stdout as JSON or CSV)."""

    from agent.cli import history_render

    console = err_console if output_format in ("json", "csv") else make_console()
    points = store.trends(by="pillar", per="scan", last=scans)
    console.print(history_render.trend_table(points, "pillar", "scan"))
    before, after = store.latest_finished(2)[::-1]
    history_render.diff(store.diff(before.id, after.id), "table", console)
    db = shlex.quote(url.removeprefix("sqlite:///"))
    console.print(f"explore the history: mllens scans --db {db}  (then trends --per scan, "
                  "diff, findings --as-of SCAN, coverage, report --format html, each with the "
                  "same --db)", highlight=False, soft_wrap=True, markup=False)
