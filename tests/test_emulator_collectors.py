"""Every API call mllens' collectors make, against the emulator: valid shapes, no dropped
fields, paging that terminates, and the collectors themselves running without a gap."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore import xform_name

from agent.collectors import COLLECTORS, Builder, CollectOptions
from agent.domain import Kind
from agent.emulator import Emulator
from agent.emulator.echo import shared_members
from agent.emulator.extensions import ECHO_PAIRS
from agent.emulator.shapes import validate_output
from tests.test_emulator_catalog import CATALOG_CALLS, seed_catalog

pytestmark = pytest.mark.emulator

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ml-execution"
KMS = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
VPC = {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]}
OUTPUTS = {"MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://b/r", "LocalPath": "/opt/ml/out",
                                               "S3UploadMode": "EndOfJob"}}], "KmsKeyId": KMS}
CLUSTER = {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                             "VolumeSizeInGB": 20, "VolumeKmsKeyId": KMS}}
NETWORK = {"EnableInterContainerTrafficEncryption": True, "EnableNetworkIsolation": True,
           "VpcConfig": VPC}
ENDPOINT_INPUT = {"EndpointName": "Churn-AB", "LocalPath": "/opt/ml/in"}

# Every create request of the estate, by operation: what the describes must give back.
REQUESTS: dict[str, dict[str, Any]] = {
    "CreateModel": {
        "ModelName": "churn-v7", "ExecutionRoleArn": ROLE, "VpcConfig": VPC,
        "EnableNetworkIsolation": True,
        "PrimaryContainer": {"Image": "img:1.4", "ModelDataUrl": "s3://b/model.tar.gz",
                             "Environment": {"MODE": "prod"}},
    },
    "CreateEndpointConfig": {
        "EndpointConfigName": "churn-cfg",
        "ProductionVariants": [
            {"VariantName": "variant-a", "ModelName": "churn-v7", "InitialInstanceCount": 2,
             "InstanceType": "ml.m5.xlarge", "InitialVariantWeight": 0.8},
            {"VariantName": "variant-b", "ModelName": "churn-v7",
             "ServerlessConfig": {"MemorySizeInMB": 3072, "MaxConcurrency": 10}},
        ],
        "ShadowProductionVariants": [
            {"VariantName": "shadow", "ModelName": "churn-v7", "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0},
        ],
        "DataCaptureConfig": {
            "EnableCapture": True, "InitialSamplingPercentage": 20,
            "DestinationS3Uri": "s3://b/capture", "KmsKeyId": KMS,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
        },
        "AsyncInferenceConfig": {
            "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 4},
            "OutputConfig": {"S3OutputPath": "s3://b/async", "KmsKeyId": KMS},
        },
        "KmsKeyId": KMS, "ExecutionRoleArn": ROLE, "VpcConfig": VPC,
        "EnableNetworkIsolation": True,
    },
    "CreateTrainingJob": {
        "TrainingJobName": "churn-train",
        "AlgorithmSpecification": {"TrainingImage": "img:train", "TrainingInputMode": "File"},
        "RoleArn": ROLE, "HyperParameters": {"epochs": "10"},
        "OutputDataConfig": {"S3OutputPath": "s3://b/out", "KmsKeyId": KMS},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1,
                           "VolumeSizeInGB": 10, "VolumeKmsKeyId": KMS},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200},
        "VpcConfig": VPC, "EnableNetworkIsolation": True,
        "EnableInterContainerTrafficEncryption": True, "EnableManagedSpotTraining": True,
        "CheckpointConfig": {"S3Uri": "s3://b/checkpoints"},
    },
    "CreateNotebookInstance": {
        "NotebookInstanceName": "research", "InstanceType": "ml.t3.medium", "RoleArn": ROLE,
        "SubnetId": VPC["Subnets"][0], "SecurityGroupIds": VPC["SecurityGroupIds"],
        "KmsKeyId": KMS, "DirectInternetAccess": "Disabled", "RootAccess": "Disabled",
        "VolumeSizeInGB": 5, "PlatformIdentifier": "notebook-al2-v2",
        "InstanceMetadataServiceConfiguration": {"MinimumInstanceMetadataServiceVersion": "2"},
    },
    "CreateDataQualityJobDefinition": {
        "JobDefinitionName": "churn-dq", "RoleArn": ROLE, "JobResources": CLUSTER,
        "DataQualityAppSpecification": {"ImageUri": "analyzer"},
        "DataQualityJobInput": {"EndpointInput": ENDPOINT_INPUT},
        "DataQualityJobOutputConfig": OUTPUTS, "NetworkConfig": NETWORK,
        "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
        "DataQualityBaselineConfig": {"ConstraintsResource": {"S3Uri": "s3://b/c.json"}},
    },
    "CreateModelQualityJobDefinition": {
        "JobDefinitionName": "churn-mq", "RoleArn": ROLE, "JobResources": CLUSTER,
        "ModelQualityAppSpecification": {"ImageUri": "img",
                                         "ProblemType": "BinaryClassification"},
        "ModelQualityJobInput": {"EndpointInput": {**ENDPOINT_INPUT, "ProbabilityAttribute": "p"},
                                 "GroundTruthS3Input": {"S3Uri": "s3://b/gt"}},
        "ModelQualityJobOutputConfig": OUTPUTS, "NetworkConfig": NETWORK,
    },
    "CreateModelBiasJobDefinition": {
        "JobDefinitionName": "churn-bias", "RoleArn": ROLE, "JobResources": CLUSTER,
        "ModelBiasAppSpecification": {"ImageUri": "img", "ConfigUri": "s3://b/analysis.json"},
        "ModelBiasJobInput": {"EndpointInput": ENDPOINT_INPUT,
                              "GroundTruthS3Input": {"S3Uri": "s3://b/gt"}},
        "ModelBiasJobOutputConfig": OUTPUTS, "NetworkConfig": NETWORK,
    },
    "CreateModelExplainabilityJobDefinition": {
        "JobDefinitionName": "churn-explain", "RoleArn": ROLE, "JobResources": CLUSTER,
        "ModelExplainabilityAppSpecification": {"ImageUri": "img",
                                                "ConfigUri": "s3://b/analysis.json"},
        "ModelExplainabilityJobInput": {"EndpointInput": ENDPOINT_INPUT},
        "ModelExplainabilityJobOutputConfig": OUTPUTS, "NetworkConfig": NETWORK,
    },
}


def seed(emu: Emulator) -> None:
    """One resource of every kind a collector reads, configured as richly as the API allows."""
    sm = emu.client("sagemaker")
    for operation in ("CreateModel", "CreateEndpointConfig"):
        getattr(sm, xform_name(operation))(**REQUESTS[operation])
    sm.create_endpoint(EndpointName="Churn-AB", EndpointConfigName="churn-cfg")
    for operation, request in REQUESTS.items():
        if operation not in ("CreateModel", "CreateEndpointConfig"):
            getattr(sm, xform_name(operation))(**request)
    sm.create_model_package_group(ModelPackageGroupName="churn", ModelPackageGroupDescription="d")
    sm.create_monitoring_schedule(
        MonitoringScheduleName="churn-mq-daily",
        MonitoringScheduleConfig={"ScheduleConfig": {"ScheduleExpression": "cron(0 0 ? * * *)"},
                                  "MonitoringJobDefinitionName": "churn-mq",
                                  "MonitoringType": "ModelQuality"})
    emu.seed.add_monitoring_execution("churn-mq-daily", "CompletedWithViolations")
    sm.create_inference_component(InferenceComponentName="churn-ic", EndpointName="Churn-AB",
                                  VariantName="variant-a", Specification={"ModelName": "churn-v7"},
                                  RuntimeConfig={"CopyCount": 1})
    aas = emu.client("application-autoscaling")
    target = {"ServiceNamespace": "sagemaker", "ResourceId": "endpoint/Churn-AB/variant/variant-a",
              "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}
    aas.register_scalable_target(**target, MinCapacity=1, MaxCapacity=4)
    tracking = {"TargetValue": 70.0, "PredefinedMetricSpecification": {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}
    aas.put_scaling_policy(**target, PolicyName="invocations", PolicyType="TargetTrackingScaling",
                           TargetTrackingScalingPolicyConfiguration=tracking)
    aas.put_scheduled_action(**target, ScheduledActionName="business-hours",
                             Schedule="cron(0 8 * * ? *)",
                             ScalableTargetAction={"MinCapacity": 2, "MaxCapacity": 6})
    cw = emu.client("cloudwatch")
    cw.put_metric_alarm(
        AlarmName="churn-5xx", Namespace="AWS/SageMaker", MetricName="Invocation5XXErrors",
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
        Dimensions=[{"Name": "EndpointName", "Value": "Churn-AB"},
                    {"Name": "VariantName", "Value": "variant-a"}])
    cw.put_composite_alarm(AlarmName="churn-health", AlarmRule='ALARM("churn-5xx")')
    glue = emu.client("glue")
    glue.create_security_configuration(Name="etl-kms", EncryptionConfiguration={
        "S3Encryption": [{"S3EncryptionMode": "SSE-KMS", "KmsKeyArn": KMS}],
        "CloudWatchEncryption": {"CloudWatchEncryptionMode": "SSE-KMS", "KmsKeyArn": KMS},
        "JobBookmarksEncryption": {"JobBookmarksEncryptionMode": "CSE-KMS", "KmsKeyArn": KMS}})
    glue.create_job(Name="features", Role=ROLE, GlueVersion="4.0", WorkerType="G.1X",
                    NumberOfWorkers=2, SecurityConfiguration="etl-kms",
                    Command={"Name": "glueetl", "ScriptLocation": "s3://b/features.py"})
    glue.put_data_catalog_encryption_settings(DataCatalogEncryptionSettings={
        "EncryptionAtRest": {"CatalogEncryptionMode": "SSE-KMS", "SseAwsKmsKeyId": KMS},
        "ConnectionPasswordEncryption": {"ReturnConnectionPasswordEncrypted": True,
                                         "AwsKmsKeyId": KMS}})
    seed_catalog(emu)


@pytest.fixture(scope="module")
def estate() -> Iterator[Emulator]:
    with Emulator() as emu:
        emu.reset()
        seed(emu)
        yield emu
        emu.reset()


@pytest.fixture(autouse=True)
def no_faults(estate: Emulator) -> Iterator[None]:
    estate.faults.clear()
    yield


SINCE = datetime.now(UTC) - timedelta(days=90)
# (service, operation, parameters): every call in agent/collectors, as the collectors make it.
COLLECTOR_CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("sagemaker", "ListEndpoints", {"MaxResults": 100}),
    ("sagemaker", "DescribeEndpoint", {"EndpointName": "Churn-AB"}),
    ("sagemaker", "DescribeEndpointConfig", {"EndpointConfigName": "churn-cfg"}),
    ("sagemaker", "ListInferenceComponents", {"MaxResults": 100}),
    ("sagemaker", "ListModels", {"MaxResults": 100}),
    ("sagemaker", "DescribeModel", {"ModelName": "churn-v7"}),
    ("sagemaker", "ListTrainingJobs", {"MaxResults": 100, "CreationTimeAfter": SINCE}),
    ("sagemaker", "DescribeTrainingJob", {"TrainingJobName": "churn-train"}),
    ("sagemaker", "ListMonitoringSchedules", {"MaxResults": 100}),
    ("sagemaker", "DescribeMonitoringSchedule", {"MonitoringScheduleName": "churn-mq-daily"}),
    ("sagemaker", "DescribeDataQualityJobDefinition", {"JobDefinitionName": "churn-dq"}),
    ("sagemaker", "DescribeModelQualityJobDefinition", {"JobDefinitionName": "churn-mq"}),
    ("sagemaker", "DescribeModelBiasJobDefinition", {"JobDefinitionName": "churn-bias"}),
    ("sagemaker", "DescribeModelExplainabilityJobDefinition",
     {"JobDefinitionName": "churn-explain"}),
    ("sagemaker", "ListNotebookInstances", {"MaxResults": 100}),
    ("sagemaker", "DescribeNotebookInstance", {"NotebookInstanceName": "research"}),
    ("sagemaker", "ListModelPackageGroups", {"MaxResults": 100}),
    ("application-autoscaling", "DescribeScalableTargets",
     {"ServiceNamespace": "sagemaker", "MaxResults": 50}),
    ("application-autoscaling", "DescribeScalingPolicies",
     {"ServiceNamespace": "sagemaker", "MaxResults": 50}),
    ("application-autoscaling", "DescribeScheduledActions",
     {"ServiceNamespace": "sagemaker", "MaxResults": 50}),
    ("cloudwatch", "DescribeAlarms",
     {"AlarmTypes": ["MetricAlarm", "CompositeAlarm"], "MaxRecords": 100}),
    ("glue", "GetJobs", {"MaxResults": 1000}),
    ("glue", "GetSecurityConfigurations", {"MaxResults": 1000}),
    ("glue", "GetDataCatalogEncryptionSettings", {}),
    *CATALOG_CALLS,
]


def test_collector_calls_cover_every_declared_action() -> None:
    """The call list here names every IAM action the collectors declare, so none goes untested."""
    declared = {action for c in COLLECTORS for action in c.actions}
    iam_prefix = {"resourcegroupstaggingapi": "tag"}  # boto3 name -> IAM service prefix
    tested = {f"{iam_prefix.get(service, service)}:{operation}"
              for service, operation, _ in COLLECTOR_CALLS}
    assert declared == tested


@pytest.mark.parametrize(("service", "operation", "params"), COLLECTOR_CALLS,
                         ids=[f"{s}.{o}" for s, o, _ in COLLECTOR_CALLS])
def test_collector_call_answers_within_the_model(
    estate: Emulator, service: str, operation: str, params: dict[str, Any]
) -> None:
    """Each collector call returns something, and nothing outside botocore's output shape."""
    answer = getattr(estate.client(service), xform_name(operation))(**params)
    body = {k: v for k, v in answer.items() if k != "ResponseMetadata"}
    assert any(v not in (None, [], {}) for v in body.values()), f"empty answer: {body}"
    assert validate_output(service, operation, answer) == []


