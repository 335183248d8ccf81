"""Checks on SageMaker training jobs (catalog TR-01..TR-10, and the training part of X-01).

Scope: the collector lists jobs created within `training_lookback_days`. Children of a
hyperparameter tuning or AutoML job share their parent's training definition, so per-job checks
report once per parent (on the parent's ARN, judged from its most recent child) instead of once
per trial. A field botocore does not mark required and that has no documented default is
UNKNOWN when absent: old records lack the flags that did not exist when they ran.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from agent.domain import (
    FINISHED_TRAINING_STATUSES,
    GapKind,
    Inventory,
    Kind,
    Resource,
    Severity,
    Status,
)
from checks.base import AT_LEAST_0, AT_LEAST_1, FRACTION, Verdict, check, failed
from checks.instances import (
    LOCAL_STORAGE_FAMILIES,
    PREV_GEN_FAMILIES,
    has_local_storage,
    is_accelerated,
    parse,
    previous_generation,
    suggestion,
)

_EPOCH = datetime.min.replace(tzinfo=UTC)
_FINISHED = ("Completed", "Failed")
# Trailing name tokens that vary per run: counters and timestamps (all digits), compact ISO
# stamps, and hex hashes containing a digit. SageMaker names allow only letters, digits and "-".
_RUN_SUFFIX = re.compile(r"^(\d+|\d{8}t\d{4,6}z?|(?=[0-9a-f]*\d)[0-9a-f]{6,})$")


@dataclass(frozen=True, slots=True)
class _Subject:
    """What a per-job finding is about: a standalone job, or the parent of tuning children."""

    arn: str
    kind: str
    job: Resource  # the job whose fields are read (for a parent: its most recent child)
    children: int = 0

    def verdict(
        self, status: Status, reason: str, *, severity: Severity | None = None, **evidence: Any
    ) -> Verdict:
        if self.children:
            evidence = {"TrainingJobName": self.job.name, "child_jobs": self.children, **evidence}
        return Verdict(status, self.arn, reason, self.kind, evidence=evidence, severity=severity)


def _parent(job: Resource) -> str | None:
    return job.get("TuningJobArn") or job.get("AutoMLJobArn")


def _subjects(inv: Inventory) -> list[_Subject]:
    out: list[_Subject] = []
    groups: dict[str, list[Resource]] = {}
    for job in inv.of(Kind.TRAINING_JOBS):
        parent = _parent(job)
        if parent:
            groups.setdefault(parent, []).append(job)
        else:
            out.append(_Subject(job.arn, Kind.TRAINING_JOBS.value, job))
    for parent, jobs in sorted(groups.items()):
        latest = max(jobs, key=lambda j: j.get("CreationTime") or _EPOCH)
        kind = "hyper_parameter_tuning_job" if "tuning-job/" in parent else "automl_job"
        out.append(_Subject(parent, kind, latest, len(jobs)))
    return out


def _resources(job: Resource) -> Mapping[str, Any]:
    return job.get("ResourceConfig") or {}


def _instance_types(job: Resource) -> list[str]:
    rc = _resources(job)
    groups = rc.get("InstanceGroups") or ()
    return [g["InstanceType"] for g in groups if g.get("InstanceType")] or (
        [rc["InstanceType"]] if rc.get("InstanceType") else []
    )


def _instance_count(job: Resource) -> int | None:
    rc = _resources(job)
    groups = rc.get("InstanceGroups") or ()
    if groups:
        return sum(int(g.get("InstanceCount") or 0) for g in groups)
    count = rc.get("InstanceCount")
    return int(count) if count is not None else None


def _flag(s: _Subject, field: str, label: str, *, on: str, off: str) -> Verdict:
    value = s.job.get(field)
    ev: dict[str, Any] = {field: value}
    if value is True:
        return s.verdict(Status.PASS, on, **ev)
    if value is False:
        return s.verdict(Status.FAIL, off, **ev)
    return s.verdict(Status.UNKNOWN, f"the job record does not report {label} ({field})", **ev)


@check(
    title="SageMaker training job runs without network isolation",
    severity=Severity.MEDIUM,
    effort="config",
    lens=("MLSEC04-BP01", "MLSEC03-BP02", "MLSEC04-BP03"),
    needs=(Kind.TRAINING_JOBS,),
    remediation=(
        "Set EnableNetworkIsolation=True on the estimator or CreateTrainingJob call; bake "
        "dependencies into the training image instead of installing them at run time."
    ),
)
def sagemaker_training_network_isolation_disabled(inv: Inventory) -> Iterator[Verdict]:
    """PASS when EnableNetworkIsolation is True; FAIL when False. UNKNOWN when the record omits
    it: botocore documents no default, and records from before the option existed do not carry
    it.

    An isolated training container cannot send training data out or pull untrusted code in.
    """
    for s in _subjects(inv):
        yield _flag(
            s, "EnableNetworkIsolation", "network isolation",
            on="network isolation is enabled",
            off="training container has network access",
        )


@check(
    title="SageMaker training job does not run in a VPC",
    severity=Severity.MEDIUM,
    effort="rearchitect",
    lens=("MLSEC03-BP02", "MLSEC04-BP01"),
    needs=(Kind.TRAINING_JOBS,),
    remediation=(
        "Pass subnets and security groups (VpcConfig) for private subnets with S3/ECR VPC "
        "endpoints, so training traffic stays on your network."
    ),
)
def sagemaker_training_not_in_vpc(inv: Inventory) -> Iterator[Verdict]:
    """PASS when VpcConfig lists at least one subnet. FAIL when VpcConfig is absent or its
    Subnets are empty: DescribeTrainingJob returns VpcConfig only for jobs launched into a VPC,
    so on a described job its absence is the answer, not missing data.

    Jobs outside your VPC reach data and the internet over SageMaker's network, outside your
    security groups, endpoint policies and flow logs.
    """
    for s in _subjects(inv):
        subnets = list((s.job.get("VpcConfig") or {}).get("Subnets") or ())
        if subnets:
            yield s.verdict(Status.PASS, "job runs in a VPC", Subnets=subnets)
        else:
            yield s.verdict(Status.FAIL, "job does not run in a VPC", Subnets=subnets)


@check(
    title="Distributed SageMaker training job does not encrypt inter-node traffic",
    severity=Severity.MEDIUM,
    effort="config",
    lens=("MLSEC04-BP02",),
    needs=(Kind.TRAINING_JOBS,),
    remediation=(
        "Set EnableInterContainerTrafficEncryption=True for multi-instance jobs (expect some "
        "extra training time for communication-heavy deep learning)."
    ),
)
def sagemaker_training_intercontainer_encryption_disabled(inv: Inventory) -> Iterator[Verdict]:
    """PASS when EnableInterContainerTrafficEncryption is True. NOT_APPLICABLE for single-instance
    jobs (counting every instance group). FAIL when it is False on two or more instances.
    UNKNOWN when the flag or the instance count is not reported (no documented default).

    Distributed training exchanges weights and gradients between nodes; without this setting
    that traffic is unencrypted.
    """
    for s in _subjects(inv):
        value = s.job.get("EnableInterContainerTrafficEncryption")
        count = _instance_count(s.job)
        ev = {"EnableInterContainerTrafficEncryption": value, "InstanceCount": count}
        if value is True:
            yield s.verdict(Status.PASS, "inter-container traffic is encrypted", **ev)
        elif count == 1:
            yield s.verdict(Status.NOT_APPLICABLE, "single-instance job", **ev)
        elif count is None:
            yield s.verdict(Status.UNKNOWN, "the job record does not report its instance count",
                            **ev)
        elif value is False:
            yield s.verdict(Status.FAIL, f"{count} instances exchange unencrypted traffic", **ev)
        else:
            yield s.verdict(
                Status.UNKNOWN,
                "the job record does not report EnableInterContainerTrafficEncryption",
                **ev,
            )


def _is_s3_express(uri: str | None) -> bool:
    # Directory buckets (S3 Express One Zone) are named "<base>--<az-id>--x-s3".
    bucket = str(uri or "").removeprefix("s3://").split("/", 1)[0]
    return bucket.endswith("--x-s3")


def _key_problem(key: str | None, allowed: tuple[str, ...]) -> str | None:
    if not key:
        return "no customer KMS key"
    if allowed and key not in allowed:
        return "KMS key not in the allowed list"
    return None


@check(
    title="SageMaker training job output or volume is not encrypted with a customer KMS key",
    severity=Severity.MEDIUM,
    effort="config",
    lens=("MLSEC03-BP02", "MLSEC02-BP01"),
    needs=(Kind.TRAINING_JOBS,),
    remediation=(
        "Pass OutputDataConfig.KmsKeyId for model artifacts and ResourceConfig.VolumeKmsKeyId "
        "for the storage volume (not needed on instance types with local NVMe storage)."
    ),
)
def sagemaker_training_encryption_at_rest_missing(
    inv: Inventory,
    *,
    allowed_kms_key_arns: tuple[str, ...] = (),
    local_storage_families: tuple[str, ...] = LOCAL_STORAGE_FAMILIES,
) -> Iterator[Verdict]:
    """Two parts, each PASS/FAIL/NOT_APPLICABLE/UNKNOWN; the job FAILs if either part fails,
    else is UNKNOWN if either is unknown, else PASSes if either passes.

    Output: FAIL when OutputDataConfig.KmsKeyId is absent or empty (botocore: without it
    SageMaker uses the account's default S3 key), or not in `allowed_kms_key_arns` when that is
    set. NOT_APPLICABLE for S3 Express One Zone buckets (they support SSE-S3 only). UNKNOWN when
    OutputDataConfig itself is not reported.
    Volume: the same rule for ResourceConfig.VolumeKmsKeyId, NOT_APPLICABLE when every instance
    type has local NVMe storage (botocore: such types cannot take a VolumeKmsKeyId; the hardware
    encrypts them), UNKNOWN when the instance type is not reported or not recognised.

    Model artifacts and scratch volumes hold training data and models; a customer key makes
    access to them auditable and revocable.
    """
    for s in _subjects(inv):
        parts: dict[str, tuple[Status, str]] = {}
        out = s.job.get("OutputDataConfig")
        if out is None:
            parts["output"] = (Status.UNKNOWN, "output config not reported")
        elif _is_s3_express(out.get("S3OutputPath")):
            parts["output"] = (Status.NOT_APPLICABLE, "S3 Express One Zone output")
        else:
            problem = _key_problem(out.get("KmsKeyId"), allowed_kms_key_arns)
            parts["output"] = (Status.FAIL, f"output: {problem}") if problem else (
                Status.PASS, "output encrypted with a customer key")
        types = [parse(t) for t in _instance_types(s.job)]
        if not types or any(t is None for t in types):
            parts["volume"] = (Status.UNKNOWN, "instance type not reported or not recognised")
        elif all(has_local_storage(t, local_storage_families) for t in types if t):
            parts["volume"] = (Status.NOT_APPLICABLE, "local NVMe storage")
        else:
            problem = _key_problem(_resources(s.job).get("VolumeKmsKeyId"), allowed_kms_key_arns)
            parts["volume"] = (Status.FAIL, f"volume: {problem}") if problem else (
                Status.PASS, "volume encrypted with a customer key")
        statuses = {st for st, _ in parts.values()}
        status = next(
            (st for st in (Status.FAIL, Status.UNKNOWN, Status.PASS) if st in statuses),
            Status.NOT_APPLICABLE,
        )
        reason = "; ".join(why for st, why in parts.values() if st is status)
        yield s.verdict(
            status,
            reason,
            output=parts["output"][0].value,
            volume=parts["volume"][0].value,
            OutputKmsKeyId=(out or {}).get("KmsKeyId"),
            VolumeKmsKeyId=_resources(s.job).get("VolumeKmsKeyId"),
            InstanceTypes=_instance_types(s.job),
        )


def _finished(job: Resource) -> bool:
    return job.get("TrainingJobStatus") in FINISHED_TRAINING_STATUSES


@check(
    title="Long SageMaker training job does not use managed spot training",
    severity=Severity.LOW,
    effort="config",
    lens=("MLCOST04-BP06",),
    needs=(Kind.TRAINING_JOBS,),
    remediation=(
        "Enable managed spot training (EnableManagedSpotTraining=True with MaxWaitTimeInSeconds "
        "and a CheckpointConfig) for jobs that can tolerate a delayed start."
    ),
)
def sagemaker_training_no_managed_spot(
    inv: Inventory, *, spot_min_runtime_s: Annotated[int, AT_LEAST_0] = 3600
) -> Iterator[Verdict]:
    """PASS when EnableManagedSpotTraining is True (evidence: the saving, 1 - billable/training
    time). FAIL when it is False and the job trained for at least `spot_min_runtime_s`.
    NOT_APPLICABLE for shorter jobs, jobs still running, jobs on a training plan (reserved
    capacity) and jobs keeping a warm pool (warm pools do not run on spot). UNKNOWN when the flag
    or, for a finished job, the training time is not reported.

    Spot capacity typically costs far less than on-demand for the same training run.
    """
    for s in _subjects(inv):
        job, rc = s.job, _resources(s.job)
        spot = job.get("EnableManagedSpotTraining")
        secs = job.get("TrainingTimeInSeconds")
        ev = {"EnableManagedSpotTraining": spot, "TrainingTimeInSeconds": secs}
        if rc.get("TrainingPlanArn") or job.get("TrainingPlanArn"):
            yield s.verdict(Status.NOT_APPLICABLE, "job runs on a training plan", **ev)
        elif (rc.get("KeepAlivePeriodInSeconds") or 0) > 0:
            yield s.verdict(Status.NOT_APPLICABLE, "job keeps a warm pool", **ev)
        elif spot is True:
            billable = job.get("BillableTimeInSeconds")
            saving = round(1 - billable / secs, 3) if secs and billable is not None else None
            yield s.verdict(Status.PASS, "managed spot training is enabled", saving=saving, **ev)
        elif spot is None:
            yield s.verdict(Status.UNKNOWN, "the job record does not report spot usage", **ev)
        elif not _finished(job):
            yield s.verdict(Status.NOT_APPLICABLE, "job has not finished", **ev)
        elif secs is None:
            yield s.verdict(Status.UNKNOWN, "the job record does not report its training time",
                            **ev)
        elif secs >= spot_min_runtime_s:
            yield s.verdict(Status.FAIL, f"trained {secs} s on demand", **ev)
        else:
            yield s.verdict(Status.NOT_APPLICABLE, f"short job ({secs} s)", **ev)


@check(
    title="Managed spot training job cannot resume after an interruption",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=("MLCOST04-BP10", "MLCOST04-BP06"),
    needs=(Kind.TRAINING_JOBS,),
    remediation=(
        "Set CheckpointConfig.S3Uri and save/restore checkpoints in the training script; set "
        "MaxWaitTimeInSeconds above MaxRuntimeInSeconds to leave time to wait for capacity."
    ),
)
def sagemaker_training_spot_without_checkpointing(
    inv: Inventory, *, spot_min_runtime_s: Annotated[int, AT_LEAST_0] = 3600
) -> Iterator[Verdict]:
    """For spot jobs allowed to run longer than `spot_min_runtime_s` (MaxRuntimeInSeconds,
    documented default one day): FAIL (medium; high once the job was Interrupted) without a
    CheckpointConfig, and FAIL (low) when MaxWaitTimeInSeconds equals MaxRuntimeInSeconds (no
    slack to wait for capacity). PASS otherwise. NOT_APPLICABLE for on-demand or shorter jobs;
    UNKNOWN when the spot flag or MaxWaitTimeInSeconds is not reported.

    Without checkpoints every spot interruption restarts training from scratch and pays again.
    """
    for s in _subjects(inv):
        job = s.job
        spot = job.get("EnableManagedSpotTraining")
        stop = job.get("StoppingCondition") or {}
        runtime = stop.get("MaxRuntimeInSeconds") or 86400
        wait = stop.get("MaxWaitTimeInSeconds")
        ckpt = (job.get("CheckpointConfig") or {}).get("S3Uri")
        interrupted = sum(
            1 for t in job.get("SecondaryStatusTransitions") or () if t.get("Status") ==
            "Interrupted"
        )
        ev: dict[str, Any] = {"MaxRuntimeInSeconds": runtime, "MaxWaitTimeInSeconds": wait,
              "CheckpointS3Uri": ckpt, "interruptions": interrupted}
        if spot is None:
            yield s.verdict(Status.UNKNOWN, "the job record does not report spot usage", **ev)
            continue
        if spot is not True:
            yield s.verdict(Status.NOT_APPLICABLE, "job does not use spot", **ev)
            continue
        if runtime <= spot_min_runtime_s:
            yield s.verdict(Status.NOT_APPLICABLE, f"job capped at {runtime} s", **ev)
            continue
        problems: list[tuple[Severity, str]] = []
        if not ckpt:
            sev = Severity.HIGH if interrupted else Severity.MEDIUM
            problems.append((sev, "no checkpoint location, so an interruption restarts training"))
        if wait is not None and wait <= runtime:
            problems.append((Severity.LOW, "MaxWaitTimeInSeconds leaves no time to wait"))
        if problems:
            sev = max((p[0] for p in problems), key=lambda x: x.rank)
            yield s.verdict(Status.FAIL, "; ".join(p[1] for p in problems), severity=sev, **ev)
        elif wait is None:
            yield s.verdict(Status.UNKNOWN, "MaxWaitTimeInSeconds not reported", **ev)
        else:
            yield s.verdict(Status.PASS, "checkpoints saved and wait time has slack", **ev)


@check(
    title="Accelerated or distributed training job runs without Debugger/profiling",
    severity=Severity.INFO,
    effort="config",
    lens=("MLCOST06-BP04", "MLCOST04-BP01"),
    needs=(Kind.TRAINING_JOBS,),
    remediation=(
        "Enable the SageMaker profiler or add Debugger/profiler rules (for example "
        "LowGPUUtilization, ProfilerReport) to GPU and multi-instance jobs."
    ),
)
def sagemaker_training_debug_profiling_disabled(inv: Inventory) -> Iterator[Verdict]:
    """For jobs on GPU/accelerator instances (ml.p*, ml.g*, ml.trn*, ml.dl*) or on two or more
    instances: PASS when ProfilingStatus is Enabled or any Debugger/profiler rule is configured;
    FAIL when profiling is Disabled (ProfilingStatus, else ProfilerConfig.DisableProfiler) and no
    rule is set. NOT_APPLICABLE for single CPU-instance jobs; UNKNOWN when the profiling status or
    the instances are not reported.

    Profiling shows idle GPUs and bottlenecks, the first step to right-sizing expensive jobs.
    """
    for s in _subjects(inv):
        job = s.job
        types = [parse(t) for t in _instance_types(job)]
        count = _instance_count(job)
        accel = any(t and is_accelerated(t) for t in types)
        rules = [*(job.get("DebugRuleConfigurations") or ()),
                 *(job.get("ProfilerRuleConfigurations") or ())]
        status = job.get("ProfilingStatus")
        if status is None and (job.get("ProfilerConfig") or {}).get("DisableProfiler") is True:
            status = "Disabled"
        ev = {"ProfilingStatus": status, "rules": len(rules), "InstanceTypes":
              _instance_types(job), "InstanceCount": count}
        if not accel and count is not None and count >= 2:
            accel = True
        if not accel:
            if types and all(types) and count is not None:
                yield s.verdict(Status.NOT_APPLICABLE, "single CPU-instance job", **ev)
            else:
                yield s.verdict(Status.UNKNOWN, "instance type or count not reported", **ev)
        elif rules or status == "Enabled":
            yield s.verdict(Status.PASS, "profiling or Debugger rules are on", **ev)
        elif status == "Disabled":
            yield s.verdict(Status.FAIL, "profiling is disabled and no rule is set", **ev)
        else:
            yield s.verdict(Status.UNKNOWN, "profiling status not reported", **ev)


@check(
    title="SageMaker training job is not tracked in an experiment, MLflow or the registry",
    severity=Severity.INFO,
    effort="rearchitect",
    lens=("MLOPS03-BP02", "MLOPS02-BP04", "MLREL03-BP01"),
    needs=(Kind.TRAINING_JOBS,),
    remediation=(
        "Launch training from SageMaker Pipelines or pass ExperimentConfig (or MlflowConfig / "
        "ModelPackageConfig) so the run, its data and its model can be traced."
    ),
)
def sagemaker_training_no_lineage_tracking(inv: Inventory) -> Iterator[Verdict]:
    """PASS when the job sets ExperimentConfig, MlflowConfig or ModelPackageConfig, or was
    launched by a tuning or AutoML job. FAIL otherwise: these are opt-in settings that the record
    carries only when set, so their absence means the job was not tracked. (Pipelines set
    ExperimentConfig by default; pipeline tags are not collected.)

    Without tracking, nobody can say which data and code produced a deployed model.
    """
    for s in _subjects(inv):
        job = s.job
        set_ = [f for f in ("ExperimentConfig", "MlflowConfig", "ModelPackageConfig")
                if job.get(f)]
        if s.children or _parent(job):
            yield s.verdict(Status.PASS, "launched by a tuning or AutoML job", tracked_by=set_)
        elif set_:
            yield s.verdict(Status.PASS, f"tracked via {', '.join(set_)}", tracked_by=set_)
        else:
            yield s.verdict(Status.FAIL, "no experiment, MLflow or registry tracking",
                            tracked_by=set_)


@check(
    title="SageMaker training warm pool is paid for but not reused",
    severity=Severity.LOW,
    effort="config",
    lens=("MLCOST04-BP08", "MLSUS03-BP01"),
    needs=(Kind.TRAINING_JOBS,),
    remediation=(
        "Lower KeepAlivePeriodInSeconds or drop warm pools for jobs that are not followed by a "
        "matching job; stop an idle pool by setting its keep-alive period to 0."
    ),
)
def sagemaker_training_warm_pool_waste(inv: Inventory) -> Iterator[Verdict]:
    """FAIL (low) when WarmPoolStatus is Terminated with billable retained time and no
    ReusedByJob (a pool paid for and never reused); FAIL (info) while it is Available (billing
    now). PASS when Reused or InUse, or Terminated without billable time. NOT_APPLICABLE for jobs
    without a keep-alive period. UNKNOWN when a keep-alive is set but no status or billable time
    is reported.

    A warm pool keeps instances running between jobs; unused, it is idle spend.
    """
    for s in _subjects(inv):
        pool = s.job.get("WarmPoolStatus") or {}
        keep = _resources(s.job).get("KeepAlivePeriodInSeconds")
        state = pool.get("Status")
        billed = pool.get("ResourceRetainedBillableTimeInSeconds")
        ev = {"Status": state, "ResourceRetainedBillableTimeInSeconds": billed,
              "ReusedByJob": pool.get("ReusedByJob"), "KeepAlivePeriodInSeconds": keep}
        if not pool and not keep:
            yield s.verdict(Status.NOT_APPLICABLE, "job keeps no warm pool", **ev)
        elif state == "Available":
            yield s.verdict(Status.FAIL, "warm pool is idle and billing", severity=Severity.INFO,
                            **ev)
        elif state in ("Reused", "InUse"):
            yield s.verdict(Status.PASS, f"warm pool is {state}", **ev)
        elif state == "Terminated" and pool.get("ReusedByJob"):
            yield s.verdict(Status.PASS, "warm pool was reused", **ev)
        elif state == "Terminated" and billed is not None:
            if billed > 0:
                yield s.verdict(Status.FAIL, f"warm pool billed {billed} s and was never reused",
                                **ev)
            else:
                yield s.verdict(Status.PASS, "warm pool ended without billable time", **ev)
        else:
            yield s.verdict(Status.UNKNOWN, "warm pool status or billable time not reported",
                            **ev)


def job_family(name: str) -> str:
    """The job name without its per-run suffix: "xgb-train-2024-05-02-10-11-12-345" and
    "xgb-train-0007" both give "xgb-train". Lower-cased, because ARNs lower-case names."""
    tokens = name.lower().split("-")
    while len(tokens) > 1 and _RUN_SUFFIX.match(tokens[-1]):
        tokens.pop()
    return "-".join(tokens)


@check(
    title="SageMaker training job family fails often, or a job hit its runtime limit",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=("MLREL03-BP01", "MLCOST04-BP09"),
    needs=(Kind.TRAINING_JOBS,),
    remediation=(
        "Read the FailureReason of the failed runs, fix the data or code, and validate changes "
        "on a small dataset before launching full runs; raise MaxRuntimeInSeconds or find the "
        "runaway step for jobs that hit it."
    ),
)
def sagemaker_training_high_failure_rate(
    inv: Inventory,
    *,
    min_jobs: Annotated[int, AT_LEAST_1] = 5,
    failure_rate: Annotated[float, FRACTION] = 0.3,
    training_lookback_days: Annotated[int, AT_LEAST_1] = 90,
) -> Iterator[Verdict]:
    """Per job family (the name without a trailing timestamp, counter or hash; reported on the
    region with the family as sub-resource), over jobs created in the last
    `training_lookback_days` before collection: FAIL when at least `min_jobs` finished
    (Completed + Failed; Stopped is a user decision, not a failure) and Failed / finished >
    `failure_rate`; PASS when at or below; NOT_APPLICABLE with fewer finished jobs. A family with
    jobs whose describe failed is judged only if the verdict holds whatever their status, else
    UNKNOWN. Per job: FAIL (low) when SecondaryStatus is MaxRuntimeExceeded. Tuning/AutoML
    children are left out: their failures are the tuner's search, not a broken pipeline.

    A family that keeps failing wastes compute and signals an untested training pipeline.
    """
    since = inv.collected_at - timedelta(days=training_lookback_days)
    counts: dict[str, Counter[str]] = {}
    latest_failure: dict[str, Resource] = {}
    for job in inv.of(Kind.TRAINING_JOBS):
        if _parent(job) or (job.get("CreationTime") or since) < since:
            continue
        if job.get("SecondaryStatus") == "MaxRuntimeExceeded":
            yield failed(job, "job was stopped at MaxRuntimeInSeconds", severity=Severity.LOW,
                         SecondaryStatus="MaxRuntimeExceeded",
                         MaxRuntimeInSeconds=(job.get("StoppingCondition") or {}).get(
                             "MaxRuntimeInSeconds"))
        fam = job_family(job.name)
        status = str(job.get("TrainingJobStatus"))
        counts.setdefault(fam, Counter())[status] += 1
        if status == "Failed":
            prev = latest_failure.get(fam)
            if prev is None or (job.get("CreationTime") or _EPOCH) > (
                prev.get("CreationTime") or _EPOCH
            ):
                latest_failure[fam] = job
    # Jobs listed but not described are hidden from checks; their gaps still name them.
    for g in inv.gaps:
        arn = g.resource_arn or ""
        if ":training-job/" in arn and g.kind is not GapKind.NOT_FOUND:
            counts.setdefault(job_family(arn.rsplit("/", 1)[-1]), Counter())["?"] += 1
    for fam, c in sorted(counts.items()):
        n_failed, n_unknown = c["Failed"], c["?"]
        finished = c["Completed"] + n_failed
        ev: dict[str, Any] = {"family": fam, "completed": c["Completed"], "failed": n_failed,
                              "stopped": c["Stopped"], "not_described": n_unknown}
        last = latest_failure.get(fam)
        if last is not None:
            ev["latest_failure"] = {"TrainingJobName": last.name,
                                    "FailureReason": str(last.get("FailureReason") or "")[:200]}
        low = n_failed / (finished + n_unknown) if finished + n_unknown else 0.0
        high = (n_failed + n_unknown) / (finished + n_unknown) if finished + n_unknown else 0.0
        ev["failure_rate"] = round(low, 3) if not n_unknown else [round(low, 3), round(high, 3)]
        if finished >= min_jobs and low > failure_rate:
            status, reason = Status.FAIL, f"{n_failed} of {finished} finished runs failed"
        elif finished + n_unknown < min_jobs:
            status, reason = Status.NOT_APPLICABLE, f"only {finished} finished runs"
        elif finished >= min_jobs and high <= failure_rate:
            status, reason = Status.PASS, f"{n_failed} of {finished} finished runs failed"
        else:
            status, reason = Status.UNKNOWN, f"{n_unknown} runs of the family were not described"
        yield Verdict(status, inv.region_arn(), reason, "training_job_family", fam, ev)


@check(
    title="SageMaker training job runs on a previous-generation instance type",
    severity=Severity.LOW,
    effort="redeploy",
    lens=("MLSUS05-BP02", "MLPERF04-BP01", "MLCOST05-BP02"),
    needs=(Kind.TRAINING_JOBS,),
    remediation=(
        "Train on a current family (ml.g5/ml.g6, ml.p4d/ml.p5, ml.trn1, ml.m7i/ml.c7i) after "
        "checking framework support."
    ),
)
def ml_previous_generation_instance_types_training(
    inv: Inventory, *, prev_gen_families: tuple[str, ...] = PREV_GEN_FAMILIES
) -> Iterator[Verdict]:
    """PASS when no instance type of the job (ResourceConfig.InstanceType or every instance
    group) is in `prev_gen_families`; FAIL otherwise. UNKNOWN when no type is reported.

    Training part of catalog X-01 (split by kind, see checks.instances): old families train
    slower per watt and per dollar.
    """
    for s in _subjects(inv):
        types = _instance_types(s.job)
        old = previous_generation(types, prev_gen_families)
        if not types:
            yield s.verdict(Status.UNKNOWN, "job reports no instance type")
        elif old:
            yield s.verdict(Status.FAIL, f"trains on previous-generation {', '.join(old)}",
                            InstanceTypes=types, previous_generation=old,
                            suggested=suggestion(old))
        else:
            yield s.verdict(Status.PASS, "no previous-generation instance type",
                            InstanceTypes=types)


CHECKS = (
    sagemaker_training_network_isolation_disabled,
    sagemaker_training_not_in_vpc,
    sagemaker_training_intercontainer_encryption_disabled,
    sagemaker_training_encryption_at_rest_missing,
    sagemaker_training_no_managed_spot,
    sagemaker_training_spot_without_checkpointing,
    sagemaker_training_debug_profiling_disabled,
    sagemaker_training_no_lineage_tracking,
    sagemaker_training_warm_pool_waste,
    sagemaker_training_high_failure_rate,
    ml_previous_generation_instance_types_training,
)
