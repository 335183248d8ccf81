"""Pure tests for training-job checks: samples and hand-built jobs through the real runner."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from agent.domain import Gap, GapKind, Kind, Resource, Result, Severity, Status
from checks import training as tr
from tests.factories import ACCOUNT, NOW, REGION, gap, inv, res, run, statuses
from tests.samples import sample

PARENT = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:hyper-parameter-tuning-job/tune-1"


def described(name: str, **overrides: Any) -> Resource:
    """A training job built from a DescribeTrainingJob sample, with fields overridden."""
    data = {**sample(name)["response"], **overrides}
    return res(Kind.TRAINING_JOBS, data["TrainingJobName"], **data)


def modern(**overrides: Any) -> Resource:
    return described("sagemaker_describe_training_job_completed_vpc_kms", **overrides)


def legacy(**overrides: Any) -> Resource:
    return described("sagemaker_describe_training_job_legacy_failed_minimal", **overrides)


def job(name: str, **data: Any) -> Resource:
    data.setdefault("CreationTime", NOW - timedelta(days=1))
    return res(Kind.TRAINING_JOBS, name, **data)


def only(results: list[Result]) -> Result:
    assert len(results) == 1, results
    return results[0]


def test_network_isolation_sample_states() -> None:
    """The hardened sample passes, False fails, and the legacy record without the key is UNKNOWN."""
    results = run(
        tr.sagemaker_training_network_isolation_disabled,
        inv(modern(), legacy(), job("off", EnableNetworkIsolation=False)),
    )
    assert statuses(results) == {
        "xgb-train-2024-05-02-10-11-12-345": Status.PASS,
        "kmeans-job-2018-01-12-18-23-33": Status.UNKNOWN,
        "off": Status.FAIL,
    }


def test_network_isolation_tuning_children_reported_once_on_parent() -> None:
    """Two trials of one tuning job give one finding on the tuning job, read from the latest."""
    results = run(
        tr.sagemaker_training_network_isolation_disabled,
        inv(
            job("t-001", TuningJobArn=PARENT, EnableNetworkIsolation=True,
                CreationTime=NOW - timedelta(hours=2)),
            job("t-002", TuningJobArn=PARENT, EnableNetworkIsolation=False,
                CreationTime=NOW - timedelta(hours=1)),
        ),
    )
    r = only(results)
    assert r.resource_arn == PARENT and r.resource_kind == "hyper_parameter_tuning_job"
    assert r.status is Status.FAIL
    assert r.evidence["TrainingJobName"] == "t-002" and r.evidence["child_jobs"] == 2


def test_network_isolation_unknown_when_listing_denied_or_describe_failed() -> None:
    """A denied listing gives a region UNKNOWN; a job whose describe failed is UNKNOWN."""
    denied = run(tr.sagemaker_training_network_isolation_disabled,
                 inv(gaps=[gap(Kind.TRAINING_JOBS)]))
    assert [(r.status, r.resource_kind) for r in denied] == [(Status.UNKNOWN, "region")]
    partial = run(tr.sagemaker_training_network_isolation_disabled,
                  inv(job("x", EnableNetworkIsolation=True, incomplete="throttled")))
    assert statuses(partial) == {"x": Status.UNKNOWN}


def test_not_in_vpc_absent_or_empty_subnets_fail() -> None:
    """VpcConfig with subnets passes; absent VpcConfig or empty Subnets fails."""
    results = run(
        tr.sagemaker_training_not_in_vpc,
        inv(modern(), legacy(), job("empty", VpcConfig={"Subnets": [], "SecurityGroupIds": []})),
    )
    assert statuses(results) == {
        "xgb-train-2024-05-02-10-11-12-345": Status.PASS,
        "kmeans-job-2018-01-12-18-23-33": Status.FAIL,
        "empty": Status.FAIL,
    }


def test_intercontainer_encryption_by_instance_count() -> None:
    """Single instance is N/A; groups are summed; absent flag on a cluster is UNKNOWN."""
    groups = {"InstanceGroups": [
        {"InstanceGroupName": "a", "InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
        {"InstanceGroupName": "b", "InstanceType": "ml.g5.xlarge", "InstanceCount": 2},
    ]}
    results = run(
        tr.sagemaker_training_intercontainer_encryption_disabled,
        inv(
            modern(),
            legacy(),
            job("single", EnableInterContainerTrafficEncryption=False,
                ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1}),
            job("hetero", EnableInterContainerTrafficEncryption=False, ResourceConfig=groups),
        ),
    )
    assert statuses(results) == {
        "xgb-train-2024-05-02-10-11-12-345": Status.PASS,
        "kmeans-job-2018-01-12-18-23-33": Status.UNKNOWN,
        "single": Status.NOT_APPLICABLE,
        "hetero": Status.FAIL,
    }
    hetero = next(r for r in results if r.resource_arn.endswith("hetero"))
    assert hetero.evidence["InstanceCount"] == 3


def test_encryption_at_rest_output_and_volume_parts() -> None:
    """Both keys pass; the legacy empty key fails; local NVMe types need no volume key."""
    out_key = {"S3OutputPath": "s3://b/p", "KmsKeyId": "arn:aws:kms:us-east-1:1:key/k"}
    results = run(
        tr.sagemaker_training_encryption_at_rest_missing,
        inv(
            modern(),
            legacy(),
            job("nvme", OutputDataConfig=out_key,
                ResourceConfig={"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 1}),
            job("g5", OutputDataConfig=out_key,
                ResourceConfig={"InstanceType": "ml.g5.2xlarge", "InstanceCount": 1}),
            job("ebs", OutputDataConfig=out_key,
                ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1}),
        ),
    )
    assert statuses(results) == {
        "xgb-train-2024-05-02-10-11-12-345": Status.PASS,
        "kmeans-job-2018-01-12-18-23-33": Status.FAIL,
        "nvme": Status.PASS,
        "g5": Status.PASS,
        "ebs": Status.FAIL,
    }
    nvme = next(r for r in results if r.resource_arn.endswith("nvme"))
    assert nvme.evidence["volume"] == "NOT_APPLICABLE"


def test_encryption_at_rest_unknown_and_not_applicable() -> None:
    """Unreported output config is UNKNOWN; S3 Express output on NVMe is N/A."""
    nvme = {"InstanceType": "ml.p4d.24xlarge", "InstanceCount": 1}
    results = run(
        tr.sagemaker_training_encryption_at_rest_missing,
        inv(
            job("no-output", ResourceConfig=nvme),
            job("express", ResourceConfig=nvme,
                OutputDataConfig={"S3OutputPath": "s3://ml--use1-az4--x-s3/out/"}),
        ),
    )
    assert statuses(results) == {"no-output": Status.UNKNOWN, "express": Status.NOT_APPLICABLE}


def test_encryption_at_rest_allowed_key_list() -> None:
    """With an allow-list, the sample's key fails unless it is listed."""
    key = sample("sagemaker_describe_training_job_completed_vpc_kms")["response"][
        "OutputDataConfig"]["KmsKeyId"]
    chk = tr.sagemaker_training_encryption_at_rest_missing
    assert only(run(chk, inv(modern()), allowed_kms_key_arns=("other",))).status is Status.FAIL
    assert only(run(chk, inv(modern()), allowed_kms_key_arns=(key,))).status is Status.PASS


