"""Checks on Model Monitor job definitions: baseline, network isolation, encryption.

Every check reads the definition through `checks._helpers.monitor_job`, which understands both
the inline `MonitoringJobDefinition` and the named `Describe<Type>JobDefinition` answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agent.domain import Inventory, Kind, Severity
from checks._helpers import has_local_storage, key_allowed, monitor_job, monitoring_type
from checks.base import Verdict, check, failed, passed, unknown

_NO_DEFINITION = "neither an inline nor a named job definition was collected"


@check(
    title="Model Monitor schedule has no baseline",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=("MLPERF04-BP04", "MLPERF06-BP03"),
    needs=(Kind.MONITORING_SCHEDULES,),
    remediation=(
        "Run a baselining job on the training dataset (suggest_baseline in the SageMaker SDK) "
        "and recreate the job definition with its constraints.json and statistics.json."
    ),
)
def model_monitor_no_baseline(inv: Inventory) -> Iterator[Verdict]:
    """PASS when the schedule's job definition names a baseline: a ConstraintsResource URI or a
    BaseliningJobName. FAIL when it names neither: without a reference distribution the
    monitor cannot judge drift. Severity medium for DataQuality and ModelQuality, low for
    ModelBias and ModelExplainability. UNKNOWN when the job definition was not collected.
    Bring-your-own-container monitors that embed their baseline are not recognised.
    """
    for s in inv.of(Kind.MONITORING_SCHEDULES):
        job = monitor_job(s)
        if job is None:
            yield unknown(s, _NO_DEFINITION)
            continue
        constraints = (job.baseline.get("ConstraintsResource") or {}).get("S3Uri")
        baselining_job = job.baseline.get("BaseliningJobName")
        mtype = monitoring_type(s)
        evidence: dict[str, Any] = {
            "MonitoringType": mtype, "named_definition": job.named,
            "ConstraintsResource": constraints, "BaseliningJobName": baselining_job}
        if constraints or baselining_job:
            yield passed(s, "the monitor compares against a baseline", **evidence)
        else:
            severity = (Severity.LOW if mtype in ("ModelBias", "ModelExplainability")
                        else Severity.MEDIUM)
            yield failed(s, "the monitor has no baseline constraints to compare against",
                         severity=severity, **evidence)


@check(
    title="Model Monitor job runs without network isolation",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=("MLSEC03-BP02", "MLSEC04-BP01"),
    needs=(Kind.MONITORING_SCHEDULES,),
    remediation=(
        "Recreate the job definition (or the schedule's inline definition) with "
        "NetworkConfig.EnableNetworkIsolation true; custom monitor containers that call AWS "
        "APIs at run time must be changed first, as isolation removes their network access."
    ),
)
def model_monitor_network_isolation_disabled(inv: Inventory) -> Iterator[Verdict]:
    """PASS when the job definition sets NetworkConfig.EnableNetworkIsolation true. FAIL when it
    is false or absent from a definition that was read (isolation is off unless asked for; same
    rule as Security Hub SageMaker.14). Severity high for ModelQuality and ModelExplainability
    monitors (as Security Hub rates them), medium otherwise. UNKNOWN when the job definition
    was not collected.

    Monitoring containers read captured production payloads; isolation stops them from sending
    that data anywhere.
    """
    for s in inv.of(Kind.MONITORING_SCHEDULES):
        job = monitor_job(s)
        if job is None:
            yield unknown(s, _NO_DEFINITION)
            continue
        isolated = (job.network or {}).get("EnableNetworkIsolation")
        mtype = monitoring_type(s)
        evidence: dict[str, Any] = {"MonitoringType": mtype, "named_definition": job.named,
                                    "EnableNetworkIsolation": isolated}
        if isolated is True:
            yield passed(s, "the monitoring job is network isolated", **evidence)
        else:
            severity = (Severity.HIGH if mtype in ("ModelQuality", "ModelExplainability")
                        else Severity.MEDIUM)
            yield failed(s, "the monitoring job is not network isolated", severity=severity,
                         **evidence)


@check(
    title="Model Monitor job does not encrypt traffic between its instances",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=("MLSEC04-BP02",),
    needs=(Kind.MONITORING_SCHEDULES,),
    remediation=(
        "Recreate the job definition with NetworkConfig.EnableInterContainerTrafficEncryption "
        "true (the setting cannot be changed on an existing definition)."
    ),
)
def model_monitor_intercontainer_encryption_disabled(inv: Inventory) -> Iterator[Verdict]:
    """PASS when the job definition sets EnableInterContainerTrafficEncryption true. FAIL when
    it is false or absent: medium when the cluster has two or more instances (or its size is
    not reported), low with a single instance, where no traffic crosses instances today but
    would as soon as the cluster grows. UNKNOWN when the job definition was not collected.

    Distributed monitoring jobs exchange captured data between instances; the lens asks for
    encrypted inter-node communication.
    """
    for s in inv.of(Kind.MONITORING_SCHEDULES):
        job = monitor_job(s)
        if job is None:
            yield unknown(s, _NO_DEFINITION)
            continue
        encrypted = (job.network or {}).get("EnableInterContainerTrafficEncryption")
        count = job.cluster.get("InstanceCount")
        evidence: dict[str, Any] = {
            "named_definition": job.named,
            "EnableInterContainerTrafficEncryption": encrypted, "InstanceCount": count}
        if encrypted is True:
            yield passed(s, "traffic between monitoring instances is encrypted", **evidence)
        elif count == 1:
            yield failed(s, "inter-container encryption is off (single instance today)",
                         severity=Severity.LOW, **evidence)
        else:
            yield failed(s, "traffic between monitoring instances is not encrypted", **evidence)


@check(
    title="Model Monitor job output or volumes are not encrypted with a KMS key",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=("MLSEC03-BP02", "MLSEC02-BP01"),
    needs=(Kind.MONITORING_SCHEDULES,),
    remediation=(
        "Recreate the job definition with a customer managed KMS key in the output "
        "configuration's KmsKeyId and in ClusterConfig.VolumeKmsKeyId (omit the volume key on "
        "instance types with NVMe instance storage, which are encrypted in hardware)."
    ),
)
def model_monitor_encryption_at_rest_missing(
    inv: Inventory, *, allowed_kms_key_arns: tuple[str, ...] = ()
) -> Iterator[Verdict]:
    """PASS when the monitor's reports are written with a KMS key and its processing volume is
    encrypted with one (not required on instance types with NVMe instance storage), keys being
    in `allowed_kms_key_arns` when that list is not empty. FAIL when the output key is absent,
    the volume key is absent on an EBS-backed instance type, or a key is not allowed. UNKNOWN
    when the job definition was not collected, or the output key is set but the instance type
    needed to judge the volume is not reported or not recognised.

    Monitoring reports and scratch volumes hold statistics of production data.
    """
    for s in inv.of(Kind.MONITORING_SCHEDULES):
        job = monitor_job(s)
        if job is None:
            yield unknown(s, _NO_DEFINITION)
            continue
        output_key = job.output_kms_key
        volume_key = job.cluster.get("VolumeKmsKeyId")
        instance_type = job.cluster.get("InstanceType")
        local = has_local_storage(instance_type)
        evidence: dict[str, Any] = {"named_definition": job.named, "output_KmsKeyId": output_key,
                                    "VolumeKmsKeyId": volume_key, "InstanceType": instance_type}
        problems = []
        if not output_key:
            problems.append("monitoring output has no KMS key")
        if not volume_key and local is False:
            problems.append("processing volume has no KMS key")
        refused = [k for k in (output_key, volume_key)
                   if k and not key_allowed(k, allowed_kms_key_arns)]
        if refused:
            problems.append("a KMS key is not in the allowed list")
        if problems:
            yield failed(s, "; ".join(problems), **evidence)
        elif not volume_key and local is None:
            yield unknown(s, "cannot tell whether the processing volume needs a KMS key: "
                          "instance type not reported or not recognised", **evidence)
        else:
            yield passed(s, "monitoring output and volumes are encrypted", **evidence)


CHECKS = (
    model_monitor_no_baseline,
    model_monitor_network_isolation_disabled,
    model_monitor_intercontainer_encryption_disabled,
    model_monitor_encryption_at_rest_missing,
)
