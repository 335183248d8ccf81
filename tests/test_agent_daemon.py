"""The long-running agent through the real CLI: scheduled scans against the emulator, clean
shutdown on SIGTERM mid-scan, notifications once per batch of new findings, liveness, and two
agents on one PostgreSQL store that never scan at the same time."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.domain import Kind
from agent.emulator import Emulator, FaultRule
from agent.store import ScanRow, ScanStatus, Store
from checks import all_checks
from tests.estates import management_estate
from tests.test_notify_ledger import Hook

pytestmark = pytest.mark.emulator

REGION = "us-east-1"
# Endpoint, training job and notebook checks: three quick collectors, findings of every kind.
CHECKS = [c.id for c in all_checks() if set(c.needs) <= {
    Kind.ENDPOINTS, Kind.ENDPOINT_CONFIGS, Kind.TRAINING_JOBS, Kind.NOTEBOOK_INSTANCES}]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with management_estate(REGION) as e:
        yield e


def settings_file(tmp_path: Path, db: str, *, cron: str, extra: str = "") -> Path:
    path = tmp_path / f"mllens-{time.monotonic_ns()}.toml"
    path.write_text(
        f'[database]\nurl = "{db}"\n'
        f'[schedule]\ncron = "{cron}"\nlock_wait_s = 60\n'
        f'[targets]\nregions = ["{REGION}"]\n'
        f"[checks]\nenabled = {json.dumps(CHECKS)}\n"
        f"[limits]\nmax_attempts = 2\n"
        + extra
    )
    return path


def start_agent(emu: Emulator, config: Path, liveness: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLLENS_"))}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION=REGION, AWS_ENDPOINT_URL=emu.url, NO_COLOR="1",
               MLLENS_LOG_LEVEL="info")
    return subprocess.Popen(
        [sys.executable, "-m", "agent.cli.main", "--log-json", "agent", "--config", str(config),
         "--liveness-file", str(liveness), "--heartbeat", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finished(db: str) -> list[ScanRow]:
    with Store.open(db) as store:
        return [s for s in store.latest_scans(100) if s.status is not ScanStatus.RUNNING]


def wait_for(what: Callable[[], bool], timeout: float, procs: list[subprocess.Popen[str]]
             ) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        for p in procs:
            assert p.poll() is None, p.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def events(stderr: str) -> list[dict[str, Any]]:
    out = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def assert_no_overlap(scans: list[ScanRow]) -> None:
    ordered = sorted(scans, key=lambda s: s.started_at)
    for before, after in itertools.pairwise(ordered):
        assert before.finished_at is not None
        assert after.started_at >= before.finished_at, (before, after)


def topic_with_queue(emu: Emulator) -> tuple[str, str]:
    sns, sqs = emu.client("sns", REGION), emu.client("sqs", REGION)
    arn = sns.create_topic(Name="mllens-agent")["TopicArn"]
    queue = sqs.create_queue(QueueName="agent-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
    return arn, queue


def drain(emu: Emulator, queue: str) -> list[dict[str, Any]]:
    sqs = emu.client("sqs", REGION)
    out: list[dict[str, Any]] = []
    while msgs := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                      WaitTimeSeconds=0).get("Messages", []):
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    return out


def test_agent_scans_on_schedule_notifies_once_and_stops_on_sigterm(
    emu: Emulator, tmp_path: Path
) -> None:
    """Two scheduled scans run one after the other; the first one's new findings reach the SNS
    topic and the webhook once, the unchanged second sends nothing; SIGTERM during the third
    records it as interrupted and the agent exits 0, its liveness file saying it stopped."""
    db = f"sqlite:///{tmp_path / 'agent.db'}"
    arn, queue = topic_with_queue(emu)
    hook = Hook()
    liveness = tmp_path / "alive.json"
    config = settings_file(tmp_path, db, cron="*/3 * * * * *", extra=(
        f'[notifications]\nmin_severity = "low"\nsns_topic_arn = "{arn}"\n'
        f'webhook_url = "{hook.url}"\nretries = 1\n'))
    proc = start_agent(emu, config, liveness)
    try:
        wait_for(lambda: len(finished(db)) >= 2, 120, [proc])
        health = subprocess.run([sys.executable, "-m", "agent.cli.main", "health",
                                 "--liveness-file", str(liveness), "--max-age", "30"],
                                capture_output=True, text=True, timeout=60)
        assert health.returncode == 0, health.stdout + health.stderr
        slow = emu.faults.add(FaultRule(operation="ListTrainingJobs", delay=30.0, times=1))
        wait_for(lambda: slow.hits >= 1, 60, [proc])
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        emu.faults.clear()
        if proc.poll() is None:
            proc.kill()
        hook.close()
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err
    with Store.open(db) as store:
        scans = sorted(store.latest_scans(100), key=lambda s: s.id)
    assert scans[-1].status is ScanStatus.INTERRUPTED
    done = [s for s in scans if s.status is ScanStatus.COMPLETE]
    assert len(done) >= 2
    assert_no_overlap(scans)
    assert len(hook.bodies) == 1 and "new finding" in hook.bodies[0]["text"]
    messages = drain(emu, queue)
    assert len(messages) == 1
    assert json.loads(messages[0]["Message"])["scan"]["uid"] == done[0].uid
    names = [e["event"] for e in events(err)]
    assert names[0] == "agent_started" and names.count("scan_done") >= 2
    assert "scan_interrupted" in names and names[-1] == "agent_stopped"
    # A scan cancelled on shutdown is expected: nothing at error level (APScheduler included).
    assert not [e for e in events(err) if e.get("level") in ("error", "critical")]
    state = json.loads(liveness.read_text())
    assert state["state"] == "stopped" and state["runs"] >= 2
    after = subprocess.run([sys.executable, "-m", "agent.cli.main", "health",
                            "--liveness-file", str(liveness)],
                           capture_output=True, text=True, timeout=60)
    assert after.returncode == 1 and "stopped" in after.stdout


@pytest.mark.postgres
def test_two_agents_on_one_postgres_never_overlap(
    emu: Emulator, tmp_path: Path, pg_url: str
) -> None:
    """Two agents with the same settings on one PostgreSQL store: their scans never overlap in
    time, and the one that waited skips a run the other has just done."""
    config = settings_file(tmp_path, pg_url, cron="*/4 * * * * *")
    procs = [start_agent(emu, config, tmp_path / f"alive-{i}.json") for i in (1, 2)]
    try:
        wait_for(lambda: len(finished(pg_url)) >= 4, 150, procs)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        errs = [p.communicate(timeout=60)[1] for p in procs]
    for p, err in zip(procs, errs, strict=True):
        assert p.returncode == 0, err[-3000:]
    scans = finished(pg_url)
    assert len(scans) >= 4
    assert_no_overlap(scans)
    skipped = [e for err in errs for e in events(err) if e["event"] == "scan_skipped"]
    assert any("already scanned these targets" in e["reason"] for e in skipped), skipped
