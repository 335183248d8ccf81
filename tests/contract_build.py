"""Builders for the check contract (tests/test_check_contract.py): one well-configured resource
of each kind, which a case then breaks in exactly one way. Records use the API's own field
names, as the collectors store them; times are relative to `tests.factories.NOW`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from agent.domain import Inventory, Kind, Resource, Status, freeze
from checks.options import EvaluationOptions
from tests.factories import ACCOUNT, NOW, REGION, gap, inv, res

TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:ml-oncall"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/xgboost:1.7-1"
OLD = NOW - timedelta(days=30)
VPC = {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]}
AAS = (Kind.SCALABLE_TARGETS, Kind.SCALING_POLICIES, Kind.SCHEDULED_ACTIONS)
DROP = object()  # a field value meaning "leave this field out of the record"


@dataclass(frozen=True)
class Case:
    """An inventory and the finding (resource name, "/sub-resource") that must get a status."""

    inventory: Inventory
    target: str
    params: Mapping[str, Any] = field(default_factory=dict)
    # What the scan passes to checks that take options (the objectives).
    options: EvaluationOptions | None = None


# Per status: a Case that produces it, or the reason the check cannot produce it.
Contract = dict[Status, Case | str]


def _merge(base: dict[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    out = {**base, **data}
    return {k: v for k, v in out.items() if v is not DROP}


def result_key(arn: str, sub: str) -> str:
    base = arn.rsplit("/", 1)[-1] if "/" in arn else arn.rsplit(":", 1)[-1]
    return f"{base}/{sub}" if sub else base


def undescribed(kind: Kind, name: str, **data: Any) -> Resource:
    """A listed resource whose describe failed: the runner answers UNKNOWN for it."""
    return res(kind, name, incomplete="describe: throttled", **data)


def gapped(*resources: Resource, missing: Kind, kinds: tuple[Kind, ...] = ()) -> Inventory:
    """An inventory where `missing` could not be collected (a recorded gap)."""
    return inv(*resources, kinds=kinds, gaps=[gap(missing)])


# --- SageMaker hosting -------------------------------------------------------------------------


def ep(name: str = "ep", status: str = "InService", *, config: str = "cfg", count: int = 1,
       variants: list[dict[str, Any]] | None = None, age_days: int = 30,
       modified_days: int | None = None, **data: Any) -> Resource:
    created = NOW - timedelta(days=age_days)
    modified = NOW - timedelta(days=age_days if modified_days is None else modified_days)
    live = [{"VariantName": "AllTraffic", "CurrentInstanceCount": count}] if variants is None \
        else variants
    base = {"EndpointName": name, "EndpointStatus": status, "EndpointConfigName": config,
            "ProductionVariants": live, "CreationTime": created, "LastModifiedTime": modified}
    return res(Kind.ENDPOINTS, name, **_merge(base, data))


def cfg(name: str = "cfg", *, instance: str = "ml.m5.large", count: int = 1, model: str = "m",
        variants: list[dict[str, Any]] | None = None, **data: Any) -> Resource:
    specs = [{"VariantName": "AllTraffic", "ModelName": model, "InstanceType": instance,
              "InitialInstanceCount": count}] if variants is None else variants
    base = {"EndpointConfigName": name, "ProductionVariants": specs}
    return res(Kind.ENDPOINT_CONFIGS, name, **_merge(base, data))


def serverless_cfg(name: str = "cfg", **data: Any) -> Resource:
    return cfg(name, variants=[{"VariantName": "AllTraffic", "ModelName": "m",
                                "ServerlessConfig": {"MemorySizeInMB": 2048,
                                                     "MaxConcurrency": 5}}], **data)


def model(name: str = "m", *, image: str = IMAGE, package: str | None = None,
          **data: Any) -> Resource:
    container: dict[str, Any] = {"Image": image}
    if package:
        container["ModelPackageName"] = package
    base = {"ModelName": name, "PrimaryContainer": container, "EnableNetworkIsolation": True,
            "VpcConfig": VPC}
    return res(Kind.MODELS, name, **_merge(base, data))


def package_arn(group: str, version: int, account: str = ACCOUNT) -> str:
    return f"arn:aws:sagemaker:{REGION}:{account}:model-package/{group}/{version}"


def package(group: str, version: int, approval: str) -> Resource:
    arn = package_arn(group, version)
    return Resource(Kind.MODEL_PACKAGES, arn, f"{group}/{version}", ACCOUNT, REGION, freeze({
        "ModelPackageGroupName": group, "ModelPackageVersion": version,
        "ModelPackageArn": arn, "ModelApprovalStatus": approval,
        "ModelPackageStatus": "Completed"}))


def alarm(name: str, metric: str = "Invocation5XXErrors", namespace: str = "AWS/SageMaker",
          dims: Mapping[str, str] | None = None, actions: bool = True, **data: Any) -> Resource:
    dims = {"EndpointName": "ep", "VariantName": "AllTraffic"} if dims is None else dims
    base = {"AlarmName": name, "AlarmType": "MetricAlarm", "MetricName": metric,
            "Namespace": namespace, "Dimensions": [{"Name": k, "Value": v}
                                                   for k, v in dims.items()],
            "AlarmActions": [TOPIC] if actions else [], "ActionsEnabled": True,
            "StateValue": "OK", "StateTransitionedTimestamp": OLD, "Threshold": 5.0}
    return res(Kind.ALARMS, name, **_merge(base, data))


def composite(name: str, rule: str) -> Resource:
    return res(Kind.ALARMS, name, AlarmName=name, AlarmType="CompositeAlarm", AlarmRule=rule,
               ActionsEnabled=True, AlarmActions=[TOPIC], StateValue="OK")


def target(endpoint: str = "ep", variant: str = "AllTraffic", **data: Any) -> Resource:
    rid = f"endpoint/{endpoint}/variant/{variant}"
    base = {"ResourceId": rid, "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "MinCapacity": 1, "MaxCapacity": 4, "ServiceNamespace": "sagemaker"}
    return res(Kind.SCALABLE_TARGETS, rid, **_merge(base, data))


def policy(endpoint: str = "ep", variant: str = "AllTraffic") -> Resource:
    rid = f"endpoint/{endpoint}/variant/{variant}"
    return res(Kind.SCALING_POLICIES, f"{endpoint}-tt", PolicyName=f"{endpoint}-tt",
               ResourceId=rid, ScalableDimension="sagemaker:variant:DesiredInstanceCount",
               PolicyType="TargetTrackingScaling",
               TargetTrackingScalingPolicyConfiguration={"TargetValue": 70.0})


# --- metrics ------------------------------------------------------------------------------------


def series(metric: str, values: list[float], *, variant: str = "AllTraffic",
           period: int = 3600, status: str = "Complete") -> dict[str, Any]:
    end = NOW.replace(minute=0, second=0, microsecond=0)
    return {"MetricName": metric, "Dimensions": {"EndpointName": "ep", "VariantName": variant},
            "Period": period, "StatusCode": status,
            "Timestamps": [end - timedelta(seconds=period * (i + 1)) for i in range(len(values))],
            "Values": values}


def metrics(name: str = "ep", *found: dict[str, Any], days: int = 14) -> Resource:
    end = NOW.replace(minute=0, second=0, microsecond=0)
    return res(Kind.ENDPOINT_METRICS, name, EndpointName=name, Series=list(found),
               Window={"StartTime": end - timedelta(days=days), "EndTime": end,
                       "LookbackDays": days})


def hourly(metric: str, value: float, hours: int = 72) -> dict[str, Any]:
    return series(metric, [value] * hours)


# --- Model Monitor ------------------------------------------------------------------------------


def job(**overrides: Any) -> dict[str, Any]:
    """A hardened inline monitoring job definition; `overrides` replace top-level parts."""
    base = {
        "MonitoringInputs": [{"EndpointInput": {"EndpointName": "ep", "LocalPath": "/in"}}],
        "BaselineConfig": {"ConstraintsResource": {"S3Uri": "s3://b/constraints.json"}},
        "NetworkConfig": {"EnableNetworkIsolation": True,
                          "EnableInterContainerTrafficEncryption": True},
        "MonitoringResources": {"ClusterConfig": {"InstanceCount": 1,
                                                  "InstanceType": "ml.m5.xlarge",
                                                  "VolumeKmsKeyId": KEY}},
        "MonitoringOutputConfig": {"KmsKeyId": KEY},
    }
    return _merge(base, overrides)


def schedule(name: str = "dq", *, endpoint: str | None = "ep", status: str = "Scheduled",
             last: str | None = None, last_age: timedelta = timedelta(minutes=30),
             definition: dict[str, Any] | None = None,
             expression: str = "cron(0 * ? * * *)", **data: Any) -> Resource:
    config = {"ScheduleConfig": {"ScheduleExpression": expression},
              "MonitoringType": "DataQuality",
              "MonitoringJobDefinition": job() if definition is None else definition}
    base: dict[str, Any] = {"MonitoringScheduleName": name, "MonitoringScheduleStatus": status,
                            "MonitoringType": "DataQuality", "CreationTime": OLD,
                            "LastModifiedTime": OLD, "MonitoringScheduleConfig": config}
    if endpoint:
        base["EndpointName"] = endpoint
    if last:
        base["LastMonitoringExecutionSummary"] = {
            "MonitoringExecutionStatus": last, "ScheduledTime": NOW - last_age,
            "CreationTime": NOW - last_age, "LastModifiedTime": NOW - last_age}
    return res(Kind.MONITORING_SCHEDULES, name, **_merge(base, data))


def capture(status: str = "Started") -> dict[str, Any]:
    return {"EnableCapture": True, "CaptureStatus": status, "CurrentSamplingPercentage": 20,
            "DestinationS3Uri": "s3://b/capture", "KmsKeyId": KEY}


# --- training, notebooks, Glue, tags ------------------------------------------------------------


def training(name: str = "train", **data: Any) -> Resource:
    base = {
        "TrainingJobName": name, "TrainingJobStatus": "Completed", "CreationTime": OLD,
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1,
                           "VolumeKmsKeyId": KEY},
        "OutputDataConfig": {"S3OutputPath": "s3://b/out", "KmsKeyId": KEY},
        "EnableNetworkIsolation": True, "EnableInterContainerTrafficEncryption": True,
        "VpcConfig": VPC, "EnableManagedSpotTraining": True,
        "CheckpointConfig": {"S3Uri": "s3://b/ckpt"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 7200, "MaxWaitTimeInSeconds": 14400},
        "TrainingTimeInSeconds": 7200, "BillableTimeInSeconds": 3000,
        "ExperimentConfig": {"ExperimentName": "churn"}, "ProfilingStatus": "Enabled",
    }
    return res(Kind.TRAINING_JOBS, name, **_merge(base, data))


def notebook(name: str = "nb", **data: Any) -> Resource:
    base = {
        "NotebookInstanceName": name, "NotebookInstanceStatus": "InService",
        "InstanceType": "ml.t3.medium", "DirectInternetAccess": "Disabled",
        "RootAccess": "Disabled", "SubnetId": "subnet-1", "KmsKeyId": KEY,
        "PlatformIdentifier": "notebook-al2023-v1",
        "InstanceMetadataServiceConfiguration": {"MinimumInstanceMetadataServiceVersion": "2"},
        "LastModifiedTime": NOW - timedelta(hours=1),
    }
    return res(Kind.NOTEBOOK_INSTANCES, name, **_merge(base, data))


def lifecycle(name: str = "lc", autostop: bool | None = True) -> Resource:
    return res(Kind.NOTEBOOK_LIFECYCLE_CONFIGS, name, NotebookInstanceLifecycleConfigName=name,
               OnStart=[{"Decoded": autostop is not None, "AutoStop": autostop}])


def glue_job(name: str = "j", kind: str = "glueetl", **data: Any) -> Resource:
    base = {
        "Name": name, "Command": {"Name": kind, "ScriptLocation": "s3://b/j.py"},
        "GlueVersion": "4.0", "SecurityConfiguration": "sc", "MaxRetries": 1, "Timeout": 60,
        "WorkerType": "G.1X", "NumberOfWorkers": 2,
        "DefaultArguments": {"--job-bookmark-option": "job-bookmark-enable",
                             "--enable-continuous-cloudwatch-log": "true",
                             "--enable-metrics": "true"},
    }
    if kind == "pythonshell":
        base["Command"]["PythonVersion"] = "3.9"
    return res(Kind.GLUE_JOBS, name, **_merge(base, data))


def glue_runs(name: str = "j", *states: str, days_apart: int = 1) -> Resource:
    runs = [{"Id": f"jr_{i}", "Attempt": 0, "JobRunState": state,
             "StartedOn": NOW - timedelta(days=days_apart * i + 1), "ExecutionTime": 600}
            for i, state in enumerate(states)]
    return res(Kind.GLUE_JOB_RUNS, name, JobName=name, JobRuns=runs)


def security_configuration(name: str = "sc", **modes: str) -> Resource:
    enc = {"S3Encryption": [{"S3EncryptionMode": modes.get("s3", "SSE-KMS"), "KmsKeyArn": KEY}],
           "CloudWatchEncryption": {"CloudWatchEncryptionMode": modes.get("cw", "SSE-KMS")},
           "JobBookmarksEncryption": {"JobBookmarksEncryptionMode": modes.get("bm", "CSE-KMS")}}
    return res(Kind.GLUE_SECURITY_CONFIGURATIONS, name, Name=name, EncryptionConfiguration=enc)


def tags_of(resource: Resource, incomplete: str | None = None, **tags: str) -> Resource:
    return Resource(Kind.TAGS, resource.arn, resource.arn, ACCOUNT, REGION, freeze({
        "ResourceARN": resource.arn, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }), incomplete)
