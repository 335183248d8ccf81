"""A scan that does not keep its results (what the agent runs) drops each account's results
once they are written, keeps their counts, and stores exactly what a keeping scan stores."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import aioboto3
import pytest

from agent.aws.handle import Limits
from agent.emulator import Emulator
from agent.scan import ScanOutcome, ScanRequest, run_scan
from agent.store import Store
from checks import all_checks
from tests.estates import management_estate

pytestmark = pytest.mark.emulator

REGION = "us-east-1"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with management_estate(REGION) as e:
        yield e


def _scan(req: ScanRequest, db: Path) -> tuple[ScanOutcome, dict[str, object]]:
    with Store.open(f"sqlite:///{db}") as store:
        outcome = asyncio.run(run_scan(req, store, lambda: aioboto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing",
            region_name=REGION)))
        stored = {f.key: (f.status.value, f.reason) for f in store.findings()}
        summary = store.scan(outcome.scan_id).summary  # type: ignore[union-attr]
    return outcome, {"findings": stored, "summary": {
        k: summary[k] for k in ("by_pillar", "failed_by_severity", "status", "accounts")}}


def test_a_scan_that_keeps_no_results_stores_the_same(emu: Emulator, tmp_path: Path) -> None:
    req = ScanRequest(checks=all_checks(), regions=(REGION,), endpoint_url=emu.url,
                      limits=Limits(rates={}, default_rate=1000.0))
    kept, kept_store = _scan(req, tmp_path / "kept.db")
    dropped, dropped_store = _scan(replace(req, keep_results=False), tmp_path / "dropped.db")
    assert len(kept.results) == kept.result_count > 100
    assert dropped.results == [] and dropped.result_count == kept.result_count
    assert dropped_store == kept_store
