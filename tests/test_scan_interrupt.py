"""Crash safety through the real CLI: a scan killed part-way (SIGTERM, SIGKILL) resolves nothing,
is recorded as interrupted, and the next clean scan counts nothing as fixed; `--wait` queues."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.domain import Kind
from agent.emulator import Emulator, FaultRule
from agent.emulator.org import (
    EXTERNAL_ID,
    MemberSpec,
    clients_for,
    production_estate,
    seed_organization,
)
from agent.store import FindingStatus, ScanStatus, Store
from agent.store.lock import StoreLock
from checks import all_checks

pytestmark = pytest.mark.emulator

SLOW = 20.0  # seconds the slowed call would take; the scan is killed long before
# Checks reading endpoints and training jobs only: two collectors keep each scan short.
CHECKS = ",".join(c.id for c in all_checks()
                  if set(c.needs) <= {Kind.ENDPOINTS, Kind.ENDPOINT_CONFIGS, Kind.TRAINING_JOBS})


@pytest.fixture(scope="module")
def org_emu() -> Iterator[tuple[Emulator, dict[str, str]]]:
    with Emulator() as emu:
        emu.reset()
        org = seed_organization(emu, (MemberSpec("prod-a", production_estate),
                                      MemberSpec("prod-b", production_estate)),
                                ("us-east-1",), management_estate=False)
        yield emu, org.accounts
        emu.reset()


def scan_args(emu: Emulator, db: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "agent.cli.main", "scan", "--organization",
            "--role-name", "MLLensAudit", "--external-id", EXTERNAL_ID,
            "--endpoint-url", emu.url, "--db", db, "-r", "us-east-1", "-o", "json",
            "--output", os.devnull, "--no-progress", "--max-attempts", "2", "--checks", CHECKS,
            *extra]


def env() -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLLENS_"))}
    base.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                AWS_DEFAULT_REGION="us-east-1", NO_COLOR="1", COLUMNS="200")
    return base


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=env(), timeout=180)


def start_and_kill(emu: Emulator, args: list[str], account: str, sig: int) -> tuple[int, str]:
    """Start a scan, wait until its slowed call is in flight, send `sig`."""
    fault = emu.faults.add(FaultRule(account=account, operation="ListTrainingJobs",
                                     delay=SLOW, times=1))
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env())
    deadline = time.monotonic() + 60
    while fault.hits == 0:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the slowed call never arrived"
        time.sleep(0.05)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    emu.faults.clear()
    emu.faults.strict_roles = True
    return proc.returncode, err


def test_killed_scans_resolve_nothing_and_are_marked(org_emu: tuple[Emulator, dict[str, str]],
                                                     tmp_path: Path) -> None:
    """SIGTERM: the scan exits 143 marked interrupted; SIGKILL: the next scan closes it as
    interrupted. Neither resolves a finding, and the clean scan after them opens and resolves
    nothing, because the estate did not change."""
    emu, accounts = org_emu
    db = f"sqlite:///{tmp_path / 'crash.db'}"
    first = run(scan_args(emu, db))
    assert first.returncode == 3, first.stderr[-2000:]
    with Store.open(db) as store:
        before = {f.key: f.status for f in store.findings()}
    assert FindingStatus.FAIL in before.values()

    code, err = start_and_kill(emu, scan_args(emu, db), accounts["prod-b"], signal.SIGTERM)
    assert code == 143, err[-2000:]
    assert "interrupted by SIGTERM" in err and "Traceback" not in err
    code, err = start_and_kill(emu, scan_args(emu, db), accounts["prod-a"], signal.SIGKILL)
    assert code == -signal.SIGKILL

    with Store.open(db) as store:
        running = [s for s in store.latest_scans(5) if s.status is ScanStatus.RUNNING]
        assert len(running) == 1  # the SIGKILLed one: nobody could close it
    last = run(scan_args(emu, db))
    assert last.returncode == 3, last.stderr[-2000:]
    assert "left running by a stopped process as interrupted" in last.stderr

    with Store.open(db) as store:
        scans = sorted(store.latest_scans(10), key=lambda s: s.id)
        assert [s.status for s in scans] == [ScanStatus.COMPLETE, ScanStatus.INTERRUPTED,
                                            ScanStatus.INTERRUPTED, ScanStatus.COMPLETE]
        killed = {scans[1].id, scans[2].id}
        after = store.findings()
        assert not [f for f in after if f.resolved_scan_id in killed]
        assert not [f for f in after if f.status is FindingStatus.GONE]
        assert {f.key: f.status for f in after} == before
        assert scans[3].summary["accounts"] == {"complete": 3}


def test_a_scan_killed_after_writing_an_account_changes_no_finding(
    org_emu: tuple[Emulator, dict[str, str]], tmp_path: Path
) -> None:
    """An account fully written by a scan that is then killed: the endpoint deleted there is
    not resolved by the killed scan (its changes are taken back); the next finished scan
    resolves it, and its summary counts the resolution."""
    emu, accounts = org_emu
    db = f"sqlite:///{tmp_path / 'partial-kill.db'}"
    assert run(scan_args(emu, db)).returncode == 3
    legacy = f"arn:aws:sagemaker:us-east-1:{accounts['prod-a']}:endpoint/forecast-legacy"
    with Store.open(db) as store:
        open_before = {f.key for f in store.findings() if f.resource_arn == legacy
                       and f.is_open}
    assert open_before
    sm = clients_for(emu, accounts["prod-a"], "us-east-1")["sagemaker"]
    sm.delete_endpoint(EndpointName="forecast-legacy")
    try:
        slow = emu.faults.add(FaultRule(account=accounts["prod-b"],
                                        operation="ListTrainingJobs", delay=SLOW, times=1))
        proc = subprocess.Popen(scan_args(emu, db), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env())
        deadline = time.monotonic() + 60

        def prod_a_written() -> bool:
            with Store.open(db) as store:
                running = [x for x in store.latest_scans(3) if x.status is ScanStatus.RUNNING]
                return bool(running) and any(c.account_id == accounts["prod-a"]
                                             for c in store.coverage(running[0].id))

        while slow.hits == 0 or not prod_a_written():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "prod-a was never written"
            time.sleep(0.1)
        with Store.open(db) as store:  # the write is visible while the scan runs
            assert {f.status for f in store.findings() if f.resource_arn == legacy} == {
                FindingStatus.GONE}
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        emu.faults.clear()
        emu.faults.strict_roles = True
        assert proc.returncode == 143
        with Store.open(db) as store:
            killed = store.latest_scans(1)[0]
            assert killed.status is ScanStatus.INTERRUPTED
            rows = [f for f in store.findings() if f.resource_arn == legacy]
            assert {f.key for f in rows if f.is_open} == open_before
            assert not [f for f in store.findings() if f.resolved_scan_id == killed.id]
        assert run(scan_args(emu, db)).returncode == 3
        with Store.open(db) as store:
            last = store.latest_scans(1)[0]
            rows = [f for f in store.findings() if f.resource_arn == legacy]
            assert {f.status for f in rows} == {FindingStatus.GONE}
            assert {f.resolved_scan_id for f in rows if f.key in open_before} == {last.id}
    finally:
        emu.faults.clear()
        emu.faults.strict_roles = True
        sm.create_endpoint(EndpointName="forecast-legacy", EndpointConfigName="forecast-cfg")


def test_scan_with_wait_runs_after_the_holder(org_emu: tuple[Emulator, dict[str, str]],
                                              tmp_path: Path) -> None:
    """`--wait` queues behind the lock holder and then scans normally."""
    emu, _accounts = org_emu
    db = f"sqlite:///{tmp_path / 'wait.db'}"
    with Store.open(db) as store:
        lock = StoreLock(store.engine)
        lock.acquire()
        proc = subprocess.Popen(scan_args(emu, db, "--wait"), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env())
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()
            assert "waiting for it to finish" in line, line
        finally:
            lock.release()
        _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err[-2000:]


def test_coverage_command_reads_the_matrix_back(org_emu: tuple[Emulator, dict[str, str]],
                                                tmp_path: Path) -> None:
    """`mllens coverage` shows the stored matrix of the latest scan, as a table and as JSON."""
    emu, accounts = org_emu
    db = f"sqlite:///{tmp_path / 'cov.db'}"
    emu.faults.disable_region(accounts["prod-a"], "eu-west-1")
    try:
        scanned = run(scan_args(emu, db, "-r", "eu-west-1"))
    finally:
        emu.faults.clear()
        emu.faults.strict_roles = True
    assert scanned.returncode == 3, scanned.stderr[-2000:]
    table = run([sys.executable, "-m", "agent.cli.main", "coverage", "--db", db])
    assert table.returncode == 0, table.stderr
    assert "prod-a" in table.stdout and "not enabled in this account" in table.stdout
    as_json = run([sys.executable, "-m", "agent.cli.main", "coverage", "--db", db, "-f", "json"])
    cells = json.loads(as_json.stdout)["coverage"]
    states = {(c["account"], c["region"], c["service"]): c["state"] for c in cells}
    assert states[(accounts["prod-a"], "eu-west-1", "sagemaker")] == "skipped"
    assert states[(accounts["prod-a"], "us-east-1", "sagemaker")] == "scanned"
    assert states[(accounts["prod-b"], "eu-west-1", "sagemaker")] == "scanned"


@pytest.mark.parametrize("args, words", [
    (["--organization"], "role name"),
    (["--ou", "ou-nope", "--role-name", "Audit"], "organizational unit"),
    (["--account", "12", "--role-name", "Audit"], "account ID"),
    (["--rate", "sagemaker=fast"], "--rate"),
    (["--session-name", "x"], "session name"),
])
def test_scan_bad_target_input_is_one_line(args: list[str], words: str, tmp_path: Path) -> None:
    """Malformed targets and rates are usage errors (exit 2) in one line, before any call."""
    proc = run([sys.executable, "-m", "agent.cli.main", "scan", "--db",
                str(tmp_path / "x.db"), *args])
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in proc.stderr
