"""Pure tests for endpoint storage encryption (EP-06), data capture (EP-07, EP-08) and captured
payload encryption (EP-09)."""

from __future__ import annotations

from typing import Any

from agent.domain import Kind, Resource, Severity, Status
from checks.endpoint_data import sagemaker_endpoint_config_kms_key_missing as kms_missing
from checks.endpoint_data import sagemaker_endpoint_data_capture_disabled as capture_disabled
from checks.endpoint_data import sagemaker_endpoint_data_capture_not_active as not_active
from checks.endpoint_data import sagemaker_endpoint_data_capture_unencrypted as unencrypted
from tests.factories import gap, inv, res, run, statuses
from tests.samples import sample

KEY = "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555"


def endpoint(name: str, status: str = "InService", *, config: str | None = None,
             **data: Any) -> Resource:
    data.setdefault("ProductionVariants", [{"VariantName": "AllTraffic",
                                            "CurrentInstanceCount": 1}])
    return res(Kind.ENDPOINTS, name, EndpointName=name, EndpointStatus=status,
               EndpointConfigName=config or f"{name}-cfg", **data)


def config(name: str, instance_type: str | None = "ml.m5.large", **data: Any) -> Resource:
    spec: dict[str, Any] = {"VariantName": "AllTraffic", "ModelName": "m",
                            "InitialInstanceCount": 1}
    if instance_type:
        spec["InstanceType"] = instance_type
    data.setdefault("ProductionVariants", [spec])
    return res(Kind.ENDPOINT_CONFIGS, name, EndpointConfigName=name, **data)


def samples() -> list[Resource]:
    ep = sample("sagemaker_describe_endpoint_inservice_multivariant")["response"]
    cfg = sample("sagemaker_describe_endpoint_config_provisioned_multivariant")["response"]
    return [res(Kind.ENDPOINTS, ep["EndpointName"], **ep),
            res(Kind.ENDPOINT_CONFIGS, cfg["EndpointConfigName"], **cfg)]


def serverless() -> list[Resource]:
    cfg = sample("sagemaker_describe_endpoint_config_serverless")["response"]
    ep = endpoint("docs", config=cfg["EndpointConfigName"], ProductionVariants=[
        {"VariantName": "AllTraffic", "CurrentServerlessConfig": {"MemorySizeInMB": 3072}}])
    return [ep, res(Kind.ENDPOINT_CONFIGS, cfg["EndpointConfigName"], **cfg)]


# --- EP-06 ------------------------------------------------------------------------------------

def test_kms_key_missing_sample_passes_and_bare_config_fails() -> None:
    """The sample config has a key; an EBS-backed config without one fails."""
    results = run(kms_missing, inv(*samples(), endpoint("bare"), config("bare-cfg")))
    assert statuses(results) == {"churn-realtime-ab-cfg-v7": Status.PASS,
                                 "bare-cfg": Status.FAIL}


def test_kms_key_missing_local_storage_and_serverless_not_applicable() -> None:
    """NVMe types (g5, m5d, g4dn) reject a KMS key; serverless has no volume."""
    results = run(kms_missing, inv(
        endpoint("gpu"), config("gpu-cfg", "ml.g5.2xlarge"),
        endpoint("dn"), config("dn-cfg", "ml.g4dn.xlarge"),
        endpoint("d"), config("d-cfg", "ml.m5d.large"),
        *serverless(),
    ))
    assert statuses(results) == {"gpu-cfg": Status.NOT_APPLICABLE,
                                 "dn-cfg": Status.NOT_APPLICABLE,
                                 "d-cfg": Status.NOT_APPLICABLE,
                                 "doc-classifier-sls-cfg": Status.NOT_APPLICABLE}


def test_kms_key_missing_allow_list_and_unknowns() -> None:
    """A key outside allowed_kms_key_arns fails; a deleted config and an odd type are UNKNOWN."""
    inventory = inv(*samples(), endpoint("orphan"), endpoint("odd"), config("odd-cfg", "weird"))
    results = run(kms_missing, inventory,
                  allowed_kms_key_arns=("arn:aws:kms:us-east-1:111122223333:key/other",))
    assert statuses(results) == {"churn-realtime-ab-cfg-v7": Status.FAIL,
                                 "orphan": Status.UNKNOWN, "odd-cfg": Status.UNKNOWN}
    allowed = run(kms_missing, inventory,
                  allowed_kms_key_arns=("11111111-2222-3333-4444-555555555555",))
    assert statuses(allowed)["churn-realtime-ab-cfg-v7"] is Status.PASS


def test_kms_key_missing_incomplete_config_unknown_not_deleted() -> None:
    """A config whose describe failed is UNKNOWN on the config, not reported as deleted."""
    results = run(kms_missing, inv(
        endpoint("ep"), res(Kind.ENDPOINT_CONFIGS, "ep-cfg", incomplete="access_denied")))
    assert statuses(results) == {"ep-cfg": Status.UNKNOWN}
    assert "access_denied" in results[0].reason


# --- EP-07 ------------------------------------------------------------------------------------

def test_capture_disabled_sample_passes_missing_capture_fails() -> None:
    """The sample captures Input and Output; an endpoint without DataCaptureConfig fails."""
    results = run(capture_disabled, inv(*samples(), endpoint("blind"), config("blind-cfg")))
    assert statuses(results) == {"Churn-Realtime-AB": Status.PASS, "blind": Status.FAIL}


