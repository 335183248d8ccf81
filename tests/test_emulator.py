"""The emulator's extensions, through boto3 (and once aioboto3) against a real moto server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from agent.emulator import Emulator, UnknownResource, access_denied
from agent.emulator.extensions import install
from agent.emulator.shapes import validate_output

pytestmark = pytest.mark.emulator

ROLE = "arn:aws:iam::123456789012:role/ml-execution"
OTHER_ACCOUNT = "111122223333"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture(autouse=True)
def clean(emu: Emulator) -> Iterator[None]:
    emu.reset()
    yield


def make_endpoint(emu: Emulator, name: str, region: str = "us-east-1") -> None:
    sm = emu.client("sagemaker", region)
    sm.create_model(ModelName=f"{name}-model", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": "img:1"})
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-cfg",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": f"{name}-model",
                             "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-cfg")


def inline_config(endpoint: str) -> dict[str, Any]:
    return {
        "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
        "MonitoringJobDefinition": {
            "BaselineConfig": {"ConstraintsResource": {"S3Uri": "s3://b/constraints.json"}},
            "MonitoringInputs": [{"EndpointInput": {"EndpointName": endpoint,
                                                    "LocalPath": "/opt/ml/processing/input"}}],
            "MonitoringOutputConfig": {"MonitoringOutputs": [{"S3Output": {
                "S3Uri": "s3://b/reports", "LocalPath": "/opt/ml/processing/output"}}]},
            "MonitoringResources": {"ClusterConfig": {
                "InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
            "MonitoringAppSpecification": {"ImageUri": "analyzer:latest"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "RoleArn": ROLE,
        },
    }


def model_quality_definition(emu: Emulator, name: str, endpoint: str) -> None:
    emu.client("sagemaker").create_model_quality_job_definition(
        JobDefinitionName=name,
        ModelQualityAppSpecification={"ImageUri": "img", "ProblemType": "BinaryClassification"},
        ModelQualityJobInput={
            "EndpointInput": {"EndpointName": endpoint, "LocalPath": "/opt/ml/processing/in",
                              "ProbabilityAttribute": "p"},
            "GroundTruthS3Input": {"S3Uri": "s3://b/gt"},
        },
        ModelQualityJobOutputConfig={"MonitoringOutputs": [{"S3Output": {
            "S3Uri": "s3://b/r", "LocalPath": "/opt/ml/processing/out"}}]},
        JobResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                        "VolumeSizeInGB": 20}},
        RoleArn=ROLE,
    )


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


# --- the shape checker itself -----------------------------------------------------------------


def test_validate_output_flags_missing_required_wrong_type_and_bad_enum() -> None:
    """The checker reports a missing required member, a wrong type, an unknown member, bad enum."""
    problems = validate_output("sagemaker", "ListMonitoringSchedules", {
        "MonitoringScheduleSummaries": [{
            "MonitoringScheduleName": "x",
            "CreationTime": "not a datetime",
            "LastModifiedTime": datetime.now(UTC),
            "MonitoringScheduleStatus": "Sleeping",
            "Bogus": 1,
        }],
    })
    text = "\n".join(problems)
    assert "MonitoringScheduleArn: required member missing" in text
    assert "CreationTime: expected timestamp" in text
    assert "'Sleeping' is not in enum" in text
    assert "Bogus: not a member" in text
    assert len(problems) == 4


def test_validate_output_accepts_a_valid_answer() -> None:
    """A well-formed answer yields no problems."""
    t = datetime.now(UTC)
    assert validate_output("sagemaker", "ListMonitoringSchedules", {
        "MonitoringScheduleSummaries": [{
            "MonitoringScheduleName": "x",
            "MonitoringScheduleArn": "arn:aws:sagemaker:us-east-1:1:monitoring-schedule/x",
            "CreationTime": t, "LastModifiedTime": t, "MonitoringScheduleStatus": "Scheduled",
        }],
        "ResponseMetadata": {"HTTPStatusCode": 200},
    }) == []


# --- Model Monitor -----------------------------------------------------------------------------


def test_monitoring_schedule_inline_round_trip(emu: Emulator) -> None:
    """An inline schedule comes back with its config, DataQuality type and endpoint, no last run."""
    make_endpoint(emu, "Churn-AB")
    sm = emu.client("sagemaker")
    config = inline_config("Churn-AB")
    arn = sm.create_monitoring_schedule(MonitoringScheduleName="churn-dq",
                                        MonitoringScheduleConfig=config)["MonitoringScheduleArn"]
    got = sm.describe_monitoring_schedule(MonitoringScheduleName="churn-dq")
    assert got["MonitoringScheduleArn"] == arn
    assert arn.endswith(":monitoring-schedule/churn-dq")
    assert got["MonitoringScheduleConfig"] == config
    assert got["MonitoringType"] == "DataQuality"
    assert got["EndpointName"] == "Churn-AB"
    assert got["MonitoringScheduleStatus"] == "Scheduled"
    assert "LastMonitoringExecutionSummary" not in got


def test_monitoring_schedule_named_definition_takes_endpoint_from_definition(
    emu: Emulator,
) -> None:
    """A schedule naming a job definition reports that definition's endpoint and its type."""
    make_endpoint(emu, "reco")
    model_quality_definition(emu, "reco-mq", "reco")
    sm = emu.client("sagemaker")
    config = {"ScheduleConfig": {"ScheduleExpression": "cron(0 6 ? * MON *)"},
              "MonitoringJobDefinitionName": "reco-mq", "MonitoringType": "ModelQuality"}
    sm.create_monitoring_schedule(MonitoringScheduleName="reco-weekly",
                                  MonitoringScheduleConfig=config)
    got = sm.describe_monitoring_schedule(MonitoringScheduleName="reco-weekly")
    assert got["MonitoringScheduleConfig"] == config
    assert (got["MonitoringType"], got["EndpointName"]) == ("ModelQuality", "reco")
    summary = sm.list_monitoring_schedules()["MonitoringScheduleSummaries"][0]
    assert summary["MonitoringJobDefinitionName"] == "reco-mq"


