"""`mllens demo`: the main job end to end against an embedded, seeded AWS emulator."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import aioboto3
import typer

from agent.cli.common import EXIT_OK, err_console, fail, resolve_db
from agent.cli.scan_cmd import exclusive, execute, render
from agent.scan import ScanRequest
from agent.targets import TargetSpec
from checks import all_checks


def demo(
    db: Annotated[
        str | None,
        typer.Option(help="Store URL or SQLite file path. Default: the user data directory's "
                     "mllens.db, as for 'mllens scan'."),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--output-format", "-o", help="table, json or csv.")
    ] = "table",
) -> None:
    """Start an emulated AWS organisation, seed ML estates in its accounts and scan it
    through the audit role."""
    try:
        from agent.emulator.org import demo_faults, seed_organization
        from agent.emulator.seed import DEMO_REGIONS
        from agent.emulator.server import Emulator
    except ImportError as exc:
        fail(f"the demo needs the emulator extra: pip install 'mllens[demo]' ({exc.name} "
             "is missing)")
    from agent.store import Store, StoreError

    url = resolve_db(db)
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
        )
        with exclusive(store, wait=False):
            outcome = execute(req, store, show_progress=sys.stderr.isatty(), session=session)
    render(outcome, output_format, None, set(), False, store_url=url)
    raise typer.Exit(EXIT_OK)
