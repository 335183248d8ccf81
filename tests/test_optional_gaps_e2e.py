"""End to end against the emulator: a throttled Glue run history (an optional input of the
bookmark and timeout checks) flips no verdict. Between a clean scan, a throttled scan and a
clean scan, `store.diff` shows nothing new and nothing resolved."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aioboto3
import pytest

from agent.aws.handle import Limits
from agent.collectors import CollectOptions
from agent.domain import Status, utcnow
from agent.emulator import Emulator, FaultRule
from agent.scan import ScanRequest, run_scan
from agent.store import Store
from checks import all_checks

pytestmark = pytest.mark.emulator

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/GlueJobRole"
BOOKMARKS = "glue_job_bookmarks_disabled"
TIMEOUT = "glue_job_timeout_unset_or_excessive"


def _glue_estate(emu: Emulator) -> None:
    """Jobs whose bookmark and timeout verdicts hang on their run history."""
    glue = emu.client("glue", REGION)

    def job(name: str, timeout: int, bookmarks: str | None, command: str = "glueetl") -> None:
        args = {"--job-bookmark-option": bookmarks} if bookmarks else {}
        glue.create_job(Name=name, Role=ROLE, Timeout=timeout, DefaultArguments=args,
                        Command={"Name": command, "ScriptLocation": f"s3://etl/{name}.py",
                                 "PythonVersion": "3"},
                        GlueVersion="4.0", WorkerType="G.1X", NumberOfWorkers=2, MaxRetries=1)

    # Runs once a month: bookmarks N/A (not recurring); a 48-hour timeout on 10-minute runs.
    job("monthly-export", 2880, None)
    # Runs daily: bookmarks off FAIL; a 600-minute timeout on 10-minute runs FAILs.
    job("daily-features", 600, "job-bookmark-disable")
    # Runs daily for about 7 hours: a 1000-minute timeout is within 3 x p95, so PASS.
    job("nightly-backfill", 1000, "job-bookmark-enable")
    job("clicks-stream", 2880, None, command="gluestreaming")
    t = utcnow()
    emu.seed.add_glue_job_run("monthly-export", "SUCCEEDED", started_on=t - timedelta(days=3),
                              execution_time=600)
    for day in range(1, 6):
        emu.seed.add_glue_job_run("daily-features", "SUCCEEDED",
                                  started_on=t - timedelta(days=day), execution_time=600)
        emu.seed.add_glue_job_run("nightly-backfill", "SUCCEEDED",
                                  started_on=t - timedelta(days=day), execution_time=7 * 3600)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        e.reset()
        _glue_estate(e)
        yield e
        e.reset()


def _scan(emu: Emulator, store: Store, *, full: bool = False) -> Any:
    req = ScanRequest(checks=all_checks(), regions=(REGION,), endpoint_url=emu.url,
                      limits=Limits(max_attempts=1), collect=CollectOptions(full=full))
    return asyncio.run(run_scan(req, store, lambda: aioboto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)))


def _verdicts(scan: Any, check_id: str) -> dict[str, Status]:
    return {r.resource_arn.rsplit("/", 1)[-1]: r.status for r in scan.results
            if r.check_id == check_id}


@pytest.mark.parametrize("operation", ["ListJobs", "GetJobRuns"])
def test_throttled_run_history_flips_no_verdict(
    emu: Emulator, tmp_path: Path, operation: str
) -> None:
    """With the run history's listing (whole kind) or every job's GetJobRuns (each record)
    throttled, the verdicts that depend on it are UNKNOWN, the others stand, and neither the
    throttled scan nor the clean scan after it shows a finding as new or resolved."""
    with Store.open(f"sqlite:///{tmp_path / 'glue.db'}") as store:
        first = _scan(emu, store)
        assert first.status == "complete"
        assert _verdicts(first, BOOKMARKS) == {
            "monthly-export": Status.NOT_APPLICABLE, "daily-features": Status.FAIL,
            "nightly-backfill": Status.PASS, "clicks-stream": Status.NOT_APPLICABLE}
        assert _verdicts(first, TIMEOUT) == {
            "monthly-export": Status.FAIL, "daily-features": Status.FAIL,
            "nightly-backfill": Status.PASS, "clicks-stream": Status.NOT_APPLICABLE}
        fault = emu.faults.add(FaultRule(service="glue", operation=operation,
                                         code="ThrottlingException", message="Rate exceeded"))
        try:
            second = _scan(emu, store, full=True)  # else the kept histories are reused
        finally:
            emu.faults.clear()
        assert fault.hits > 0 and second.status == "partial"
        assert any(g.operation == operation for g in second.gaps)
        third = _scan(emu, store)
        assert third.status == "complete"
        for before, after in ((first, second), (second, third), (first, third)):
            changes = [(e.change, e.check_id, e.resource_arn)
                       for e in store.diff(before.scan_id, after.scan_id).entries
                       if e.change in ("new", "resolved")]
            assert changes == [], changes
        # Judged without history, monthly-export's bookmarks would FAIL (the user trial's
        # "new" finding); the streaming job needs no history.
        assert _verdicts(second, BOOKMARKS) == {
            "monthly-export": Status.UNKNOWN, "daily-features": Status.UNKNOWN,
            "nightly-backfill": Status.UNKNOWN, "clicks-stream": Status.NOT_APPLICABLE}
        assert _verdicts(second, TIMEOUT) == {
            "monthly-export": Status.UNKNOWN, "daily-features": Status.UNKNOWN,
            "nightly-backfill": Status.UNKNOWN, "clicks-stream": Status.NOT_APPLICABLE}
        unknown = [r for r in second.results
                   if r.check_id == BOOKMARKS and r.status is Status.UNKNOWN]
        assert all(f"glue:{operation} throttled" in r.reason for r in unknown)