def test_monitoring_schedule_unknown_name_is_resource_not_found(emu: Emulator) -> None:
    """Describe and delete of an unknown schedule answer ResourceNotFound with HTTP 400."""
    sm = emu.client("sagemaker")
    for call in (sm.describe_monitoring_schedule, sm.delete_monitoring_schedule):
        with pytest.raises(ClientError) as exc:
            call(MonitoringScheduleName="nope")
        assert error_code(exc) == "ResourceNotFound"
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_monitoring_schedule_missing_definition_or_duplicate_is_refused(emu: Emulator) -> None:
    """A schedule naming a missing job definition, or reusing a name, is refused."""
    make_endpoint(emu, "e")
    sm = emu.client("sagemaker")
    with pytest.raises(ClientError) as exc:
        sm.create_monitoring_schedule(
            MonitoringScheduleName="s",
            MonitoringScheduleConfig={"MonitoringJobDefinitionName": "ghost",
                                      "MonitoringType": "ModelQuality"})
    assert error_code(exc) == "ResourceNotFound"
    sm.create_monitoring_schedule(MonitoringScheduleName="s",
                                  MonitoringScheduleConfig=inline_config("e"))
    with pytest.raises(ClientError) as exc:
        sm.create_monitoring_schedule(MonitoringScheduleName="s",
                                      MonitoringScheduleConfig=inline_config("e"))
    assert error_code(exc) == "ResourceInUse"


