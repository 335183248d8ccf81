"""Shard flags that do not fit the stored run are usage errors: exit 2, one line that says what
to do, without the store's prefix."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.emulator.seed import seed_demo
from agent.emulator.server import Emulator

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def estate() -> Iterator[Emulator]:
    with Emulator() as emu:
        emu.reset()
        seed_demo(emu)
        yield emu


def shard_scan(
    emu: Emulator, db: Path, shard: str, run_id: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLLENS_"))}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", NO_COLOR="1", COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "agent.cli.main", "scan", "--endpoint-url", emu.url, "--db",
         str(db), "-r", "us-east-1", "--no-progress", "-z", "-o", "json", "--output",
         os.devnull, "--shard", shard, "--run-id", run_id],
        capture_output=True, text=True, env=env, timeout=300)


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_shard_of_a_finished_run_or_another_count_is_usage_error(
    estate: Emulator, tmp_path: Path
) -> None:
    """Scanning a shard of a run that finished, or with another shard count than the run was
    started with, exits 2 naming the run as given and suggesting a new run ID."""
    db = tmp_path / "m.db"
    first = shard_scan(estate, db, "1/1", "r1")
    assert first.returncode == 0, first.stderr[-2000:]
    again = shard_scan(estate, db, "1/1", "r1")
    line = one_line(again)
    assert again.returncode == 2
    assert line == "mllens: run 'r1' already finished (complete); give a new run ID"
    other = shard_scan(estate, db, "1/4", "r1")
    line = one_line(other)
    assert other.returncode == 2 and "store:" not in line
    assert line.startswith("mllens: run 'r1' was started as 1 shards, not 4; ")
    assert "new run ID" in line
    fresh = shard_scan(estate, db, "1/1", "r2")
    assert fresh.returncode == 0, fresh.stderr[-2000:]
