"""The catalog's newer collectors against the emulator: usage metrics, run history, registry,
lifecycle configurations and tags, and the checks reading them through the real runner."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import aioboto3
import pytest

from agent.aws.handle import Limits, RegionHandle, ScanContext
from agent.collectors import COLLECTORS, CollectOptions, Collector
from agent.domain import Inventory, Kind, Status
from agent.emulator import Emulator, access_denied, throttled
from agent.scan import NoProgress, collect_region
from checks import by_id
from checks.runner import evaluate

pytestmark = pytest.mark.emulator

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ml-execution"
NOW = datetime.now(UTC)
SCRIPT = base64.b64encode(b"#!/bin/bash\nexport TOKEN=hunter2\nIDLE_TIME=3600\n"
                          b"python autostop.py --time $IDLE_TIME\n").decode()

# (service, operation, parameters): the calls the catalog collectors make, as they make them,
# against the estate `seed_catalog` adds (used by tests/test_emulator_collectors.py).
CATALOG_CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("cloudwatch", "ListMetrics", {"Namespace": "AWS/SageMaker", "MetricName": "Invocations"}),
    ("cloudwatch", "GetMetricData", {
        "MetricDataQueries": [{"Id": "m0", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations",
                       "Dimensions": [{"Name": "EndpointName", "Value": "Churn-AB"},
                                      {"Name": "VariantName", "Value": "variant-a"}]},
            "Period": 86400, "Stat": "Sum"}}],
        "StartTime": NOW - timedelta(days=14), "EndTime": NOW,
        "ScanBy": "TimestampAscending"}),
    ("glue", "ListJobs", {"MaxResults": 1000}),
    ("glue", "GetJobRuns", {"JobName": "features", "MaxResults": 10}),
    ("sagemaker", "ListMonitoringExecutions", {
        "MonitoringScheduleName": "churn-mq-daily", "SortBy": "ScheduledTime",
        "SortOrder": "Descending", "MaxResults": 10}),
    ("sagemaker", "ListModelPackages", {"ModelPackageGroupName": "churn", "MaxResults": 100}),
    ("sagemaker", "ListNotebookInstanceLifecycleConfigs", {"MaxResults": 100}),
    ("sagemaker", "DescribeNotebookInstanceLifecycleConfig",
     {"NotebookInstanceLifecycleConfigName": "autostop"}),
    ("resourcegroupstaggingapi", "GetResources",
     {"ResourceTypeFilters": ["sagemaker:endpoint", "glue:job"], "ResourcesPerPage": 100}),
    ("sagemaker", "ListEndpointConfigs", {"MaxResults": 100}),
    ("sagemaker", "ListTags", {"ResourceArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model/"
                                              "churn-v7", "MaxResults": 100}),
    ("glue", "GetTags", {"ResourceArn": f"arn:aws:glue:us-east-1:{ACCOUNT}:job/features"}),
]


def seed_catalog(emu: Emulator) -> None:
    """Add to tests/test_emulator_collectors' estate what the catalog collectors read."""
    cw, sm, glue = emu.client("cloudwatch"), emu.client("sagemaker"), emu.client("glue")
    dims = [{"Name": "EndpointName", "Value": "Churn-AB"},
            {"Name": "VariantName", "Value": "variant-a"}]
    cw.put_metric_data(Namespace="AWS/SageMaker", MetricData=[
        {"MetricName": "Invocations", "Dimensions": dims, "Value": 40.0,
         "Timestamp": NOW - timedelta(days=d, hours=2)} for d in range(3)])
    emu.seed.add_glue_job_run("features", "SUCCEEDED", started_on=NOW - timedelta(hours=6),
                              execution_time=900)
    sm.create_model_package(
        ModelPackageGroupName="churn", ModelApprovalStatus="Approved",
        InferenceSpecification={"Containers": [{"Image": "img:1.4"}],
                                "SupportedContentTypes": ["text/csv"],
                                "SupportedResponseMIMETypes": ["text/csv"]})
    sm.create_notebook_instance_lifecycle_config(
        NotebookInstanceLifecycleConfigName="autostop", OnStart=[{"Content": SCRIPT}])
    sm.add_tags(ResourceArn=f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model/churn-v7",
                Tags=[{"Key": "project", "Value": "churn"}])
    glue.tag_resource(ResourceArn=f"arn:aws:glue:us-east-1:{ACCOUNT}:job/features",
                      TagsToAdd={"environment": "prod"})


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture(autouse=True)
def clean(emu: Emulator) -> Iterator[None]:
    emu.reset()
    yield


def collectors(*names: str) -> tuple[Collector, ...]:
    return tuple(c for c in COLLECTORS if c.name in names)