def test_monitoring_schedules_list_pages_and_filters(emu: Emulator) -> None:
    """Listing pages with NextToken and filters by endpoint, status and type."""
    make_endpoint(emu, "a")
    make_endpoint(emu, "b")
    model_quality_definition(emu, "b-mq", "b")
    sm = emu.client("sagemaker")
    for i in range(3):
        sm.create_monitoring_schedule(MonitoringScheduleName=f"a-{i}",
                                      MonitoringScheduleConfig=inline_config("a"))
    sm.create_monitoring_schedule(
        MonitoringScheduleName="b-0",
        MonitoringScheduleConfig={"MonitoringJobDefinitionName": "b-mq",
                                  "MonitoringType": "ModelQuality"})
    emu.seed.set_monitoring_schedule_status("a-1", "Stopped")

    names, pages, token = [], 0, None
    while True:
        kwargs: dict[str, Any] = {"MaxResults": 3, **({"NextToken": token} if token else {})}
        resp = sm.list_monitoring_schedules(**kwargs)
        pages += 1
        names += [s["MonitoringScheduleName"] for s in resp["MonitoringScheduleSummaries"]]
        token = resp.get("NextToken")
        if not token:
            break
    assert sorted(names) == ["a-0", "a-1", "a-2", "b-0"] and pages == 2

    def listed(**filters: Any) -> set[str]:
        return {s["MonitoringScheduleName"]
                for s in sm.list_monitoring_schedules(**filters)["MonitoringScheduleSummaries"]}

    assert listed(EndpointName="a") == {"a-0", "a-1", "a-2"}
    assert listed(StatusEquals="Stopped") == {"a-1"}
    assert listed(MonitoringTypeEquals="ModelQuality") == {"b-0"}
    assert listed(EndpointName="a", StatusEquals="Scheduled") == {"a-0", "a-2"}


def test_monitoring_last_execution_is_the_newest_scheduled(emu: Emulator) -> None:
    """LastMonitoringExecutionSummary is the execution with the latest ScheduledTime."""
    make_endpoint(emu, "e")
    sm = emu.client("sagemaker")
    sm.create_monitoring_schedule(MonitoringScheduleName="s",
                                  MonitoringScheduleConfig=inline_config("e"))
    base = datetime(2026, 6, 20, 7, 0, tzinfo=UTC)
    emu.seed.add_monitoring_execution("s", "Completed", scheduled_time=base)
    emu.seed.add_monitoring_execution("s", "Failed", scheduled_time=base + timedelta(hours=2),
                                      failure_reason="Job inputs had no data")
    emu.seed.add_monitoring_execution("s", "CompletedWithViolations",
                                      scheduled_time=base + timedelta(hours=1))
    last = sm.describe_monitoring_schedule(MonitoringScheduleName="s")[
        "LastMonitoringExecutionSummary"]
    assert last["MonitoringExecutionStatus"] == "Failed"
    assert last["FailureReason"] == "Job inputs had no data"
    assert last["ScheduledTime"] == base + timedelta(hours=2)
    assert last["EndpointName"] == "e"
    assert last["ProcessingJobArn"].startswith("arn:aws:sagemaker:us-east-1:123456789012:")


def test_monitoring_executions_list_pages_and_filters(emu: Emulator) -> None:
    """ListMonitoringExecutions pages newest first and filters by schedule and endpoint."""
    make_endpoint(emu, "e1")
    make_endpoint(emu, "e2")
    sm = emu.client("sagemaker")
    for name, endpoint in (("s1", "e1"), ("s2", "e2")):
        sm.create_monitoring_schedule(MonitoringScheduleName=name,
                                      MonitoringScheduleConfig=inline_config(endpoint))
    base = datetime(2026, 6, 1, tzinfo=UTC)
    for hour in range(3):
        emu.seed.add_monitoring_execution("s1", "Completed",
                                          scheduled_time=base + timedelta(hours=hour))
    emu.seed.add_monitoring_execution("s2", "Pending", scheduled_time=base)
    first = sm.list_monitoring_executions(MonitoringScheduleName="s1", MaxResults=2)
    second = sm.list_monitoring_executions(MonitoringScheduleName="s1", MaxResults=2,
                                           NextToken=first["NextToken"])
    times = [r["ScheduledTime"] for r in
             first["MonitoringExecutionSummaries"] + second["MonitoringExecutionSummaries"]]
    assert times == [base + timedelta(hours=h) for h in (2, 1, 0)]
    assert "NextToken" not in second
    pending = sm.list_monitoring_executions(EndpointName="e2")["MonitoringExecutionSummaries"]
    assert [r["MonitoringExecutionStatus"] for r in pending] == ["Pending"]
    assert "ProcessingJobArn" not in pending[0]


