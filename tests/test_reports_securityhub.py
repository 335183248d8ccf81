"""Security Hub import: batches of 100 into moto's Security Hub, per region; partial and whole
batch failures reported per finding (botocore Stubber, as moto accepts every finding); muted
findings suppressed and unmuted ones reopened with BatchUpdateFindings (the emulator keeps a
finding's workflow and note across provider imports, as Security Hub does)."""

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
from tests.report_data import (
    EP_UNHEALTHY,
    GLUE_SECRETS,
    MUTE,
    OTHER_REGION,
    REGION,
    arn,
    finding,
    report,
)


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


def _stubbed(responses: list[tuple[str, Any]],
             operation: str = "batch_import_findings") -> tuple[Any, Stubber]:
    """A client answering `responses` in order: ("ok", answer) or ("error", code) for
    `operation`, (another operation, answer) or ("<operation>:error", code). The import ends
    by listing what mllens suppressed (GetFindings), answered empty unless given."""
    client = boto3.client("securityhub", region_name=REGION, aws_access_key_id="x",
                          aws_secret_access_key="x")
    stub = Stubber(client)
    for kind, value in responses:
        op, _, error = kind.partition(":")
        if kind in ("ok", "error"):
            op, error = operation, "error" if kind == "error" else ""
        if error:
            stub.add_client_error(op, service_error_code=value,
                                  service_message=f"{value} says no", http_status_code=400)
        else:
            stub.add_response(op, value)
    if not any(kind.startswith("get_findings") for kind, _ in responses):
        stub.add_response("get_findings", {"Findings": []})
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


def _hub(emulator: Emulator) -> dict[str, dict[str, Any]]:
    hub = emulator.client("securityhub", REGION)
    return {f["Resources"][0]["Id"].rsplit("/", 1)[-1]: f
            for page in hub.get_paginator("get_findings").paginate() for f in page["Findings"]}


@pytest.mark.emulator
def test_import_suppresses_muted_findings_and_reopens_unmuted_ones(emulator: Emulator) -> None:
    """A finding imported open and later muted becomes SUPPRESSED with the mute's note
    (a provider's import alone cannot change the workflow of an existing finding); when the
    mute ends it goes back to NEW; a suppression made by a person is left alone."""
    emulator.reset()
    names = ("legacy", "other", "by-hand")

    def payload(muted: set[str]) -> list[dict[str, Any]]:
        return asff.findings(report([
            finding(GLUE_SECRETS, "FAIL", arn("job", n), mute=MUTE if n in muted else None,
                    muted=n in muted)
            for n in names]))

    client_for = lambda region: emulator.client("securityhub", region)  # noqa: E731
    first = import_findings(payload(set()), client_for)
    assert (first.imported, first.suppressed, first.reopened) == (3, 0, 0)
    hub = emulator.client("securityhub", REGION)
    person = payload(set())[2]
    hub.batch_update_findings(
        FindingIdentifiers=[{"Id": person["Id"], "ProductArn": person["ProductArn"]}],
        Workflow={"Status": "SUPPRESSED"}, Note={"Text": "known", "UpdatedBy": "alice"})

    # What the provider sends is ignored for an existing finding's workflow...
    hub.batch_import_findings(Findings=payload({"legacy"}))
    assert _hub(emulator)["legacy"]["Workflow"]["Status"] == "NEW"
    # ...so the import sets it as a customer does.
    muted = import_findings(payload({"legacy"}), client_for)
    assert (muted.suppressed, muted.reopened, muted.update_failures) == (1, 0, [])
    assert muted.summary() == ("Security Hub: imported 3 of 3 findings; 1 muted set to "
                               "SUPPRESSED")
    stored = _hub(emulator)
    assert stored["legacy"]["Workflow"]["Status"] == "SUPPRESSED"
    assert stored["legacy"]["Note"]["UpdatedBy"] == "mllens"
    assert stored["legacy"]["Note"]["Text"].startswith("Muted by mllens: accepted risk; owner: ")
    assert stored["legacy"]["Compliance"]["Status"] == "FAILED"
    assert stored["legacy"]["RecordState"] == "ACTIVE"
    assert stored["other"]["Workflow"]["Status"] == "NEW"

    unmuted = import_findings(payload(set()), client_for)
    assert (unmuted.suppressed, unmuted.reopened) == (0, 1)
    stored = _hub(emulator)
    assert stored["legacy"]["Workflow"]["Status"] == "NEW"
    assert stored["legacy"]["Note"]["Text"].startswith("mllens: no longer muted")
    assert (stored["by-hand"]["Workflow"]["Status"], stored["by-hand"]["Note"]["UpdatedBy"]) == (
        "SUPPRESSED", "alice")
    emulator.reset()


def test_import_reports_workflow_updates_that_fail() -> None:
    """A muted finding Security Hub does not process, and a listing it refuses, are
    reported as failed workflow updates (the import itself succeeded)."""
    payload = asff.findings(report([
        finding(GLUE_SECRETS, "FAIL", arn("job", "legacy"), mute=MUTE, muted=True),
        finding(GLUE_SECRETS, "FAIL", arn("job", "open")),
    ]))
    ident = {"Id": payload[0]["Id"], "ProductArn": payload[0]["ProductArn"]}
    client, stub = _stubbed([
        ("ok", {"FailedCount": 0, "SuccessCount": 2, "FailedFindings": []}),
        ("batch_update_findings", {"ProcessedFindings": [], "UnprocessedFindings": [
            {"FindingIdentifier": ident, "ErrorCode": "FindingNotFound",
             "ErrorMessage": "Finding Not Found"}]}),
        ("get_findings:error", "AccessDeniedException"),
    ])
    result = import_findings(payload, lambda region: client)
    stub.assert_no_pending_responses()
    assert (result.imported, result.suppressed, result.reopened) == (2, 0, 0)
    assert [(f.finding_id, f.code) for f in result.update_failures] == [
        (payload[0]["Id"], "FindingNotFound"), ("", "AccessDeniedException")]
    assert "2 workflow updates failed (1 AccessDeniedException, 1 FindingNotFound)" in \
        result.summary()