def collect(emu: Emulator, *names: str, opts: CollectOptions | None = None) -> Inventory:
    """Run the named collectors through a real handle, as a scan does (without retries)."""

    async def run() -> Inventory:
        session = aioboto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
        # One attempt per call: a fault rule answers every retry the same way.
        ctx = ScanContext(endpoint_url=emu.url, limits=Limits(max_attempts=1))
        async with RegionHandle(ctx, session, ACCOUNT, "us-east-1") as h:
            return await collect_region(h, collectors(*names), opts or CollectOptions(),
                                        NoProgress())

    return asyncio.run(run())


def verdicts(inventory: Inventory, check_ids: Sequence[str],
             **params: Any) -> dict[tuple[str, str], Status]:
    checks = [by_id()[c] for c in check_ids]
    return {
        (r.check_id, r.resource_arn.rsplit("/", 1)[-1] + (f"/{r.sub_resource}"
                                                         if r.sub_resource else "")): r.status
        for r in evaluate(checks, inventory, {c: params for c in check_ids} if params else None)
    }


def endpoint(emu: Emulator, name: str, *, age_days: int, instance: str = "ml.m5.xlarge",
             tags: dict[str, str] | None = None) -> None:
    sm = emu.client("sagemaker")
    sm.create_model(ModelName=f"{name}-m", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": "img:1"})
    sm.create_endpoint_config(EndpointConfigName=f"{name}-c", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": f"{name}-m", "InstanceType": instance,
        "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c",
                       Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()])
    emu.seed.set_endpoint_creation_time(name, NOW - timedelta(days=age_days))


def put(emu: Emulator, name: str, metric: str, value: float, *, hours: int) -> None:
    """One datapoint per hour for `hours` hours on the endpoint's AllTraffic variant."""
    namespace = "AWS/SageMaker" if metric == "Invocations" else "/aws/sagemaker/Endpoints"
    dims = [{"Name": "EndpointName", "Value": name}, {"Name": "VariantName", "Value": "AllTraffic"}]
    data = [{"MetricName": metric, "Dimensions": dims, "Value": value,
             "Timestamp": NOW - timedelta(hours=h + 1)} for h in range(hours)]
    cw = emu.client("cloudwatch")
    for i in range(0, len(data), 1000):
        cw.put_metric_data(Namespace=namespace, MetricData=data[i:i + 1000])


def test_idle_check_passes_and_fails_on_emulator_metrics(emu: Emulator) -> None:
    """Invocations put into CloudWatch make EP-15 pass; none on an old endpoint fail it; a new
    endpoint without datapoints is not judged idle."""
    endpoint(emu, "busy", age_days=30)
    endpoint(emu, "forgotten", age_days=30, instance="ml.g4dn.xlarge")
    endpoint(emu, "brand-new", age_days=1)
    put(emu, "busy", "Invocations", 12.0, hours=48)
    inventory = collect(emu, "endpoints", "endpoint_metrics")
    assert inventory.gaps == ()
    results = {r.resource_arn.rsplit("/", 1)[-1]: r for r in evaluate(
        [by_id()["sagemaker_endpoint_idle"]], inventory)}
    assert {n: r.status for n, r in results.items()} == {
        "busy": Status.PASS, "forgotten": Status.FAIL, "brand-new": Status.NOT_APPLICABLE}
    assert results["busy"].evidence["invocations"] == {"AllTraffic": 576.0}
    assert results["forgotten"].severity.value == "high"  # GPU instance
    assert results["forgotten"].evidence["instance_hours"] == 14 * 24


def test_underutilized_check_on_emulator_cpu_metrics(emu: Emulator) -> None:
    """Hourly CPU of 20% summed over 4 vCPUs (5% each) fails EP-16; 200% (50% each) passes."""
    endpoint(emu, "oversized", age_days=30)
    endpoint(emu, "right-sized", age_days=30)
    put(emu, "oversized", "CPUUtilization", 20.0, hours=72)
    put(emu, "right-sized", "CPUUtilization", 200.0, hours=72)
    inventory = collect(emu, "endpoints", "endpoint_metrics")
    assert verdicts(inventory, ["sagemaker_endpoint_underutilized"]) == {
        ("sagemaker_endpoint_underutilized", "oversized/AllTraffic"): Status.FAIL,
        ("sagemaker_endpoint_underutilized", "right-sized/AllTraffic"): Status.PASS,
    }