def test_monitoring_seed_rejects_unknown_schedule_and_status(emu: Emulator) -> None:
    """The seeding API refuses a schedule that does not exist and a status AWS never reports."""
    make_endpoint(emu, "e")
    emu.client("sagemaker").create_monitoring_schedule(
        MonitoringScheduleName="s", MonitoringScheduleConfig=inline_config("e"))
    with pytest.raises(UnknownResource):
        emu.seed.add_monitoring_execution("ghost", "Completed")
    with pytest.raises(ValueError):
        emu.seed.set_monitoring_schedule_status("s", "Sleeping")
    with pytest.raises(UnknownResource):
        emu.seed.set_monitoring_schedule_status("s", "Failed", region="eu-west-1")


def test_monitoring_schedule_stop_start_and_delete(emu: Emulator) -> None:
    """Stop and start move the status; delete removes the schedule and its executions."""
    make_endpoint(emu, "e")
    sm = emu.client("sagemaker")
    sm.create_monitoring_schedule(MonitoringScheduleName="s",
                                  MonitoringScheduleConfig=inline_config("e"))
    emu.seed.add_monitoring_execution("s", "Completed")
    sm.stop_monitoring_schedule(MonitoringScheduleName="s")
    status = sm.describe_monitoring_schedule(MonitoringScheduleName="s")
    assert status["MonitoringScheduleStatus"] == "Stopped"
    sm.start_monitoring_schedule(MonitoringScheduleName="s")
    status = sm.describe_monitoring_schedule(MonitoringScheduleName="s")
    assert status["MonitoringScheduleStatus"] == "Scheduled"
    sm.delete_monitoring_schedule(MonitoringScheduleName="s")
    assert sm.list_monitoring_schedules()["MonitoringScheduleSummaries"] == []
    assert sm.list_monitoring_executions()["MonitoringExecutionSummaries"] == []


def test_monitoring_store_is_per_account_and_region(emu: Emulator) -> None:
    """A schedule exists only in the account and region that created it."""
    make_endpoint(emu, "e")
    emu.client("sagemaker").create_monitoring_schedule(
        MonitoringScheduleName="s", MonitoringScheduleConfig=inline_config("e"))
    other_region = emu.client("sagemaker", "eu-west-1").list_monitoring_schedules()
    assert other_region["MonitoringScheduleSummaries"] == []
    creds = emu.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/auditor", RoleSessionName="test")["Credentials"]
    other_account = emu.client(
        "sagemaker", aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    assert other_account.list_monitoring_schedules()["MonitoringScheduleSummaries"] == []
    mine = emu.client("sagemaker").list_monitoring_schedules()["MonitoringScheduleSummaries"]
    assert [s["MonitoringScheduleName"] for s in mine] == ["s"]


# --- inference components ----------------------------------------------------------------------


def test_inference_components_round_trip_filters_and_pages(emu: Emulator) -> None:
    """Components list by endpoint, variant and status, page, and describe in Describe shape."""
    make_endpoint(emu, "host-a")
    make_endpoint(emu, "host-b")
    sm = emu.client("sagemaker")
    assert sm.list_inference_components()["InferenceComponents"] == []
    for i, endpoint in enumerate(("host-a", "host-a", "host-b")):
        sm.create_inference_component(
            InferenceComponentName=f"ic-{i}", EndpointName=endpoint, VariantName="AllTraffic",
            Specification={"ModelName": "m", "Container": {"Image": "img:2"},
                           "ComputeResourceRequirements": {"MinMemoryRequiredInMb": 1024}},
            RuntimeConfig={"CopyCount": 2})
    emu.seed.set_inference_component_status("ic-1", "Failed", failure_reason="OOM")

    def listed(**filters: Any) -> set[str]:
        return {c["InferenceComponentName"]
                for c in sm.list_inference_components(**filters)["InferenceComponents"]}

    assert listed(EndpointNameEquals="host-a") == {"ic-0", "ic-1"}
    assert listed(StatusEquals="Failed") == {"ic-1"}
    assert listed(VariantNameEquals="AllTraffic") == {"ic-0", "ic-1", "ic-2"}
    first = sm.list_inference_components(MaxResults=2)
    second = sm.list_inference_components(MaxResults=2, NextToken=first["NextToken"])
    assert len(first["InferenceComponents"]) + len(second["InferenceComponents"]) == 3
    got = sm.describe_inference_component(InferenceComponentName="ic-1")
    assert got["FailureReason"] == "OOM"
    assert got["Specification"]["Container"]["DeployedImage"]["SpecifiedImage"] == "img:2"
    assert got["RuntimeConfig"] == {"DesiredCopyCount": 2, "CurrentCopyCount": 2}
    assert got["EndpointArn"].endswith("endpoint/host-a")


def test_inference_component_on_missing_endpoint_is_refused(emu: Emulator) -> None:
    """A component on an endpoint that does not exist, or describing an unknown one, fails."""
    sm = emu.client("sagemaker")
    with pytest.raises(ClientError) as exc:
        sm.create_inference_component(InferenceComponentName="x", EndpointName="ghost",
                                      Specification={"ModelName": "m"})
    assert error_code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        sm.describe_inference_component(InferenceComponentName="x")
    assert "Could not find" in exc.value.response["Error"]["Message"]


# --- CloudWatch ----------------------------------------------------------------------------------

MATH_METRICS = [
    {"Id": "e1", "Expression": "100 * (m2 / m1)", "Label": "5xx percent", "ReturnData": True},
    {"Id": "m1", "AccountId": "123456789012", "ReturnData": False, "MetricStat": {
        "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations",
                   "Dimensions": [{"Name": "EndpointName", "Value": "reco"},
                                  {"Name": "VariantName", "Value": "AllTraffic"}]},
        "Period": 300, "Stat": "Sum"}},
    {"Id": "m2", "ReturnData": False, "MetricStat": {
        "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocation5XXErrors",
                   "Dimensions": [{"Name": "EndpointName", "Value": "reco"}]},
        "Period": 300, "Stat": "Sum"}},
]


