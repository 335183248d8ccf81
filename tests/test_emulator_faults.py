"""Fault injection: errors botocore parses with the right code, scoped by call, and delays."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from agent.emulator import (
    Emulator,
    FaultRule,
    access_denied,
    expired_token,
    internal_failure,
    throttled,
)
from agent.emulator.faults import identify

pytestmark = pytest.mark.emulator

NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})
OTHER_ACCOUNT = "111122223333"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture(autouse=True)
def clean(emu: Emulator) -> Iterator[None]:
    emu.reset()
    yield


def code_of(call: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    return (exc.value.response["Error"]["Code"],
            exc.value.response["ResponseMetadata"]["HTTPStatusCode"])


def test_deny_one_operation_in_one_region(emu: Emulator) -> None:
    """A rule for ListEndpoints in us-east-1 denies only that call, counted once."""
    fault = emu.faults.add(access_denied(service="sagemaker", operation="ListEndpoints",
                                         region="us-east-1"))
    east = emu.client("sagemaker", config=NO_RETRIES)
    assert code_of(east.list_endpoints) == ("AccessDeniedException", 400)
    assert east.list_models()["Models"] == []
    assert emu.client("sagemaker", "eu-west-1").list_endpoints()["Endpoints"] == []
    assert fault.hits == 1


def test_throttle_the_first_two_calls(emu: Emulator) -> None:
    """`times=2` throttles two calls, then lets calls through; botocore's retries ride it out."""
    fault = emu.faults.add(throttled(operation="ListModels", times=2))
    sm = emu.client("sagemaker", config=NO_RETRIES)
    assert code_of(sm.list_models) == ("ThrottlingException", 400)
    assert code_of(sm.list_models) == ("ThrottlingException", 400)
    assert sm.list_models()["Models"] == []
    assert fault.hits == 2

    emu.faults.add(throttled(operation="ListModels", times=2))
    retrying = emu.client("sagemaker", config=Config(retries={"mode": "standard",
                                                              "max_attempts": 3}))
    resp = retrying.list_models()
    assert resp["ResponseMetadata"]["RetryAttempts"] == 2


def test_internal_failure_is_a_500(emu: Emulator) -> None:
    """An InternalFailure rule answers HTTP 500 with that code."""
    emu.faults.add(internal_failure(service="glue", operation="GetJobs"))
    glue = emu.client("glue", config=NO_RETRIES)
    assert code_of(glue.get_jobs) == ("InternalFailure", 500)


def test_query_protocol_error_parses_from_xml(emu: Emulator) -> None:
    """CloudWatch (query protocol, signed as `monitoring`) gets an XML error botocore parses."""
    fault = emu.faults.add(expired_token(service="cloudwatch", operation="DescribeAlarms"))
    cw = emu.client("cloudwatch", config=NO_RETRIES)
    with pytest.raises(ClientError) as exc:
        cw.describe_alarms()
    assert exc.value.response["Error"]["Code"] == "ExpiredTokenException"
    assert "expired" in exc.value.response["Error"]["Message"]
    cw.list_metrics()  # another CloudWatch action is untouched
    assert fault.hits == 1


def test_rule_scoped_to_an_account(emu: Emulator) -> None:
    """A rule for one account hits calls made with that account's assumed-role keys only."""
    fault = emu.faults.add(access_denied(account=OTHER_ACCOUNT))
    assert emu.client("sagemaker").list_endpoints()["Endpoints"] == []
    creds = emu.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/auditor", RoleSessionName="test"
    )["Credentials"]
    other = emu.client("sagemaker", config=NO_RETRIES, aws_access_key_id=creds["AccessKeyId"],
                       aws_secret_access_key=creds["SecretAccessKey"],
                       aws_session_token=creds["SessionToken"])
    assert code_of(other.list_endpoints) == ("AccessDeniedException", 400)
    assert fault.hits == 1


def test_delay_longer_than_the_read_timeout_times_out(emu: Emulator) -> None:
    """A delay rule makes a client with a shorter read timeout time out, once."""
    emu.faults.add(FaultRule(operation="ListEndpoints", delay=0.6, times=1))
    impatient = emu.client("sagemaker", config=Config(read_timeout=0.2,
                                                      retries={"total_max_attempts": 1}))
    with pytest.raises(ReadTimeoutError):
        impatient.list_endpoints()
    assert impatient.list_endpoints()["Endpoints"] == []


def test_first_matching_rule_wins_and_clear_removes_all(emu: Emulator) -> None:
    """Rules apply in order; clear() removes them and the call counts."""
    first = emu.faults.add(throttled(operation="ListModels"))
    second = emu.faults.add(access_denied(operation="ListModels"))
    sm = emu.client("sagemaker", config=NO_RETRIES)
    assert code_of(sm.list_models)[0] == "ThrottlingException"
    assert (first.hits, second.hits) == (1, 0)
    assert emu.faults.calls["sagemaker:ListModels"] == 1
    emu.faults.clear()
    assert sm.list_models()["Models"] == []
    assert emu.faults.active == () and emu.faults.calls == {"sagemaker:ListModels": 1}


def test_calls_are_counted_by_service_and_operation(emu: Emulator) -> None:
    """Every served call is counted under its client service name and operation."""
    emu.client("sagemaker").list_endpoints()
    emu.client("sagemaker").list_endpoints()
    emu.client("cloudwatch").describe_alarms()
    assert emu.faults.calls["sagemaker:ListEndpoints"] == 2
    assert emu.faults.calls["cloudwatch:DescribeAlarms"] == 1


def test_latency_slows_every_call() -> None:
    """Emulator(latency=...) adds that delay to each call."""
    with Emulator(latency=0.1) as slow:
        sm = slow.client("sagemaker")
        sm.list_endpoints()  # first call pays for client and backend set-up
        started = time.monotonic()
        for _ in range(3):
            sm.list_endpoints()
        assert time.monotonic() - started >= 0.3


def test_fault_rule_needs_an_error_or_a_delay() -> None:
    """A rule that neither fails nor delays, or with times < 1, is refused."""
    with pytest.raises(ValueError):
        FaultRule(operation="ListModels")
    with pytest.raises(ValueError):
        FaultRule(code="ThrottlingException", times=0)


def _environ(auth: str, **extra: Any) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": auth, "wsgi.input": io.BytesIO(b""), **extra}


def test_identify_reads_scope_target_and_form_action() -> None:
    """Service and region come from the credential scope, the operation from target or form."""
    auth = ("AWS4-HMAC-SHA256 Credential=testing/20260101/eu-west-1/sagemaker/aws4_request, "
            "SignedHeaders=host, Signature=abc")
    call = identify(_environ(auth, HTTP_X_AMZ_TARGET="SageMaker.ListEndpoints"))
    assert call is not None
    assert (call.service, call.region, call.operation, call.protocol) == (
        "sagemaker", "eu-west-1", "ListEndpoints", "json")
    assert call.account == "123456789012"

    body = b"Action=DescribeAlarms&Version=2010-08-01"
    environ = _environ(auth.replace("sagemaker", "monitoring"),
                       CONTENT_TYPE="application/x-www-form-urlencoded; charset=utf-8",
                       CONTENT_LENGTH=str(len(body)), **{"wsgi.input": io.BytesIO(body)})
    call = identify(environ)
    assert call is not None and (call.operation, call.protocol, call.key) == (
        "DescribeAlarms", "query", "cloudwatch:DescribeAlarms")
    assert environ["wsgi.input"].read() == body  # the body is left for moto to read
    assert identify(_environ("")) is None
