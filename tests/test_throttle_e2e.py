"""A scan against an emulator that throttles ListTrainingJobs at 2 calls a second: the scan
completes with no gap, its limiter learns the rate in a few retries, and the summary reports
the throttling it saw."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aioboto3
import pytest

from agent.aws.handle import Limits
from agent.aws.ratelimit import DEFAULT_RATES
from agent.emulator.bulk import BulkSpec, seed_bulk
from agent.emulator.faults import WsgiApp
from agent.emulator.ratelimit import Latency, PressureMiddleware, RateLimits
from agent.emulator.server import Emulator
from agent.scan import ScanRequest, run_scan
from agent.store import Store
from checks import all_checks

pytestmark = pytest.mark.emulator

REGION = "us-east-1"
JOBS = 1000  # ten pages of 100


@pytest.fixture(scope="module")
def throttling() -> Iterator[tuple[Emulator, dict[str, PressureMiddleware]]]:
    made: dict[str, PressureMiddleware] = {}

    def wrap(app: WsgiApp) -> WsgiApp:
        made["mw"] = PressureMiddleware(app, Latency(), RateLimits(
            {"sagemaker:ListTrainingJobs": 2.0}, {"sagemaker:ListTrainingJobs": 1.0}))
        return made["mw"]

    with Emulator(wrap=wrap) as emu:
        emu.reset()
        seed_bulk(BulkSpec.parse(f"training_jobs={JOBS}", ["123456789012"], [REGION]))
        yield emu, made
        emu.reset()


def test_throttled_listing_completes_without_a_gap(
    throttling: tuple[Emulator, dict[str, PressureMiddleware]], tmp_path: Path
) -> None:
    emu, made = throttling
    checks = tuple(c for c in all_checks() if c.id.startswith("sagemaker_training_"))
    # Default ceilings, but describes unpaced: the test is about the listing.
    limits = Limits(rates={**DEFAULT_RATES, "sagemaker:DescribeTrainingJob": 1000.0})
    req = ScanRequest(checks=checks, regions=(REGION,), endpoint_url=emu.url, limits=limits)
    with Store.open(f"sqlite:///{tmp_path / 't.db'}") as store:
        outcome = asyncio.run(run_scan(req, store, lambda: aioboto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing",
            region_name=REGION)))
        summary = store.scan(outcome.scan_id).summary  # type: ignore[union-attr]
    stats = made["mw"].stats()
    throttled = stats["throttled"].get("sagemaker:ListTrainingJobs", 0)
    assert outcome.status == "complete" and outcome.gaps == []
    assert outcome.calls_by_operation["sagemaker:DescribeTrainingJob"] == JOBS
    # Ten pages got through; the limiter was throttled, and learnt: a few retries, not one
    # per page, and each was counted in the summary.
    served = sum(n for key, n in stats["served"].items() if key.endswith(":ListTrainingJobs"))
    assert served == JOBS // 100
    assert 1 <= throttled <= 6, stats
    assert summary["throttled"] == {"sagemaker:ListTrainingJobs": throttled}