def put_alarms(emu: Emulator) -> Any:
    cw = emu.client("cloudwatch")
    cw.put_metric_alarm(
        AlarmName="latency", Namespace="AWS/SageMaker", MetricName="ModelLatency",
        ExtendedStatistic="p90", Period=300, EvaluationPeriods=3, DatapointsToAlarm=2,
        Threshold=500000.0, ComparisonOperator="GreaterThanThreshold", Unit="Microseconds",
        Dimensions=[{"Name": "EndpointName", "Value": "reco"},
                    {"Name": "VariantName", "Value": "AllTraffic"}],
        AlarmActions=["arn:aws:sns:us-east-1:123456789012:oncall"], TreatMissingData="missing")
    cw.put_metric_alarm(AlarmName="error-rate", EvaluationPeriods=2, Threshold=5.0,
                        ComparisonOperator="GreaterThanOrEqualToThreshold", Metrics=MATH_METRICS)
    cw.put_composite_alarm(AlarmName="reco-health",
                           AlarmRule='ALARM("latency") OR ALARM(error-rate)',
                           AlarmActions=["arn:aws:sns:us-east-1:123456789012:oncall"],
                           ActionsSuppressor="maintenance", ActionsSuppressorWaitPeriod=60,
                           ActionsSuppressorExtensionPeriod=60)
    return cw