def test_no_managed_spot_rules() -> None:
    """Long on-demand fails, short is N/A, spot passes with a saving, legacy flag is UNKNOWN."""
    chk = tr.sagemaker_training_no_managed_spot
    results = run(
        chk,
        inv(
            modern(),  # 1285 s on demand: short
            legacy(),
            job("long", TrainingJobStatus="Completed", EnableManagedSpotTraining=False,
                TrainingTimeInSeconds=7200),
            job("spot", TrainingJobStatus="Completed", EnableManagedSpotTraining=True,
                TrainingTimeInSeconds=7200, BillableTimeInSeconds=2160),
            job("plan", EnableManagedSpotTraining=False, TrainingTimeInSeconds=9000,
                ResourceConfig={"TrainingPlanArn": "arn:aws:sagemaker:::training-plan/p"}),
            job("running", TrainingJobStatus="InProgress", EnableManagedSpotTraining=False),
        ),
    )
    assert statuses(results) == {
        "xgb-train-2024-05-02-10-11-12-345": Status.NOT_APPLICABLE,
        "kmeans-job-2018-01-12-18-23-33": Status.UNKNOWN,
        "long": Status.FAIL,
        "spot": Status.PASS,
        "plan": Status.NOT_APPLICABLE,
        "running": Status.NOT_APPLICABLE,
    }
    spot = next(r for r in results if r.resource_arn.endswith("spot"))
    assert spot.evidence["saving"] == 0.7
    lowered = run(chk, inv(modern()), spot_min_runtime_s=600)
    assert only(lowered).status is Status.FAIL