@pytest.mark.parametrize("pair", ECHO_PAIRS, ids=[p.describe for p in ECHO_PAIRS])
def test_describe_gives_back_every_created_field(estate: Emulator, pair: Any) -> None:
    """Every field a create request set comes back unchanged from the matching describe."""
    request = REQUESTS[pair.create]
    described = getattr(estate.client("sagemaker"), xform_name(pair.describe))(
        **{pair.key: request[pair.key]})
    shared = [m for m in shared_members(pair.service, pair.create, pair.describe) if m in request]
    assert len(shared) >= 3
    assert {m: described.get(m) for m in shared} == {m: request[m] for m in shared}


def test_describe_endpoint_summarises_capture_and_shadow_variants(estate: Emulator) -> None:
    """DescribeEndpoint reports capture as a summary with status and the shadow variants."""
    sm = estate.client("sagemaker")
    got = sm.describe_endpoint(EndpointName="Churn-AB")
    assert got["DataCaptureConfig"] == {
        "EnableCapture": True, "CaptureStatus": "Started", "CurrentSamplingPercentage": 20,
        "DestinationS3Uri": "s3://b/capture", "KmsKeyId": KMS}
    assert got["ShadowProductionVariants"] == [{
        "VariantName": "shadow", "CurrentWeight": 1.0, "DesiredWeight": 1.0,
        "CurrentInstanceCount": 1, "DesiredInstanceCount": 1}]
    estate.seed.set_data_capture_status("Churn-AB", "Stopped")
    estate.seed.set_endpoint_status("Churn-AB", "Failed", failure_reason="capacity")
    try:
        got = sm.describe_endpoint(EndpointName="Churn-AB")
        assert got["DataCaptureConfig"]["CaptureStatus"] == "Stopped"
        assert (got["EndpointStatus"], got["FailureReason"]) == ("Failed", "capacity")
    finally:
        estate.seed.set_data_capture_status("Churn-AB", "Started")
        estate.seed.set_endpoint_status("Churn-AB", "InService")