def test_capture_disabled_input_only_is_low() -> None:
    """Capturing only requests fails low: model-quality monitoring needs the predictions."""
    results = run(capture_disabled, inv(
        endpoint("half", DataCaptureConfig={"EnableCapture": True, "CaptureStatus": "Started"}),
        config("half-cfg", DataCaptureConfig={"EnableCapture": True,
                                              "CaptureOptions": [{"CaptureMode": "Input"}]}),
    ))
    assert statuses(results) == {"half": Status.FAIL}
    assert results[0].severity is Severity.LOW


def test_capture_disabled_async_serverless_and_status_scope() -> None:
    """Async and serverless endpoints and non-InService ones are not applicable."""
    results = run(capture_disabled, inv(
        endpoint("queue", AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://b/o"}}),
        config("queue-cfg"),
        *serverless(),
        endpoint("new", "Creating"),
    ))
    assert statuses(results) == {"queue": Status.NOT_APPLICABLE, "docs": Status.NOT_APPLICABLE,
                                 "new": Status.NOT_APPLICABLE}


def test_capture_disabled_unknown_when_config_deleted_and_capture_on() -> None:
    """Capture on but the config listing its modes deleted: what is captured is unknown."""
    results = run(capture_disabled, inv(
        endpoint("ep", DataCaptureConfig={"EnableCapture": True, "CaptureStatus": "Started"}),
        kinds=[Kind.ENDPOINT_CONFIGS]))
    assert statuses(results) == {"ep": Status.UNKNOWN}


# --- EP-08 ------------------------------------------------------------------------------------

def _capture(status: str = "Started", pct: int = 20) -> dict[str, Any]:
    return {"EnableCapture": True, "CaptureStatus": status, "CurrentSamplingPercentage": pct}


def _schedule(name: str, endpoint_name: str, mtype: str) -> Resource:
    return res(Kind.MONITORING_SCHEDULES, name, MonitoringScheduleStatus="Scheduled",
               EndpointName=endpoint_name, MonitoringType=mtype)


def test_capture_not_active_states() -> None:
    """Stopped fails medium; thin sampling fails low only when a quality monitor exists."""
    results = run(not_active, inv(
        endpoint("running", DataCaptureConfig=_capture()),
        endpoint("stopped", DataCaptureConfig=_capture("Stopped")),
        endpoint("thin", DataCaptureConfig=_capture(pct=1)),
        endpoint("thin-dq-only", DataCaptureConfig=_capture(pct=1)),
        endpoint("off", DataCaptureConfig={"EnableCapture": False}),
        _schedule("thin-mq", "thin", "ModelQuality"),
        _schedule("thin-dq", "thin-dq-only", "DataQuality"),
    ))
    assert statuses(results) == {"running": Status.PASS, "stopped": Status.FAIL,
                                 "thin": Status.FAIL, "thin-dq-only": Status.PASS,
                                 "off": Status.NOT_APPLICABLE}
    sev = {r.resource_arn.rsplit("/", 1)[1]: r.severity for r in results}
    assert sev["stopped"] is Severity.MEDIUM and sev["thin"] is Severity.LOW


def test_capture_not_active_threshold_param_and_unknown() -> None:
    """min_sampling_pct is honoured; a missing CaptureStatus is UNKNOWN."""
    inventory = inv(endpoint("ep", DataCaptureConfig=_capture(pct=3)),
                    endpoint("vague", DataCaptureConfig={"EnableCapture": True}),
                    _schedule("bias", "ep", "ModelBias"))
    assert statuses(run(not_active, inventory)) == {"ep": Status.FAIL, "vague": Status.UNKNOWN}
    assert statuses(run(not_active, inventory, min_sampling_pct=2.0))["ep"] is Status.PASS


def test_capture_not_active_unknown_when_schedules_denied() -> None:
    """Without the schedule listing the check cannot run: UNKNOWN, not PASS."""
    results = run(not_active, inv(endpoint("ep", DataCaptureConfig=_capture()),
                                  gaps=[gap(Kind.MONITORING_SCHEDULES)]))
    assert statuses(results) == {"ep": Status.UNKNOWN}


# --- EP-09 ------------------------------------------------------------------------------------

def test_capture_unencrypted_states() -> None:
    """Sample capture with a key passes; capture without a key fails; no capture is N/A."""
    results = run(unencrypted, inv(
        *samples(),
        endpoint("plain"), config("plain-cfg", DataCaptureConfig={"EnableCapture": True}),
        endpoint("none"), config("none-cfg"),
    ))
    assert statuses(results) == {"churn-realtime-ab-cfg-v7": Status.PASS,
                                 "plain-cfg": Status.FAIL, "none-cfg": Status.NOT_APPLICABLE}


def test_capture_unencrypted_async_output_key() -> None:
    """Async output without a key fails; with a key it passes."""
    results = run(unencrypted, inv(
        endpoint("q1"), config("q1-cfg", AsyncInferenceConfig={"OutputConfig": {}}),
        endpoint("q2"), config("q2-cfg", AsyncInferenceConfig={"OutputConfig": {"KmsKeyId": KEY}}),
    ))
    assert statuses(results) == {"q1-cfg": Status.FAIL, "q2-cfg": Status.PASS}
    assert "AsyncInferenceConfig.OutputConfig.KmsKeyId" in results[0].reason


def test_capture_unencrypted_deleted_config_unknown() -> None:
    """An endpoint whose config was deleted is UNKNOWN with that reason."""
    results = run(unencrypted, inv(endpoint("ep"), kinds=[Kind.ENDPOINT_CONFIGS]))
    assert statuses(results) == {"ep": Status.UNKNOWN}
    assert "deleted" in results[0].reason
