"""Security Hub import: batches of 100 into moto's Security Hub, per region; partial and whole
batch failures reported per finding (botocore Stubber, as moto accepts every finding)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from agent.emulator.server import Emulator
from agent.reports import asff
from agent.reports.securityhub import import_findings
from tests.report_data import EP_UNHEALTHY, OTHER_REGION, REGION, arn, finding, report


def _findings(n: int, region: str = REGION) -> list[dict[str, Any]]:
    return asff.findings(report([
        replace(finding(EP_UNHEALTHY, "FAIL", arn("endpoint", f"ep-{i}", region)),
                region=region)
        for i in range(n)
    ]))


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu
        emu.reset()  # moto's state is process-wide


@pytest.mark.emulator
def test_import_sends_batches_of_100_per_region(emulator: Emulator) -> None:
    """250 findings in one region and 30 in another: batches of 100/100/50 and 30, all stored
    once, and a second import updates rather than duplicates."""
    emulator.reset()
    sizes: dict[str, list[int]] = {}

    def client_for(region: str) -> Any:
        c = emulator.client("securityhub", region)
        c.meta.events.register(
            "provide-client-params.securityhub.BatchImportFindings",
            lambda params, **_: sizes.setdefault(region, []).append(len(params["Findings"])),
        )
        return c

    payload = _findings(250) + _findings(30, OTHER_REGION)
    result = import_findings(payload, client_for)
    assert (result.sent, result.imported, result.failed, result.batches) == (280, 280, 0, 4)
    assert sizes == {REGION: [100, 100, 50], OTHER_REGION: [30]}
    again = import_findings(payload, client_for)
    assert again.imported == 280
    hub = emulator.client("securityhub", REGION)
    stored = [f for page in hub.get_paginator("get_findings").paginate() for f in page["Findings"]]
    assert len(stored) == 250
    assert {f["Id"] for f in stored} == {f["Id"] for f in payload[:250]}
    assert result.summary() == "Security Hub: imported 280 of 280 findings"


def _stubbed(responses: list[tuple[str, Any]]) -> tuple[Any, Stubber]:
    client = boto3.client("securityhub", region_name=REGION, aws_access_key_id="x",
                          aws_secret_access_key="x")
    stub = Stubber(client)
    for kind, value in responses:
        if kind == "ok":
            stub.add_response("batch_import_findings", value)
        else:
            stub.add_client_error("batch_import_findings", service_error_code=value,
                                  service_message=f"{value} says no", http_status_code=400)
    stub.activate()
    return client, stub


def test_import_reports_partial_failures_per_finding() -> None:
    """Findings the API rejects one by one are reported with their Id, code and message."""
    payload = _findings(120)
    rejected = [{"Id": payload[i]["Id"], "ErrorCode": "InvalidInput",
                 "ErrorMessage": "Finding too large"} for i in (3, 7)]
    client, stub = _stubbed([
        ("ok", {"FailedCount": 2, "SuccessCount": 98, "FailedFindings": rejected}),
        ("ok", {"FailedCount": 0, "SuccessCount": 20, "FailedFindings": []}),
    ])
    result = import_findings(payload, lambda region: client)
    stub.assert_no_pending_responses()
    assert (result.sent, result.imported, result.failed) == (120, 118, 2)
    assert [(f.finding_id, f.code) for f in result.failures] == [
        (payload[3]["Id"], "InvalidInput"), (payload[7]["Id"], "InvalidInput")]
    assert "imported 118 of 120 findings; 2 failed (2 InvalidInput)" in result.summary()


def test_import_whole_batch_error_fails_its_findings_and_goes_on() -> None:
    """A batch the API refuses counts each of its findings as failed; the next batch is sent."""
    payload = _findings(150)
    client, stub = _stubbed([
        ("error", "InvalidAccessException"),
        ("ok", {"FailedCount": 0, "SuccessCount": 50, "FailedFindings": []}),
    ])
    result = import_findings(payload, lambda region: client)
    stub.assert_no_pending_responses()
    assert (result.sent, result.imported, result.failed, result.batches) == (150, 50, 100, 2)
    assert {f.code for f in result.failures} == {"InvalidAccessException"}
    assert "InvalidAccessException says no" in result.failures[0].message


def test_import_without_a_client_fails_every_finding() -> None:
    """A region whose client cannot be built fails its findings, never raises."""
    def no_client(region: str) -> Any:
        raise EndpointConnectionError(endpoint_url=f"https://securityhub.{region}.example")

    result = import_findings(_findings(5), no_client)
    assert (result.sent, result.imported, result.failed) == (5, 0, 5)
    assert result.failures[0].code == "EndpointConnectionError"


def test_import_refuses_batch_sizes_over_the_api_limit() -> None:
    """BatchImportFindings takes at most 100 findings: a larger batch size is a bug."""
    with pytest.raises(ValueError, match=r"1\.\.100"):
        import_findings([], lambda r: None, batch_size=101)
