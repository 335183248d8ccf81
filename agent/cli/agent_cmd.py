"""`mllens agent` (the long-running scanner) and `mllens health` (its liveness probe)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated

import aioboto3
import typer
from botocore.exceptions import BotoCoreError

from agent.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    check_endpoint_url,
    err_console,
    fail,
    resolve_db,
)
from agent.cli.history_cmd import read_mute_file
from agent.config import ConfigError, load_settings, scan_request
from agent.daemon import HEARTBEAT_S, MAX_FAILURES, Agent, Schedule, read_liveness
from agent.job import AfterScan
from agent.mutes import MutingSink
from agent.redact import safe_url
from checks import all_checks

DEFAULT_LIVENESS = Path("/tmp/mllens-alive")  # what deploy/Dockerfile's health check reads


def agent(
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar="MLLENS_CONFIG",
                     help="TOML settings file; MLLENS_<SECTION>__<KEY> variables apply with or "
                     "without it. The schedule is [schedule].cron."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(help="Store URL, over [database].url. Default: $MLLENS_DB or mllens.db "
                     "in the user data directory."),
    ] = None,
    profile: Annotated[str | None, typer.Option(help="AWS named profile to use.")] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(envvar="AWS_ENDPOINT_URL",
                     help="Send every AWS call here (an emulator such as moto)."),
    ] = None,
    liveness_file: Annotated[
        Path | None,
        typer.Option(envvar="MLLENS_LIVENESS_FILE",
                     help="Rewritten at every heartbeat; `mllens health` reads its age. "
                     f"Default: none (the container image sets {DEFAULT_LIVENESS})."),
    ] = None,
    heartbeat: Annotated[
        float, typer.Option(min=0.1, help="Seconds between heartbeats.")
    ] = HEARTBEAT_S,
) -> None:
    """Run scans on the settings' cron schedule until SIGTERM or SIGINT.

    One scan at a time; missed runs coalesce into one (within schedule.misfire_grace_s);
    another agent on the same store makes this one wait (schedule.lock_wait_s) and skip the
    run when it has just scanned the same targets. On SIGTERM the running scan is recorded as
    interrupted and the agent exits 0.
    """
    try:
        settings = load_settings(config)
        req = scan_request(settings, all_checks(), profile=profile,
                           endpoint_url=check_endpoint_url(endpoint_url) if endpoint_url
                           else None)
    except ConfigError as exc:
        fail(exc.line(), EXIT_USAGE)
    try:
        aioboto3.Session(profile_name=profile)
    except BotoCoreError as exc:
        fail(f"AWS configuration: {exc}", EXIT_USAGE)
    mutes = read_mute_file(settings.mutes.path)
    if liveness_file is not None and not liveness_file.parent.is_dir():
        fail(f"--liveness-file: directory {liveness_file.parent} does not exist", EXIT_USAGE)

    from agent.store import Store, StoreError

    url = resolve_db(db if db is not None else settings.database.url)
    try:
        store = Store.open(url)
    except StoreError as exc:
        fail(str(exc))

    def session() -> aioboto3.Session:
        return aioboto3.Session(profile_name=profile)

    schedule = Schedule.from_settings(settings.schedule)
    daemon = Agent(
        req, store, schedule,
        session_factory=session,
        after=AfterScan.from_settings(settings, session, req.endpoint_url),
        sink=MutingSink(store, mutes) if mutes is not None else None,
        liveness=liveness_file,
        heartbeat_s=heartbeat,
    )
    err_console.print(
        f"mllens agent: {len(req.checks)} checks on {'; '.join(schedule.cron)} "
        f"({schedule.timezone}){', and now' if schedule.run_at_start else ''}; "
        f"store {safe_url(url)}; liveness {liveness_file or 'off'}",
        highlight=False, soft_wrap=True)
    try:
        asyncio.run(daemon.run())
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        pass
    finally:
        store.close()
    raise typer.Exit(EXIT_OK)


def health(
    liveness_file: Annotated[
        Path,
        typer.Option(envvar="MLLENS_LIVENESS_FILE", help="The agent's liveness file."),
    ] = DEFAULT_LIVENESS,
    max_age: Annotated[
        float, typer.Option(min=1, help="Unhealthy when the last heartbeat is older (seconds).")
    ] = 300,
    max_failures: Annotated[
        int, typer.Option(min=1, help="Unhealthy after this many failed runs in a row (runs "
                          "that errored, read nothing, or were skipped because the store or "
                          "AWS could not be used).")
    ] = MAX_FAILURES,
) -> None:
    """Exit 0 if the agent's heartbeat is recent and its recent runs did not all fail, 1
    otherwise (a container health check)."""
    healthy, line = read_liveness(liveness_file, max_age, time.time(), max_failures)
    print(line)
    raise typer.Exit(EXIT_OK if healthy else EXIT_ERROR)
