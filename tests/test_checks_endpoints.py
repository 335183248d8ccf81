"""Pure tests for endpoint lifecycle checks: hand-built inventories through the real runner."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from agent.domain import Kind, Resource, Severity, Status
from checks.endpoints import sagemaker_endpoint_no_auto_rollback as rollback
from checks.endpoints import sagemaker_endpoint_stuck_in_transition as stuck
from checks.endpoints import sagemaker_endpoint_unhealthy_status as unhealthy
from tests.factories import NOW, gap, inv, res, run, statuses
from tests.samples import sample


def test_unhealthy_status_each_state() -> None:
    """InService passes, Failed fails high, RollingBack fails medium, Creating is not applicable."""
    results = run(
        unhealthy,
        inv(
            res(Kind.ENDPOINTS, "ok", EndpointStatus="InService"),
            res(Kind.ENDPOINTS, "bad", EndpointStatus="Failed", FailureReason="boom"),
            res(Kind.ENDPOINTS, "back", EndpointStatus="RollingBack"),
            res(Kind.ENDPOINTS, "new", EndpointStatus="Creating"),
        ),
    )
    assert statuses(results) == {
        "ok": Status.PASS,
        "bad": Status.FAIL,
        "back": Status.FAIL,
        "new": Status.NOT_APPLICABLE,
    }
    sev = {r.resource_arn.rsplit("/", 1)[-1]: r.severity for r in results}
    assert sev["bad"] is Severity.HIGH and sev["back"] is Severity.MEDIUM


def test_unhealthy_status_unknown_when_listing_denied() -> None:
    """A denied ListEndpoints gives one region-level UNKNOWN, never PASS."""
    results = run(unhealthy, inv(gaps=[gap(Kind.ENDPOINTS)]))
    assert [r.status for r in results] == [Status.UNKNOWN]
    assert results[0].resource_kind == "region"


def test_unhealthy_status_unknown_when_describe_failed() -> None:
    """An endpoint whose describe failed is UNKNOWN, even if the list summary looks healthy."""
    results = run(
        unhealthy,
        inv(res(Kind.ENDPOINTS, "x", EndpointStatus="InService", incomplete="throttled")),
    )
    assert statuses(results) == {"x": Status.UNKNOWN}


# --- shared builders -------------------------------------------------------------------------

def _endpoint(name: str, status: str = "InService", config: str = "cfg", **data: Any) -> Resource:
    return res(Kind.ENDPOINTS, name, EndpointName=name, EndpointStatus=status,
               EndpointConfigName=config, **data)


def _config(name: str = "cfg", *variants: dict[str, Any], **data: Any) -> Resource:
    specs = list(variants) or [{"VariantName": "AllTraffic", "ModelName": "m",
                                "InstanceType": "ml.m5.xlarge", "InitialInstanceCount": 1}]
    return res(Kind.ENDPOINT_CONFIGS, name, EndpointConfigName=name,
               ProductionVariants=specs, **data)


# --- EP-02 sagemaker_endpoint_stuck_in_transition --------------------------------------------

def test_stuck_in_transition_creating_sample_for_years_fails() -> None:
    """The Creating sample, last modified in 2024, is far past any threshold at collection."""
    data = sample("sagemaker_describe_endpoint_creating")["response"]
    results = run(stuck, inv(res(Kind.ENDPOINTS, data["EndpointName"], **data),
                             _config("fraud-scorer-cfg-1")))
    assert statuses(results) == {"fraud-scorer": Status.FAIL}
    assert results[0].evidence["threshold_minutes"] == 60


def test_stuck_in_transition_recent_update_passes_settled_is_not_applicable() -> None:
    """Thirty minutes of Updating is in progress; an InService endpoint is out of scope."""
    results = run(stuck, inv(
        _endpoint("busy", "Updating", LastModifiedTime=NOW - timedelta(minutes=30)),
        _endpoint("calm", LastModifiedTime=NOW - timedelta(days=3)),
        _config(),
    ))
    assert statuses(results) == {"busy": Status.PASS, "calm": Status.NOT_APPLICABLE}


def test_stuck_in_transition_config_timeouts_extend_threshold() -> None:
    """Download plus health-check timeouts of 2 h and 15 min of slack allow 2 h 15 min."""
    slow = {"VariantName": "AllTraffic", "ModelName": "llm", "InstanceType": "ml.g5.12xlarge",
            "InitialInstanceCount": 1, "ModelDataDownloadTimeoutInSeconds": 3600,
            "ContainerStartupHealthCheckTimeoutInSeconds": 3600}
    results = run(stuck, inv(
        _endpoint("two-hours", "Updating", LastModifiedTime=NOW - timedelta(hours=2)),
        _endpoint("three-hours", "Updating", LastModifiedTime=NOW - timedelta(hours=3)),
        _config("cfg", slow),
    ))
    assert statuses(results) == {"two-hours": Status.PASS, "three-hours": Status.FAIL}
    assert {r.evidence["threshold_minutes"] for r in results} == {135}


def test_stuck_in_transition_system_update_and_variant_start() -> None:
    """SystemUpdating gets 240 min; an older variant status start counts over LastModified."""
    variants = [{"VariantName": "AllTraffic",
                 "VariantStatus": [{"Status": "Baking", "StartTime": NOW - timedelta(hours=2)}]}]
    results = run(stuck, inv(
        _endpoint("patching", "SystemUpdating", LastModifiedTime=NOW - timedelta(hours=3)),
        _endpoint("baking", "Updating", LastModifiedTime=NOW - timedelta(minutes=5),
                  ProductionVariants=variants),
        _config(),
    ))
    assert statuses(results) == {"patching": Status.PASS, "baking": Status.FAIL}


def test_stuck_in_transition_deleted_config_is_unknown_past_default() -> None:
    """Past the default threshold, a deleted config leaves the allowed duration unknown."""
    results = run(stuck, inv(
        _endpoint("ep", "Updating", config="gone", LastModifiedTime=NOW - timedelta(hours=2)),
        kinds=[Kind.ENDPOINT_CONFIGS],
    ))
    assert statuses(results) == {"ep": Status.UNKNOWN}
    assert "no longer exists" in results[0].reason


def test_stuck_in_transition_params_lower_threshold() -> None:
    """transition_timeout_minutes is honoured: 30 min of Deleting fails a 10-minute limit."""
    inventory = inv(_endpoint("ep", "Deleting", LastModifiedTime=NOW - timedelta(minutes=30)))
    assert statuses(run(stuck, inventory)) == {"ep": Status.PASS}
    assert statuses(run(stuck, inventory, transition_timeout_minutes=10)) == {"ep": Status.FAIL}


# --- EP-14 sagemaker_endpoint_no_auto_rollback -----------------------------------------------

_CREATED = NOW - timedelta(days=30)


def _updated(name: str, deployment: dict[str, Any] | None = None, **data: Any) -> Resource:
    extra = {"LastDeploymentConfig": deployment} if deployment is not None else {}
    return _endpoint(name, CreationTime=_CREATED, LastModifiedTime=NOW - timedelta(days=2),
                     **extra, **data)


def _guarded(*alarms: str) -> dict[str, Any]:
    return {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {"Type": "CANARY"}},
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": a} for a in alarms]}}


def test_no_auto_rollback_states() -> None:
    """Existing rollback alarms pass; no config, no alarms or a deleted alarm fail."""
    results = run(rollback, inv(
        _updated("guarded", _guarded("ep-5xx")),
        _updated("bare"),
        _updated("no-alarms", _guarded()),
        _updated("dangling", _guarded("ep-5xx", "deleted-alarm")),
        _endpoint("fresh", CreationTime=_CREATED, LastModifiedTime=_CREATED + timedelta(minutes=9)),
        _endpoint("down", "Failed"),
        _config(),
        res(Kind.ALARMS, "ep-5xx", AlarmType="MetricAlarm"),
    ))
    assert statuses(results) == {
        "guarded": Status.PASS, "bare": Status.FAIL, "no-alarms": Status.FAIL,
        "dangling": Status.FAIL, "fresh": Status.NOT_APPLICABLE, "down": Status.NOT_APPLICABLE,
    }
    by_name = {r.resource_arn.rsplit("/", 1)[1]: r for r in results}
    assert by_name["dangling"].severity is Severity.MEDIUM
    assert by_name["dangling"].evidence["deleted_alarms"] == ["deleted-alarm"]
    assert by_name["bare"].severity is Severity.LOW


def test_no_auto_rollback_inf1_and_deleted_config() -> None:
    """Inf1 cannot use guardrails (N/A); a deleted config leaves that unknown."""
    inf1 = {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.inf1.xlarge",
            "InitialInstanceCount": 2}
    results = run(rollback, inv(
        _updated("inferentia", config="inf-cfg"),
        _updated("orphan", config="gone"),
        _config("inf-cfg", inf1),
        kinds=[Kind.ALARMS],
    ))
    assert statuses(results) == {"inferentia": Status.NOT_APPLICABLE, "orphan": Status.UNKNOWN}


def test_no_auto_rollback_unknown_when_alarms_not_collected() -> None:
    """Denied DescribeAlarms makes every endpoint UNKNOWN rather than guessing."""
    results = run(rollback, inv(_updated("ep", _guarded("a")), _config(),
                                gaps=[gap(Kind.ALARMS)]))
    assert statuses(results) == {"ep": Status.UNKNOWN}