def test_training_jobs_filter_by_creation_time(estate: Emulator) -> None:
    """CreationTimeAfter keeps jobs created since, and drops them for a later cut-off."""
    sm = estate.client("sagemaker")
    recent = sm.list_training_jobs(CreationTimeAfter=SINCE)["TrainingJobSummaries"]
    later = sm.list_training_jobs(
        CreationTimeAfter=datetime.now(UTC) + timedelta(days=1))["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in recent] == ["churn-train"] and later == []


PAGED_LISTINGS = [
    ("sagemaker", "ListEndpoints", "Endpoints", "EndpointName", "MaxResults", {}),
    ("sagemaker", "ListModels", "Models", "ModelName", "MaxResults", {}),
    ("sagemaker", "ListModelPackageGroups", "ModelPackageGroupSummaryList",
     "ModelPackageGroupName", "MaxResults", {}),
    ("application-autoscaling", "DescribeScalableTargets", "ScalableTargets", "ResourceId",
     "MaxResults", {"ServiceNamespace": "sagemaker"}),
    ("application-autoscaling", "DescribeScalingPolicies", "ScalingPolicies", "PolicyName",
     "MaxResults", {"ServiceNamespace": "sagemaker"}),
    ("application-autoscaling", "DescribeScheduledActions", "ScheduledActions",
     "ScheduledActionName", "MaxResults", {"ServiceNamespace": "sagemaker"}),
    ("glue", "GetJobs", "Jobs", "Name", "MaxResults", {}),
    ("glue", "GetSecurityConfigurations", "SecurityConfigurations", "Name", "MaxResults", {}),
    ("sagemaker", "ListNotebookInstanceLifecycleConfigs", "NotebookInstanceLifecycleConfigs",
     "NotebookInstanceLifecycleConfigName", "MaxResults", {}),
]


def test_listings_page_every_item_once(estate: Emulator) -> None:
    """With a page smaller than the listing, every item comes back exactly once and paging ends."""
    # A region of its own: moto's state is process-wide, and the estate lives in us-east-1.
    count, region = 7, "eu-west-2"
    sm, aas, glue = (estate.client(s, region)
                     for s in ("sagemaker", "application-autoscaling", "glue"))
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
    sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[{
        "VariantName": "v", "ModelName": "m", "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large"}])
    for i in range(count):
        sm.create_model(ModelName=f"m{i}", ExecutionRoleArn=ROLE,
                        PrimaryContainer={"Image": "i"})
        sm.create_endpoint(EndpointName=f"e{i}", EndpointConfigName="c")
        sm.create_model_package_group(ModelPackageGroupName=f"g{i}")
        target = {"ServiceNamespace": "sagemaker", "ResourceId": f"endpoint/e{i}/variant/v",
                  "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}
        aas.register_scalable_target(**target, MinCapacity=1, MaxCapacity=2)
        aas.put_scaling_policy(**target, PolicyName=f"p{i}", PolicyType="StepScaling",
                               StepScalingPolicyConfiguration={"AdjustmentType":
                                                               "ChangeInCapacity"})
        aas.put_scheduled_action(**target, ScheduledActionName=f"s{i}",
                                 Schedule="cron(0 8 * * ? *)",
                                 ScalableTargetAction={"MinCapacity": 1})
        glue.create_job(Name=f"j{i}", Role=ROLE,
                        Command={"Name": "glueetl", "ScriptLocation": "s3://b/j.py"})
        glue.create_security_configuration(Name=f"sc{i}", EncryptionConfiguration={})
        sm.create_notebook_instance_lifecycle_config(NotebookInstanceLifecycleConfigName=f"l{i}")
    seen: dict[str, list[str]] = {}
    for service, operation, key, name_field, size_param, extra in PAGED_LISTINGS:
        client, names, token = estate.client(service, region), [], None
        for _ in range(count + 2):
            params = {**extra, size_param: 3, **({"NextToken": token} if token else {})}
            page = getattr(client, xform_name(operation))(**params)
            assert len(page[key]) <= 3
            names += [item[name_field] for item in page[key]]
            token = page.get("NextToken")
            if not token:
                break
        seen[operation] = names
    expected = count + 1  # ListModels also sees the config's model "m"
    assert {op: (len(n), len(set(n))) for op, n in seen.items()} == {
        op: (expected if op == "ListModels" else count,) * 2 for _, op, *_ in PAGED_LISTINGS}


def test_collectors_run_against_the_emulator_without_gaps(estate: Emulator) -> None:
    """mllens' own collectors (aioboto3) fill every inventory kind and record no gap."""
    import aioboto3

    from agent.aws.handle import RegionHandle, ScanContext

    async def collect() -> tuple[Builder, list[Any]]:
        session = aioboto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
        out = Builder(ACCOUNT, "us-east-1")
        async with RegionHandle(ScanContext(endpoint_url=estate.url), session, ACCOUNT,
                                "us-east-1") as h:
            # With an objective, so the objective metrics collector reads too.
            opts = CollectOptions(objective_window_days=7, objective_endpoints=("*",))
            for collector in COLLECTORS:
                await collector.fn(h, out, opts)
            return out, list(h.gaps)

    out, gaps = asyncio.run(collect())
    assert gaps == []
    empty = [kind for kind in Kind if not out.resources.get(kind)]
    assert empty == []
    [schedule] = out.resources[Kind.MONITORING_SCHEDULES]
    assert schedule.data["JobDefinition"]["JobDefinitionName"] == "churn-mq"
    assert {r.data["AlarmType"] for r in out.resources[Kind.ALARMS]} == {
        "MetricAlarm", "CompositeAlarm"}