def test_describe_alarms_returns_both_kinds_when_asked(emu: Emulator) -> None:
    """AlarmTypes selects the lists; without it only metric alarms come back, as in AWS."""
    cw = put_alarms(emu)
    both = cw.describe_alarms(AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    assert {a["AlarmName"] for a in both["MetricAlarms"]} == {"latency", "error-rate"}
    [composite] = both["CompositeAlarms"]
    assert composite["AlarmRule"] == 'ALARM("latency") OR ALARM(error-rate)'
    assert composite["ActionsSuppressor"] == "maintenance"
    default = cw.describe_alarms()
    assert len(default["MetricAlarms"]) == 2 and default["CompositeAlarms"] == []
    only = cw.describe_alarms(AlarmTypes=["CompositeAlarm"])
    assert only["MetricAlarms"] == [] and len(only["CompositeAlarms"]) == 1
    children = cw.describe_alarms(ChildrenOfAlarmName="reco-health")
    assert {a["AlarmName"] for a in children["MetricAlarms"]} == {"latency", "error-rate"}


def test_describe_alarms_keeps_metric_math_and_dimensions(emu: Emulator) -> None:
    """Metric-math queries survive intact (AccountId too) with no top-level metric fields."""
    cw = put_alarms(emu)
    alarms = {a["AlarmName"]: a for a in cw.describe_alarms()["MetricAlarms"]}
    math, simple = alarms["error-rate"], alarms["latency"]
    assert math["Metrics"] == MATH_METRICS
    assert not {"MetricName", "Namespace", "Dimensions", "Period"} & set(math)
    assert simple["Dimensions"] == [{"Name": "EndpointName", "Value": "reco"},
                                    {"Name": "VariantName", "Value": "AllTraffic"}]
    assert (simple["ExtendedStatistic"], simple["Unit"]) == ("p90", "Microseconds")
    assert "Metrics" not in simple
    assert simple["StateTransitionedTimestamp"] == simple["StateUpdatedTimestamp"]


def test_describe_alarms_pages_with_max_records(emu: Emulator) -> None:
    """MaxRecords and NextToken page metric and composite alarms together, each once."""
    cw = put_alarms(emu)
    seen: list[str] = []
    token = None
    for _ in range(5):
        kwargs: dict[str, Any] = {"AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
                                  "MaxRecords": 2, **({"NextToken": token} if token else {})}
        page = cw.describe_alarms(**kwargs)
        seen += [a["AlarmName"] for a in page["MetricAlarms"] + page["CompositeAlarms"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == ["error-rate", "latency", "reco-health"]


# --- every extended operation against the model -------------------------------------------------


def test_extended_operations_validate_against_output_shapes(emu: Emulator) -> None:
    """Every operation the emulator adds or rewrites answers within botocore's output shape."""
    make_endpoint(emu, "e")
    model_quality_definition(emu, "mq", "e")
    sm = emu.client("sagemaker")
    sm.create_monitoring_schedule(MonitoringScheduleName="inline",
                                  MonitoringScheduleConfig=inline_config("e"))
    sm.create_monitoring_schedule(
        MonitoringScheduleName="named",
        MonitoringScheduleConfig={"ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
                                  "MonitoringJobDefinitionName": "mq",
                                  "MonitoringType": "ModelQuality"})
    emu.seed.add_monitoring_execution("inline", "Failed", failure_reason="boom")
    emu.seed.add_monitoring_execution("named", "Pending")
    sm.create_inference_component(
        InferenceComponentName="ic", EndpointName="e", VariantName="AllTraffic",
        Specification={"ModelName": "e-model", "Container": {"Image": "img", "Environment": {}},
                       "StartupParameters": {"ModelDataDownloadTimeoutInSeconds": 600}},
        RuntimeConfig={"CopyCount": 1})
    cw = put_alarms(emu)
    calls: list[tuple[str, str, Any]] = [
        ("sagemaker", "CreateMonitoringSchedule", lambda: sm.create_monitoring_schedule(
            MonitoringScheduleName="third", MonitoringScheduleConfig=inline_config("e"))),
        ("sagemaker", "DescribeMonitoringSchedule",
         lambda: sm.describe_monitoring_schedule(MonitoringScheduleName="inline")),
        ("sagemaker", "DescribeMonitoringSchedule",
         lambda: sm.describe_monitoring_schedule(MonitoringScheduleName="named")),
        ("sagemaker", "ListMonitoringSchedules",
         lambda: sm.list_monitoring_schedules(MaxResults=1)),
        ("sagemaker", "ListMonitoringExecutions", lambda: sm.list_monitoring_executions()),
        ("sagemaker", "StopMonitoringSchedule",
         lambda: sm.stop_monitoring_schedule(MonitoringScheduleName="third")),
        ("sagemaker", "StartMonitoringSchedule",
         lambda: sm.start_monitoring_schedule(MonitoringScheduleName="third")),
        ("sagemaker", "DeleteMonitoringSchedule",
         lambda: sm.delete_monitoring_schedule(MonitoringScheduleName="third")),
        ("sagemaker", "ListInferenceComponents", lambda: sm.list_inference_components()),
        ("sagemaker", "DescribeInferenceComponent",
         lambda: sm.describe_inference_component(InferenceComponentName="ic")),
        ("sagemaker", "CreateInferenceComponent", lambda: sm.create_inference_component(
            InferenceComponentName="ic2", EndpointName="e", Specification={"ModelName": "m"})),
        ("sagemaker", "DeleteInferenceComponent",
         lambda: sm.delete_inference_component(InferenceComponentName="ic2")),
        ("cloudwatch", "DescribeAlarms",
         lambda: cw.describe_alarms(AlarmTypes=["MetricAlarm", "CompositeAlarm"])),
        ("cloudwatch", "PutCompositeAlarm", lambda: cw.put_composite_alarm(
            AlarmName="c2", AlarmRule='OK("latency")')),
    ]
    problems = {f"{service}.{op}#{i}": validate_output(service, op, call())
                for i, (service, op, call) in enumerate(calls)}
    assert {k: v for k, v in problems.items() if v} == {}


# --- lifecycle ------------------------------------------------------------------------------------


def test_reset_clears_moto_extensions_and_faults(emu: Emulator) -> None:
    """reset() forgets moto's resources, the extension stores and the fault rules."""
    make_endpoint(emu, "e")
    sm = emu.client("sagemaker")
    sm.create_monitoring_schedule(MonitoringScheduleName="s",
                                  MonitoringScheduleConfig=inline_config("e"))
    emu.faults.add(access_denied(operation="ListModels"))
    emu.reset()
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.list_monitoring_schedules()["MonitoringScheduleSummaries"] == []
    assert sm.list_models()["Models"] == []  # would be denied if the rule survived
    assert emu.faults.active == ()


def test_install_twice_is_harmless(emu: Emulator) -> None:
    """A second install() wraps nothing again: handlers keep their identity and still work."""
    from moto.sagemaker.responses import SageMakerResponse

    before = (SageMakerResponse.describe_model, SageMakerResponse.describe_endpoint)
    install()
    install()
    assert (SageMakerResponse.describe_model, SageMakerResponse.describe_endpoint) == before
    sm = emu.client("sagemaker")
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"},
                    EnableNetworkIsolation=True)
    assert sm.describe_model(ModelName="m")["EnableNetworkIsolation"] is True


def test_emulator_port_and_url_are_free_port_on_loopback() -> None:
    """A second emulator gets its own free port on 127.0.0.1 and stops cleanly."""
    with Emulator() as other:
        assert other.port > 0
        assert other.url == f"http://127.0.0.1:{other.port}"
        assert other.client("sagemaker").list_endpoints()["Endpoints"] is not None
    assert not other.running
    with pytest.raises(RuntimeError):
        _ = other.port


def test_aioboto3_client_reads_extensions(emu: Emulator) -> None:
    """The async client the scanner uses parses the extended answers (schedules, alarms, ICs)."""
    import aioboto3

    make_endpoint(emu, "e")
    emu.client("sagemaker").create_monitoring_schedule(
        MonitoringScheduleName="s", MonitoringScheduleConfig=inline_config("e"))
    emu.seed.add_monitoring_execution("s", "CompletedWithViolations")
    emu.client("sagemaker").create_inference_component(
        InferenceComponentName="ic", EndpointName="e", Specification={"ModelName": "m"})
    put_alarms(emu)

    async def scan() -> tuple[Any, Any, Any]:
        session = aioboto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                   region_name="us-east-1")
        async with session.client("sagemaker", endpoint_url=emu.url) as sm, \
                session.client("cloudwatch", endpoint_url=emu.url) as cw:
            listed = await sm.list_monitoring_schedules()
            name = listed["MonitoringScheduleSummaries"][0]["MonitoringScheduleName"]
            described, components, alarms = await asyncio.gather(
                sm.describe_monitoring_schedule(MonitoringScheduleName=name),
                sm.list_inference_components(EndpointNameEquals="e"),
                cw.describe_alarms(AlarmTypes=["MetricAlarm", "CompositeAlarm"]),
            )
            return described, components, alarms

    described, components, alarms = asyncio.run(scan())
    summary = described["LastMonitoringExecutionSummary"]
    assert summary["MonitoringExecutionStatus"] == "CompletedWithViolations"
    assert [c["InferenceComponentName"] for c in components["InferenceComponents"]] == ["ic"]
    assert [a["AlarmName"] for a in alarms["CompositeAlarms"]] == ["reco-health"]
    assert validate_output("sagemaker", "DescribeMonitoringSchedule", described) == []
