"""End to end against the emulator: a scan that could not describe some resources resolves
nothing of theirs, and the next full scan reopens nothing ("missing data is never a fix")."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aioboto3
import pytest

from agent.aws.handle import Limits
from agent.collectors import CollectOptions
from agent.emulator import Emulator, FaultRule
from agent.emulator.org import MANAGEMENT, clients_for, production_estate
from agent.scan import ScanRequest, run_scan
from agent.store import Store
from checks import all_checks

pytestmark = pytest.mark.emulator

REGION = "us-east-1"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        e.reset()
        production_estate(e, clients_for(e, MANAGEMENT, REGION), MANAGEMENT, REGION)
        yield e
        e.reset()


def _scan(emu: Emulator, store: Store, *, full: bool = False) -> Any:
    req = ScanRequest(checks=all_checks(), regions=(REGION,), endpoint_url=emu.url,
                      limits=Limits(max_attempts=1), collect=CollectOptions(full=full))
    return asyncio.run(run_scan(req, store, lambda: aioboto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)))


@pytest.mark.parametrize(("operation", "code"), [
    ("DescribeEndpoint", "ThrottlingException"),
    ("DescribeEndpointConfig", "ThrottlingException"),
    ("DescribeAlarms", "AccessDenied"),
])
def test_unread_inputs_resolve_nothing_and_reopen_nothing(
    emu: Emulator, tmp_path: Path, operation: str, code: str
) -> None:
    """With every call of one operation throttled or denied, the scan is partial, resolves
    none of the findings it could not judge (per-variant ones included, which read as
    unverified), and the clean scan after it records nothing as new."""
    with Store.open(f"sqlite:///{tmp_path / 'gaps.db'}") as store:
        first = _scan(emu, store)
        assert first.status == "complete"
        variant_findings = [r for r in first.results if r.sub_resource and r.status.value == "FAIL"]
        assert variant_findings, "the estate should have failing per-variant findings"
        emu.faults.add(FaultRule(operation=operation, code=code, message="injected",
                                 status=403 if code == "AccessDenied" else 400))
        try:
            second = _scan(emu, store, full=True)  # else unchanged records are reused
        finally:
            emu.faults.clear()
        assert second.status == "partial" and second.gaps
        third = _scan(emu, store)
        assert third.status == "complete"
        d12, d23 = store.diff(first.scan_id, second.scan_id), store.diff(second.scan_id,
                                                                         third.scan_id)
        assert [e for e in d12.entries if e.change == "resolved"] == []
        assert [e for e in d23.entries if e.change == "new"] == []
        held = {(r.check_id, r.resource_arn, r.sub_resource) for r in variant_findings}
        unverified = {(f.check_id, f.resource_arn, f.sub_resource)
                      for f in store.findings(second.scan_id) if f.unknown_since_at}
        assert held & unverified, "the variants' findings read as unverified after the gap"