def test_metrics_collector_lists_each_series_once(emu: Emulator) -> None:
    """moto lists a two-dimension series once per datapoint; the emulator and the collector
    both fold them, so each variant's series is queried once and its datapoints summed."""
    endpoint(emu, "ep", age_days=30)
    put(emu, "ep", "Invocations", 2.0, hours=5)
    listed = emu.client("cloudwatch").list_metrics(Namespace="AWS/SageMaker")["Metrics"]
    assert len(listed) == 1
    inventory = collect(emu, "endpoint_metrics")
    [record] = inventory.of(Kind.ENDPOINT_METRICS)
    [invocations] = record.data["Series"]
    assert sum(invocations["Values"]) == 10.0 and invocations["StatusCode"] == "Complete"


def test_metrics_failure_is_a_gap_and_idle_is_unknown(emu: Emulator) -> None:
    """A throttled GetMetricData leaves the metrics incomplete: EP-15 says UNKNOWN, not idle."""
    endpoint(emu, "quiet", age_days=30)
    put(emu, "quiet", "Invocations", 1.0, hours=2)
    emu.faults.add(throttled(service="monitoring", operation="GetMetricData"))
    inventory = collect(emu, "endpoints", "endpoint_metrics")
    assert not inventory.complete(Kind.ENDPOINT_METRICS)
    assert verdicts(inventory, ["sagemaker_endpoint_idle"]) == {
        ("sagemaker_endpoint_idle", "quiet"): Status.UNKNOWN}


def test_glue_job_runs_newest_first_and_last_run_check(emu: Emulator) -> None:
    """GetJobRuns answers newest first and pages; GL-09 fails the job whose latest run failed."""
    glue = emu.client("glue")
    for name in ("nightly", "flaky"):
        glue.create_job(Name=name, Role=ROLE, GlueVersion="4.0",
                        Command={"Name": "glueetl", "ScriptLocation": "s3://b/j.py"})
    emu.seed.add_glue_job_run("nightly", "FAILED", started_on=NOW - timedelta(days=2),
                              execution_time=60, error_message="OOM")
    emu.seed.add_glue_job_run("nightly", "SUCCEEDED", started_on=NOW - timedelta(days=1),
                              execution_time=600)
    first = emu.seed.add_glue_job_run("flaky", "FAILED", started_on=NOW - timedelta(hours=5),
                                      execution_time=30, error_message="No space left")
    emu.seed.add_glue_job_run("flaky", "FAILED", started_on=NOW - timedelta(hours=4),
                              execution_time=30, attempt=1, previous_run_id=first)
    page = glue.get_job_runs(JobName="nightly", MaxResults=1)
    assert [r["JobRunState"] for r in page["JobRuns"]] == ["SUCCEEDED"] and page["NextToken"]
    rest = glue.get_job_runs(JobName="nightly", MaxResults=1, NextToken=page["NextToken"])
    assert [r["ErrorMessage"] for r in rest["JobRuns"]] == ["OOM"]
    inventory = collect(emu, "glue_jobs", "glue_job_runs")
    assert verdicts(inventory, ["glue_job_last_run_failed"]) == {
        ("glue_job_last_run_failed", "nightly"): Status.FAIL,  # 1 of 2 failed: ratio >= 0.3
        ("glue_job_last_run_failed", "flaky"): Status.FAIL,
    }
    [flaky] = [r for r in evaluate([by_id()["glue_job_last_run_failed"]], inventory)
               if r.resource_arn.endswith("/flaky")]
    assert flaky.severity.value == "high" and flaky.evidence["finished"] == 1


def test_lifecycle_collector_keeps_verdict_not_script(emu: Emulator) -> None:
    """The lifecycle collector records that OnStart auto-stops, never the script's text."""
    emu.client("sagemaker").create_notebook_instance_lifecycle_config(
        NotebookInstanceLifecycleConfigName="autostop", OnStart=[{"Content": SCRIPT}])
    inventory = collect(emu, "notebook_lifecycle_configs")
    [config] = inventory.of(Kind.NOTEBOOK_LIFECYCLE_CONFIGS)
    [script] = config.data["OnStart"]
    assert script["AutoStop"] is True and "idle" in script["Signals"]
    assert "hunter2" not in repr(config.data) and SCRIPT not in repr(config.data)


def test_notebook_autostop_check_on_emulator(emu: Emulator) -> None:
    """A notebook running for a week without a lifecycle config fails NB-07; one with the
    auto-stop script passes."""
    sm = emu.client("sagemaker")
    sm.create_notebook_instance_lifecycle_config(
        NotebookInstanceLifecycleConfigName="autostop", OnStart=[{"Content": SCRIPT}])
    for name, config in (("left-on", None), ("tidy", "autostop")):
        sm.create_notebook_instance(
            NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=ROLE,
            **({"LifecycleConfigName": config} if config else {}))
        emu.seed.set_notebook_last_modified(name, NOW - timedelta(days=7))
    inventory = collect(emu, "notebook_instances", "notebook_lifecycle_configs")
    assert verdicts(inventory, ["sagemaker_notebook_idle_no_autostop"]) == {
        ("sagemaker_notebook_idle_no_autostop", "left-on"): Status.FAIL,
        ("sagemaker_notebook_idle_no_autostop", "tidy"): Status.PASS,
    }


