"""Sharded scans through the CLI: N processes scan one organisation into one PostgreSQL and
join one scan that equals an unsharded scan of the same organisation."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from agent.emulator import Emulator
from agent.emulator.org import (
    EXTERNAL_ID,
    MemberSpec,
    OrgEstate,
    production_estate,
    research_estate,
    seed_organization,
)
from agent.store import ScanStatus, Store
from agent.targets import shard_index

pytestmark = [pytest.mark.emulator, pytest.mark.postgres]

MEMBERS = tuple(
    MemberSpec(f"member-{i}", production_estate if i % 2 else research_estate,
               ou="Workloads" if i < 5 else "Research")
    for i in range(1, 10)
)


@pytest.fixture(scope="module")
def org() -> Iterator[tuple[Emulator, OrgEstate]]:
    with Emulator() as emu:
        emu.reset()
        estate = seed_organization(emu, MEMBERS, ("us-east-1",), management_estate=False)
        yield emu, estate
        emu.reset()


def env() -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLLENS_"))}
    base.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                AWS_DEFAULT_REGION="us-east-1", NO_COLOR="1", COLUMNS="200")
    return base


def scan_args(emu: Emulator, db: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "agent.cli.main", "scan", "--organization",
            "--role-name", "MLLensAudit", "--external-id", EXTERNAL_ID, "--endpoint-url",
            emu.url, "--db", db, "-r", "us-east-1", "--no-progress", "-z", "-o", "json",
            "--output", os.devnull, *extra]


def findings(db: str) -> set[tuple[str, str, str]]:
    with Store.open(db) as store:
        return {(f.key, f.status.value, f.severity) for f in store.findings()}


def test_three_shards_equal_one_unsharded_scan(
    org: tuple[Emulator, OrgEstate], new_pg_url: Callable[[], str]
) -> None:
    """Three concurrent `--shard K/3` processes split the nine members between them, join one
    scan (complete once the last finishes) and store exactly the findings one unsharded scan
    stores; a repeated shard of a finished run, or another shard count, is a usage error (2).
    (moto's account IDs are random, so a shard may get no account at all: that shard finishes
    complete with nothing to do.) The unsharded scan's summary masks its store's password."""
    emu, estate = org
    pg_url = new_pg_url()
    everyone = sorted([*estate.accounts.values(), estate.management])
    by_shard = {k: [a for a in everyone if shard_index(a, 3) == k] for k in (1, 2, 3)}
    procs = [subprocess.Popen(scan_args(emu, pg_url, "--shard", f"{k}/3", "--run-id", "r1"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env())
             for k in (1, 2, 3)]
    outs = [p.communicate(timeout=300) for p in procs]
    for k, p, (out, err) in zip((1, 2, 3), procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
        assert f"shard {k}/3 of scan" in out
    assert sum("all 3 shards have finished: the scan is complete" in out
               for out, _e in outs) == 1
    with Store.open(pg_url) as store:
        scans = store.latest_scans(10)
        assert len(scans) == 1
        scan = scans[0]
        assert scan.status is ScanStatus.COMPLETE and scan.shard_count == 3
        assert sorted(scan.scope["accounts"]) == everyone
        assert sorted(a for share in by_shard.values() for a in share) == everyone
        assert [s["status"] for s in store.shards(scan.id)] == ["complete"] * 3
        summaries = store.scan_summaries()
        assert [s.scan.id for s in summaries] == [scan.id]
    again = subprocess.run(scan_args(emu, pg_url, "--shard", "2/3", "--run-id", "r1"),
                           capture_output=True, text=True, env=env(), timeout=120)
    assert again.returncode == 2 and "already finished" in again.stderr
    assert "Traceback" not in again.stderr and "store:" not in again.stderr
    recount = subprocess.run(scan_args(emu, pg_url, "--shard", "1/4", "--run-id", "r1"),
                             capture_output=True, text=True, env=env(), timeout=120)
    assert recount.returncode == 2 and "was started as 3 shards, not 4" in recount.stderr
    assert "new run ID" in recount.stderr and "store:" not in recount.stderr

    # The same organisation unsharded, into a schema of its own; its URL carries a password
    # as a libpq query parameter, which the summary must not print (trust auth ignores it).
    single_url = f"{new_pg_url()}&password=QrySekr3t"
    single = subprocess.run(scan_args(emu, single_url), capture_output=True, text=True,
                            env=env(), timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    assert "password=***" in " ".join(single.stdout.split())
    assert "QrySekr3t" not in single.stdout + single.stderr
    sharded, unsharded = findings(pg_url), findings(single_url)
    assert sharded and sharded == unsharded