def test_spot_without_checkpointing_severities() -> None:
    """No checkpoint fails medium (high after an interruption); no wait slack fails low."""
    stop = {"MaxRuntimeInSeconds": 86400, "MaxWaitTimeInSeconds": 90000}
    ckpt = {"S3Uri": "s3://b/ckpt"}
    results = run(
        tr.sagemaker_training_spot_without_checkpointing,
        inv(
            modern(),
            job("nockpt", EnableManagedSpotTraining=True, StoppingCondition=stop),
            job("hit", EnableManagedSpotTraining=True, StoppingCondition=stop,
                SecondaryStatusTransitions=[{"Status": "Interrupted"}]),
            job("noslack", EnableManagedSpotTraining=True, CheckpointConfig=ckpt,
                StoppingCondition={"MaxRuntimeInSeconds": 7200, "MaxWaitTimeInSeconds": 7200}),
            job("good", EnableManagedSpotTraining=True, CheckpointConfig=ckpt,
                StoppingCondition=stop),
            job("nowait", EnableManagedSpotTraining=True, CheckpointConfig=ckpt,
                StoppingCondition={"MaxRuntimeInSeconds": 7200}),
            job("short", EnableManagedSpotTraining=True,
                StoppingCondition={"MaxRuntimeInSeconds": 1800, "MaxWaitTimeInSeconds": 3600}),
        ),
    )
    assert statuses(results) == {
        "xgb-train-2024-05-02-10-11-12-345": Status.NOT_APPLICABLE,
        "nockpt": Status.FAIL,
        "hit": Status.FAIL,
        "noslack": Status.FAIL,
        "good": Status.PASS,
        "nowait": Status.UNKNOWN,
        "short": Status.NOT_APPLICABLE,
    }
    sev = {r.resource_arn.rsplit("/", 1)[-1]: r.severity for r in results}
    assert (sev["nockpt"], sev["hit"], sev["noslack"]) == (
        Severity.MEDIUM, Severity.HIGH, Severity.LOW)


def test_debug_profiling_scope_and_status() -> None:
    """Multi-instance with profiling off fails; single CPU is N/A; rules pass; unreported is
    UNKNOWN."""
    results = run(
        tr.sagemaker_training_debug_profiling_disabled,
        inv(
            modern(),  # 2 x ml.m5, ProfilingStatus Disabled, no rules
            job("cpu", ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
                ProfilingStatus="Disabled"),
            job("gpu-rules", ResourceConfig={"InstanceType": "ml.g5.xlarge", "InstanceCount": 1},
                ProfilingStatus="Disabled", ProfilerRuleConfigurations=[{"RuleConfigurationName":
                                                                          "ProfilerReport"}]),
            job("gpu-silent", ResourceConfig={"InstanceType": "ml.p3.2xlarge",
                                              "InstanceCount": 1}),
        ),
    )
    assert statuses(results) == {
        "xgb-train-2024-05-02-10-11-12-345": Status.FAIL,
        "cpu": Status.NOT_APPLICABLE,
        "gpu-rules": Status.PASS,
        "gpu-silent": Status.UNKNOWN,
    }
    assert all(r.severity is Severity.INFO for r in results)


def test_lineage_tracking() -> None:
    """Untracked jobs fail; ExperimentConfig or a tuning parent passes."""
    results = run(
        tr.sagemaker_training_no_lineage_tracking,
        inv(
            modern(),
            job("tracked", ExperimentConfig={"ExperimentName": "churn"}),
            job("t-001", TuningJobArn=PARENT),
        ),
    )
    assert statuses(results) == {
        "xgb-train-2024-05-02-10-11-12-345": Status.FAIL,
        "tracked": Status.PASS,
        "tune-1": Status.PASS,
    }


def test_warm_pool_waste_states() -> None:
    """The sample's unreused billed pool fails low; Available fails info; reuse passes."""
    summary = sample("sagemaker_list_training_jobs_pages")["pages"][2]["TrainingJobSummaries"][0]
    results = run(
        tr.sagemaker_training_warm_pool_waste,
        inv(
            job(summary["TrainingJobName"], **summary),
            job("idle", WarmPoolStatus={"Status": "Available"},
                ResourceConfig={"KeepAlivePeriodInSeconds": 1800}),
            job("reused", WarmPoolStatus={"Status": "Terminated", "ReusedByJob": "next",
                                          "ResourceRetainedBillableTimeInSeconds": 300}),
            job("none", ResourceConfig={"InstanceType": "ml.m5.xlarge"}),
            job("silent", ResourceConfig={"KeepAlivePeriodInSeconds": 600}),
        ),
    )
    assert statuses(results) == {
        "churn-xgb-0001": Status.FAIL,
        "idle": Status.FAIL,
        "reused": Status.PASS,
        "none": Status.NOT_APPLICABLE,
        "silent": Status.UNKNOWN,
    }
    sev = {r.resource_arn.rsplit("/", 1)[-1]: r.severity for r in results}
    assert sev["churn-xgb-0001"] is Severity.LOW and sev["idle"] is Severity.INFO