def test_tags_bulk_then_fallback_when_tagging_api_denied(emu: Emulator) -> None:
    """Tags come from tag:GetResources; with it denied, from ListTags/GetTags per resource,
    with the same answer for the severity policy and X-02."""
    endpoint(emu, "prod-ep", age_days=1, tags={"environment": "prod"})
    endpoint(emu, "bare-ep", age_days=1)
    emu.client("glue").create_job(Name="etl", Role=ROLE, Tags={"project": "churn"},
                                  Command={"Name": "glueetl", "ScriptLocation": "s3://b/j.py"})
    # moto keeps endpoint-config ARNs as tuples; the emulator must still report them right.
    emu.client("sagemaker").add_tags(
        ResourceArn=f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint-config/prod-ep-c",
        Tags=[{"Key": "project", "Value": "churn"}])
    ids = ["ml_cost_allocation_tags_missing", "ml_cost_allocation_tags_missing_glue",
           "ml_cost_allocation_tags_missing_endpoint_config"]
    expected = {("ml_cost_allocation_tags_missing", "prod-ep"): Status.PASS,
                ("ml_cost_allocation_tags_missing", "bare-ep"): Status.FAIL,
                ("ml_cost_allocation_tags_missing_glue", "etl"): Status.PASS,
                ("ml_cost_allocation_tags_missing_endpoint_config", "prod-ep-c"): Status.PASS,
                ("ml_cost_allocation_tags_missing_endpoint_config", "bare-ep-c"): Status.FAIL}
    bulk = collect(emu, "endpoints", "glue_jobs", "tags")
    assert verdicts(bulk, ids) == expected
    emu.faults.add(access_denied(service="tagging", operation="GetResources"))
    fallback = collect(emu, "endpoints", "glue_jobs", "tags")
    assert verdicts(fallback, ids) == expected
    assert fallback.complete(Kind.TAGS)
    sources = {r.data["Source"] for r in fallback.of(Kind.TAGS)}
    assert sources == {"sagemaker:ListTags", "glue:GetTags", "per-resource"}
    [prod] = [r for r in evaluate([by_id()["sagemaker_endpoint_unhealthy_status"]], fallback)
              if r.resource_arn.endswith("/prod-ep")]
    assert (prod.severity.value, prod.evidence["severity_adjustment"]["direction"]) == (
        "critical", "raised")


def test_tags_throttled_is_a_gap_never_untagged(emu: Emulator) -> None:
    """A throttled tagging API is a gap: X-02 says UNKNOWN and severities keep their base."""
    endpoint(emu, "prod-ep", age_days=1, tags={"environment": "prod"})
    emu.faults.add(throttled(service="tagging", operation="GetResources"))
    inventory = collect(emu, "endpoints", "tags")
    assert not inventory.complete(Kind.TAGS)
    assert verdicts(inventory, ["ml_cost_allocation_tags_missing"]) == {
        ("ml_cost_allocation_tags_missing", "prod-ep"): Status.UNKNOWN}
    [result] = evaluate([by_id()["sagemaker_endpoint_unhealthy_status"]], inventory)
    assert result.severity.value == "high"
    assert "tags not collected" in result.evidence["severity_adjustment"]["reason"]


def test_monitoring_schedule_tags_reach_the_tagging_api(emu: Emulator) -> None:
    """Schedules are the emulator's own resources; their tags still appear in GetResources."""
    endpoint(emu, "ep", age_days=1)
    emu.client("sagemaker").create_monitoring_schedule(
        MonitoringScheduleName="ep-dq", Tags=[{"Key": "owner", "Value": "ml-team"}],
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
            "MonitoringJobDefinition": {
                "MonitoringInputs": [{"EndpointInput": {"EndpointName": "ep",
                                                        "LocalPath": "/in"}}],
                "MonitoringOutputConfig": {"MonitoringOutputs": [
                    {"S3Output": {"S3Uri": "s3://b/o", "LocalPath": "/out"}}]},
                "MonitoringResources": {"ClusterConfig": {
                    "InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}},
                "MonitoringAppSpecification": {"ImageUri": "img"}, "RoleArn": ROLE}})
    inventory = collect(emu, "monitoring_schedules", "tags")
    assert verdicts(inventory, ["ml_cost_allocation_tags_missing_monitoring"]) == {
        ("ml_cost_allocation_tags_missing_monitoring", "ep-dq"): Status.PASS}
