"""Checks on the data SageMaker endpoints hold and capture: storage encryption, data capture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from agent.domain import Inventory, Kind, Severity
from checks._helpers import (
    all_serverless,
    configs_in_use,
    endpoint_config,
    has_local_storage,
    is_async,
    items,
    key_allowed,
    mapping,
    monitoring_type,
    schedules_by_endpoint,
    variants,
)
from checks.base import PERCENT, Verdict, check, failed, not_applicable, passed, unknown


@check(
    title="SageMaker endpoint config does not encrypt ML storage volumes with a KMS key",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=("MLSEC03-BP02", "MLSEC02-BP01"),
    # ENDPOINTS first: configs are reached through the endpoints using them (configs_in_use).
    needs=(Kind.ENDPOINTS, Kind.ENDPOINT_CONFIGS),
    remediation=(
        "Create a new endpoint config with KmsKeyId set to a customer managed KMS key (the "
        "endpoint's execution role needs kms:CreateGrant and kms:Decrypt on it) and update the "
        "endpoint to that config; endpoint configs cannot be changed in place."
    ),
)
def sagemaker_endpoint_config_kms_key_missing(
    inv: Inventory, *, allowed_kms_key_arns: tuple[str, ...] = ()
) -> Iterator[Verdict]:
    """PASS when the endpoint config sets KmsKeyId for its ML storage volumes (and the key is in
    `allowed_kms_key_arns` when that list is not empty). FAIL when no key is set, or the key is
    not allowed. NOT_APPLICABLE for serverless-only configs (no ML storage volumes) and for
    configs using an instance type with NVMe instance storage: those volumes are encrypted in
    hardware and SageMaker rejects a KmsKeyId for them. UNKNOWN when an instance type cannot be
    classified, for configs that could not be described, and for endpoints whose config was
    deleted.

    Model artifacts and temporary data sit on these volumes; a key you control lets you audit
    and revoke access to them, as the lens asks for a secured modelling environment.
    """
    for subject, config, problem in configs_in_use(inv):
        if config is None:
            yield unknown(subject, problem or "endpoint config unreadable")
            continue
        specs = [*items(config.get("ProductionVariants")),
                 *items(config.get("ShadowProductionVariants"))]
        instance_types = [s.get("InstanceType") for s in specs if not s.get("ServerlessConfig")]
        key = config.get("KmsKeyId")
        evidence: dict[str, Any] = {"KmsKeyId": key, "instance_types": instance_types}
        if not specs:
            yield unknown(config, "the endpoint config lists no variants", **evidence)
            continue
        if not instance_types:
            yield not_applicable(config, "serverless variants have no ML storage volume",
                                 **evidence)
            continue
        local = [has_local_storage(t) for t in instance_types]
        if any(local):
            yield not_applicable(config, "an instance type has NVMe instance storage, which is "
                                 "hardware-encrypted and cannot take a KMS key", **evidence)
        elif None in local:
            yield unknown(config, "an instance type cannot be classified for local storage",
                          **evidence)
        elif not key:
            yield failed(config, "no KMS key encrypts the ML storage volumes", **evidence)
        elif not key_allowed(key, allowed_kms_key_arns):
            yield failed(config, "the KMS key is not in the allowed list", **evidence)
        else:
            yield passed(config, "ML storage volumes are encrypted with a KMS key", **evidence)


@check(
    title="SageMaker endpoint does not capture inference data",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=("MLOPS06-BP02", "MLPERF06-BP03", "MLPERF06-BP04"),
    needs=(Kind.ENDPOINTS, Kind.ENDPOINT_CONFIGS),
    remediation=(
        "Create an endpoint config with DataCaptureConfig (EnableCapture true, CaptureOptions "
        "Input and Output, an S3 destination and a KMS key) and update the endpoint to it."
    ),
)
def sagemaker_endpoint_data_capture_disabled(inv: Inventory) -> Iterator[Verdict]:
    """PASS when an InService real-time endpoint captures both requests and responses. FAIL
    (medium) when data capture is not configured or not enabled; FAIL (low) when it captures
    only Input or only Output (model-quality monitoring needs the predictions). NOT_APPLICABLE
    for endpoints not InService, asynchronous endpoints (their outputs already land in S3) and
    serverless endpoints (data capture is not offered for them). UNKNOWN when capture is on
    but the config listing what it captures cannot be read.

    Without captured traffic there is no evidence of what the model saw and answered, and no
    drift or quality monitoring: the lens asks for model observability.
    """
    for ep in inv.of(Kind.ENDPOINTS):
        status = ep.get("EndpointStatus")
        if status != "InService":
            yield not_applicable(ep, f"endpoint is {status or 'in an unreported state'}")
            continue
        lookup = endpoint_config(inv, ep)
        if is_async(ep, lookup.config):
            yield not_applicable(ep, "asynchronous endpoints write their outputs to S3")
            continue
        if all_serverless(variants(ep, lookup.config)):
            yield not_applicable(ep, "serverless endpoints do not support data capture")
            continue
        capture = ep.get("DataCaptureConfig")
        enabled = mapping(capture).get("EnableCapture")
        evidence: dict[str, Any] = {"EnableCapture": enabled,
                                    "CaptureStatus": mapping(capture).get("CaptureStatus")}
        if capture is None or enabled is False:
            yield failed(ep, "data capture is not enabled", **evidence)
            continue
        if enabled is not True:
            yield unknown(ep, "data capture state is not reported", **evidence)
            continue
        if lookup.config is None:
            yield unknown(ep, f"cannot read what is captured: {lookup.problem}", **evidence)
            continue
        modes = {
            o.get("CaptureMode")
            for o in items(mapping(lookup.config.get("DataCaptureConfig")).get("CaptureOptions"))
        }
        evidence["CaptureModes"] = sorted(m for m in modes if m)
        if {"Input", "Output"} <= modes:
            yield passed(ep, "requests and responses are captured", **evidence)
        else:
            yield failed(ep, "data capture does not record both requests and responses",
                         severity=Severity.LOW, **evidence)


@check(
    title="SageMaker endpoint data capture is stopped or samples too little",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=("MLOPS06-BP02", "MLPERF06-BP03"),
    needs=(Kind.ENDPOINTS, Kind.MONITORING_SCHEDULES),
    remediation=(
        "Update the endpoint to an endpoint config whose DataCaptureConfig enables capture, so "
        "capture restarts with the deployment, and raise InitialSamplingPercentage so quality "
        "and bias monitors get enough records to join with ground truth."
    ),
)
def sagemaker_endpoint_data_capture_not_active(
    inv: Inventory, *, min_sampling_pct: Annotated[float, PERCENT] = 5.0
) -> Iterator[Verdict]:
    """For InService endpoints with data capture enabled: PASS when CaptureStatus is Started
    and, if a ModelQuality or ModelBias schedule (Scheduled or Pending) watches the endpoint,
    CurrentSamplingPercentage is at least `min_sampling_pct`. FAIL (medium) when capture is
    Stopped; FAIL (low) when sampling is below the threshold while such a schedule exists.
    NOT_APPLICABLE when capture is not enabled (sagemaker_endpoint_data_capture_disabled
    reports that) or the endpoint is not InService (capture stops transiently in updates).
    UNKNOWN when the capture status or sampling percentage is not reported.

    Enabled-but-stopped capture looks configured while recording nothing; a thin sample starves
    the quality monitors of ground-truth matches.
    """
    watchers = schedules_by_endpoint(inv.of(Kind.MONITORING_SCHEDULES))
    for ep in inv.of(Kind.ENDPOINTS):
        status = ep.get("EndpointStatus")
        capture = mapping(ep.get("DataCaptureConfig"))
        if status != "InService":
            yield not_applicable(ep, f"endpoint is {status or 'in an unreported state'}")
            continue
        if capture.get("EnableCapture") is not True:
            yield not_applicable(ep, "data capture is not enabled")
            continue
        capture_status = capture.get("CaptureStatus")
        sampling = capture.get("CurrentSamplingPercentage")
        quality = sorted(
            s.name for s in watchers.get(ep.name.lower(), ())
            if monitoring_type(s) in ("ModelQuality", "ModelBias")
            and s.get("MonitoringScheduleStatus") in ("Scheduled", "Pending")
        )
        evidence: dict[str, Any] = {
            "CaptureStatus": capture_status,
            "CurrentSamplingPercentage": sampling,
            "quality_schedules": quality,
        }
        if capture_status == "Stopped":
            yield failed(ep, "data capture is enabled but stopped", **evidence)
        elif capture_status != "Started":
            yield unknown(ep, "data capture status is not reported", **evidence)
        elif quality and not isinstance(sampling, int | float):
            yield unknown(ep, "sampling percentage is not reported", **evidence)
        elif quality and isinstance(sampling, int | float) and sampling < min_sampling_pct:
            yield failed(ep, f"only {sampling}% of traffic is captured for quality/bias "
                         f"monitoring (minimum {min_sampling_pct}%)", severity=Severity.LOW,
                         **evidence)
        else:
            yield passed(ep, "data capture is running", **evidence)


@check(
    title="SageMaker endpoint captured or async payloads are not encrypted with a KMS key",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=("MLSEC03-BP02", "MLSEC03-BP03", "MLSEC02-BP01"),
    # ENDPOINTS first: configs are reached through the endpoints using them (configs_in_use).
    needs=(Kind.ENDPOINTS, Kind.ENDPOINT_CONFIGS),
    remediation=(
        "Create a new endpoint config that sets DataCaptureConfig.KmsKeyId (and, for "
        "asynchronous endpoints, AsyncInferenceConfig.OutputConfig.KmsKeyId) to a customer "
        "managed KMS key, then update the endpoint to it."
    ),
)
def sagemaker_endpoint_data_capture_unencrypted(
    inv: Inventory, *, allowed_kms_key_arns: tuple[str, ...] = ()
) -> Iterator[Verdict]:
    """PASS when every payload the endpoint config writes to S3 (captured requests/responses
    when capture is enabled, asynchronous outputs when AsyncInferenceConfig is set) is
    encrypted with a KMS key, in `allowed_kms_key_arns` when that list is not empty. FAIL when
    a key is missing or not allowed. NOT_APPLICABLE when the config neither captures nor writes
    async outputs. UNKNOWN for configs that could not be described and for endpoints whose
    config was deleted. The S3
    bucket's default encryption is not read, so an SSE-KMS bucket still fails here.

    Captured payloads often contain personal data; a key you control keeps them auditable and
    revocable, as the lens asks for protecting sensitive data.
    """
    for subject, config, problem in configs_in_use(inv):
        if config is None:
            yield unknown(subject, problem or "endpoint config unreadable")
            continue
        capture = mapping(config.get("DataCaptureConfig"))
        output = mapping(mapping(config.get("AsyncInferenceConfig")).get("OutputConfig"))
        written: dict[str, Any] = {}
        if capture.get("EnableCapture") is True:
            written["DataCaptureConfig.KmsKeyId"] = capture.get("KmsKeyId")
        if config.get("AsyncInferenceConfig"):
            written["AsyncInferenceConfig.OutputConfig.KmsKeyId"] = output.get("KmsKeyId")
        if not written:
            yield not_applicable(config, "the config neither captures data nor writes async "
                                 "outputs", EnableCapture=capture.get("EnableCapture"))
            continue
        missing = [field for field, key in written.items() if not key]
        refused = [field for field, key in written.items()
                   if key and not key_allowed(key, allowed_kms_key_arns)]
        if missing:
            yield failed(config, f"no KMS key for {', '.join(missing)}", **written)
        elif refused:
            yield failed(config, f"KMS key not in the allowed list for {', '.join(refused)}",
                         **written)
        else:
            yield passed(config, "captured and async payloads are encrypted with a KMS key",
                         **written)


CHECKS = (
    sagemaker_endpoint_config_kms_key_missing,
    sagemaker_endpoint_data_capture_disabled,
    sagemaker_endpoint_data_capture_not_active,
    sagemaker_endpoint_data_capture_unencrypted,
)