def test_job_family_strips_run_suffixes() -> None:
    """Timestamps, counters and hex hashes are stripped; meaningful tokens are kept."""
    assert tr.job_family("xgb-train-2024-05-02-10-11-12-345") == "xgb-train"
    assert tr.job_family("churn-xgb-0007") == "churn-xgb"
    assert tr.job_family("Bert-Base-20240502T101112Z") == "bert-base"
    assert tr.job_family("model-v2-a1b2c3d4") == "model-v2"
    assert tr.job_family("resnet50-facade") == "resnet50-facade"
    assert tr.job_family("2024-01-01") == "2024"


def _family(prefix: str, statuses_: list[str]) -> list[Resource]:
    return [job(f"{prefix}-{i:04d}", TrainingJobStatus=s) for i, s in enumerate(statuses_)]


def test_high_failure_rate_per_family() -> None:
    """A family over the rate fails, one under passes, a small one is N/A; Stopped is ignored."""
    results = run(
        tr.sagemaker_training_high_failure_rate,
        inv(
            *_family("bad", ["Failed", "Failed", "Completed", "Completed", "Completed"]),
            *_family("ok", ["Failed", "Completed", "Completed", "Completed", "Completed",
                            "Stopped"]),
            *_family("tiny", ["Failed", "Failed"]),
        ),
    )
    fam = {r.sub_resource: r for r in results}
    assert {k: r.status for k, r in fam.items()} == {
        "bad": Status.FAIL, "ok": Status.PASS, "tiny": Status.NOT_APPLICABLE}
    assert fam["bad"].resource_arn.endswith(":region")
    assert fam["bad"].evidence["failure_rate"] == 0.4 and fam["ok"].evidence["stopped"] == 1


def test_high_failure_rate_thresholds_are_parameters() -> None:
    """Lowering min_jobs and raising failure_rate changes the verdicts."""
    inventory = inv(*_family("tiny", ["Failed", "Completed"]))
    chk = tr.sagemaker_training_high_failure_rate
    assert only(run(chk, inventory, min_jobs=2)).status is Status.FAIL
    assert only(run(chk, inventory, min_jobs=2, failure_rate=0.5)).status is Status.PASS


def test_high_failure_rate_runtime_exceeded_and_exclusions() -> None:
    """A job stopped at MaxRuntime fails low; tuning children and old jobs are not counted."""
    results = run(
        tr.sagemaker_training_high_failure_rate,
        inv(
            job("slow-0001", TrainingJobStatus="Stopped", SecondaryStatus="MaxRuntimeExceeded"),
            job("t-001", TrainingJobStatus="Failed", TuningJobArn=PARENT),
            job("old-0001", TrainingJobStatus="Failed", CreationTime=NOW - timedelta(days=200)),
        ),
    )
    assert [(r.resource_arn.rsplit("/", 1)[-1], r.status, r.severity) for r in results
            if r.resource_kind == "training_jobs"] == [("slow-0001", Status.FAIL, Severity.LOW)]
    assert {r.sub_resource for r in results if r.resource_kind == "training_job_family"} == {
        "slow"}


def test_high_failure_rate_undescribed_jobs() -> None:
    """Jobs whose describe failed make a family UNKNOWN unless the verdict holds regardless."""
    def lost(name: str) -> Gap:
        arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/{name}"
        return Gap(ACCOUNT, REGION, "sagemaker", "DescribeTrainingJob", GapKind.THROTTLED,
                   "slow down", resource_arn=arn)

    results = run(
        tr.sagemaker_training_high_failure_rate,
        inv(
            *_family("sure", ["Failed"] * 4 + ["Completed"]),
            *_family("maybe", ["Failed"] + ["Completed"] * 4),
            gaps=[lost("sure-0009"), lost("maybe-0009"), lost("maybe-0010")],
        ),
    )
    fam = {r.sub_resource: r.status for r in results}
    assert fam == {"sure": Status.FAIL, "maybe": Status.UNKNOWN}


def test_previous_generation_training() -> None:
    """The legacy ml.c4 job fails, the ml.m5 job passes, a job without a type is UNKNOWN."""
    results = run(
        tr.ml_previous_generation_instance_types_training,
        inv(modern(), legacy(), job("typeless", ResourceConfig={"InstanceCount": 1})),
    )
    assert statuses(results) == {
        "xgb-train-2024-05-02-10-11-12-345": Status.PASS,
        "kmeans-job-2018-01-12-18-23-33": Status.FAIL,
        "typeless": Status.UNKNOWN,
    }
    failed = next(r for r in results if r.status is Status.FAIL)
    assert failed.evidence["previous_generation"] == ["ml.c4.8xlarge"]
    families = ("ml.m5",)
    assert statuses(run(tr.ml_previous_generation_instance_types_training, inv(modern()),
                        prev_gen_families=families)) == {
        "xgb-train-2024-05-02-10-11-12-345": Status.FAIL}
