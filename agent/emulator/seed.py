"""The demo estate: a realistic ML account in two regions, some of it well built, some not.

Created through the AWS APIs (boto3 against the emulator) like a team's own tooling would, then
moved with the emulator's seeding API into states only AWS itself produces (failed endpoints,
monitoring executions with violations). One region denies two read APIs, as a restrictive SCP
would, so the demo also shows UNKNOWN findings and recorded gaps.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3

from agent.emulator.faults import FaultRule
from agent.emulator.seed_catalog import seed_catalog
from agent.emulator.seed_objectives import seed_objective_metrics
from agent.emulator.server import Emulator
from agent.emulator.store import now

DEMO_REGIONS = ("us-east-1", "eu-west-1")
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerExecution"
IMAGE = f"{ACCOUNT}.dkr.ecr.{{region}}.amazonaws.com/xgboost:1.7-1"
PUBLIC_IMAGE = "docker.io/library/python:3.11"
KMS = f"arn:aws:kms:{{region}}:{ACCOUNT}:key/0c3a2f4e-1111-2222-3333-444455556666"
VPC = {"SecurityGroupIds": ["sg-0a1b2c3d"], "Subnets": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"]}
TOPIC = f"arn:aws:sns:{{region}}:{ACCOUNT}:ml-oncall"


def clients(url: str, region: str) -> dict[str, Any]:
    kw = {
        "endpoint_url": url,
        "region_name": region,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    return {
        s: boto3.client(s, **kw)  # type: ignore[call-overload]
        for s in ("sagemaker", "cloudwatch", "application-autoscaling", "glue")
    }


def _model(sm: Any, name: str, region: str, *, hardened: bool, public: bool = False) -> None:
    kw: dict[str, Any] = {}
    if hardened:
        kw = {"VpcConfig": VPC, "EnableNetworkIsolation": True}
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": PUBLIC_IMAGE if public else IMAGE.format(region=region),
            "ModelDataUrl": f"s3://ml-artifacts-{region}/{name}/model.tar.gz",
        },
        **kw,
    )


def _variant(name: str, model: str, instance: str, count: int) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": model,
        "InstanceType": instance,
        "InitialInstanceCount": count,
        "InitialVariantWeight": 1.0,
    }


def _capture(region: str, bucket_prefix: str, *, kms: bool) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 20,
        "DestinationS3Uri": f"s3://ml-capture-{region}/{bucket_prefix}",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    }
    if kms:
        cfg["KmsKeyId"] = KMS.format(region=region)
    return cfg


def _variant_alarm(cw: Any, region: str, endpoint: str, variant: str, metric: str,
                   threshold: float) -> None:
    cw.put_metric_alarm(
        AlarmName=f"{endpoint}-{variant}-{metric}",
        Namespace="AWS/SageMaker",
        MetricName=metric,
        Dimensions=[
            {"Name": "EndpointName", "Value": endpoint},
            {"Name": "VariantName", "Value": variant},
        ],
        Statistic="Average" if metric == "ModelLatency" else "Sum",
        Period=60,
        EvaluationPeriods=5,
        DatapointsToAlarm=3,
        Threshold=threshold,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[TOPIC.format(region=region)],
        ActionsEnabled=True,
    )


def _math_error_rate_alarm(cw: Any, region: str, endpoint: str, variant: str) -> None:
    """A 5XX error-rate alarm written as metric math: covers the variant through its inputs."""
    dims = [
        {"Name": "EndpointName", "Value": endpoint},
        {"Name": "VariantName", "Value": variant},
    ]
    cw.put_metric_alarm(
        AlarmName=f"{endpoint}-{variant}-5xx-rate",
        Metrics=[
            {
                "Id": "errors",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocation5XXErrors",
                               "Dimensions": dims},
                    "Period": 60,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
            {
                "Id": "calls",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations",
                               "Dimensions": dims},
                    "Period": 60,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
            {"Id": "rate", "Expression": "100 * errors / calls", "ReturnData": True},
        ],
        EvaluationPeriods=5,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[TOPIC.format(region=region)],
        ActionsEnabled=True,
    )


def _autoscale(aas: Any, endpoint: str, variant: str) -> None:
    resource = f"endpoint/{endpoint}/variant/{variant}"
    aas.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=resource,
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=2,
        MaxCapacity=8,
    )
    aas.put_scaling_policy(
        PolicyName=f"{endpoint}-{variant}-invocations",
        ServiceNamespace="sagemaker",
        ResourceId=resource,
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 70.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
        },
    )


def _monitor(sm: Any, name: str, endpoint: str, region: str, *, hardened: bool) -> None:
    network: dict[str, Any] = {}
    output: dict[str, Any] = {
        "MonitoringOutputs": [{"S3Output": {
            "S3Uri": f"s3://ml-monitoring-{region}/{name}", "LocalPath": "/opt/ml/processing/out",
        }}],
    }
    cluster: dict[str, Any] = {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                               "VolumeSizeInGB": 20}
    if hardened:
        network = {"NetworkConfig": {"EnableNetworkIsolation": True,
                                     "EnableInterContainerTrafficEncryption": True,
                                     "VpcConfig": VPC}}
        output["KmsKeyId"] = KMS.format(region=region)
        cluster["VolumeKmsKeyId"] = KMS.format(region=region)
    definition: dict[str, Any] = {
        "MonitoringInputs": [{"EndpointInput": {
            "EndpointName": endpoint, "LocalPath": "/opt/ml/processing/input",
        }}],
        "MonitoringOutputConfig": output,
        "MonitoringResources": {"ClusterConfig": cluster},
        "MonitoringAppSpecification": {
            "ImageUri": (
                f"156813124566.dkr.ecr.{region}.amazonaws.com/sagemaker-model-monitor-analyzer"
            )
        },
        "RoleArn": ROLE,
        **network,
    }
    if hardened:
        definition["BaselineConfig"] = {
            "ConstraintsResource": {"S3Uri": f"s3://ml-monitoring-{region}/{name}/constraints.json"},
            "StatisticsResource": {"S3Uri": f"s3://ml-monitoring-{region}/{name}/statistics.json"},
        }
    sm.create_monitoring_schedule(
        MonitoringScheduleName=name,
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
            "MonitoringJobDefinition": definition,
            "MonitoringType": "DataQuality",
        },
    )


def _training(sm: Any, name: str, region: str, *, hardened: bool, instance: str) -> None:
    kw: dict[str, Any] = {}
    if hardened:
        kw = {
            "VpcConfig": VPC,
            "EnableNetworkIsolation": True,
            "EnableInterContainerTrafficEncryption": True,
            "EnableManagedSpotTraining": True,
            "CheckpointConfig": {"S3Uri": f"s3://ml-checkpoints-{region}/{name}"},
            "ExperimentConfig": {"ExperimentName": "fraud", "TrialName": name},
        }
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": IMAGE.format(region=region),
                                "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={
            "S3OutputPath": f"s3://ml-artifacts-{region}/{name}",
            **({"KmsKeyId": KMS.format(region=region)} if hardened else {}),
        },
        ResourceConfig={
            "InstanceType": instance,
            "InstanceCount": 2,
            "VolumeSizeInGB": 50,
            **({"VolumeKmsKeyId": KMS.format(region=region)} if hardened else {}),
        },
        StoppingCondition={
            "MaxRuntimeInSeconds": 4 * 3600,
            **({"MaxWaitTimeInSeconds": 8 * 3600} if hardened else {}),
        },
        **kw,
    )


def _notebooks(sm: Any, region: str) -> None:
    sm.create_notebook_instance(
        NotebookInstanceName="research-hardened",
        InstanceType="ml.t3.medium",
        RoleArn=ROLE,
        SubnetId=VPC["Subnets"][0],
        SecurityGroupIds=VPC["SecurityGroupIds"],
        KmsKeyId=KMS.format(region=region),
        DirectInternetAccess="Disabled",
        RootAccess="Disabled",
        PlatformIdentifier="notebook-al2023-v1",
    )
    sm.create_notebook_instance(
        NotebookInstanceName="intern-sandbox",
        InstanceType="ml.t2.medium",
        RoleArn=ROLE,
        DirectInternetAccess="Enabled",
        RootAccess="Enabled",
    )


def _glue(glue: Any, region: str) -> None:
    glue.create_security_configuration(
        Name="ml-etl-kms",
        EncryptionConfiguration={
            "S3Encryption": [
                {"S3EncryptionMode": "SSE-KMS", "KmsKeyArn": KMS.format(region=region)}
            ],
            "CloudWatchEncryption": {"CloudWatchEncryptionMode": "SSE-KMS",
                                     "KmsKeyArn": KMS.format(region=region)},
            "JobBookmarksEncryption": {"JobBookmarksEncryptionMode": "CSE-KMS",
                                       "KmsKeyArn": KMS.format(region=region)},
        },
    )
    glue.create_security_configuration(
        Name="legacy-etl-plain",
        EncryptionConfiguration={
            "S3Encryption": [{"S3EncryptionMode": "DISABLED"}],
            "CloudWatchEncryption": {"CloudWatchEncryptionMode": "DISABLED"},
            "JobBookmarksEncryption": {"JobBookmarksEncryptionMode": "DISABLED"},
        },
    )
    glue.create_job(
        Name="features-daily",
        Role=ROLE,
        Command={"Name": "glueetl", "ScriptLocation": f"s3://ml-etl-{region}/features.py",
                 "PythonVersion": "3"},
        DefaultArguments={
            "--job-bookmark-option": "job-bookmark-enable",
            "--enable-continuous-cloudwatch-log": "true",
            "--enable-metrics": "true",
        },
        MaxRetries=2,
        Timeout=120,
        GlueVersion="4.0",
        WorkerType="G.1X",
        NumberOfWorkers=4,
        SecurityConfiguration="ml-etl-kms",
    )
    glue.create_job(
        Name="clickstream-export",
        Role=ROLE,
        Command={"Name": "glueetl", "ScriptLocation": f"s3://ml-etl-{region}/export.py",
                 "PythonVersion": "3"},
        DefaultArguments={"--db_password": "hunter2-not-a-real-secret"},
        MaxRetries=0,
        GlueVersion="2.0",
        WorkerType="G.2X",
        NumberOfWorkers=40,
    )
    glue.create_job(
        Name="label-sync",
        Role=ROLE,
        Command={"Name": "pythonshell", "ScriptLocation": f"s3://ml-etl-{region}/labels.py",
                 "PythonVersion": "3.9"},
        MaxRetries=1,
        Timeout=30,
        MaxCapacity=0.0625,
        SecurityConfiguration="legacy-etl-plain",
    )


def seed_region(emu: Emulator, region: str) -> None:
    c = clients(emu.url, region)
    sm, cw, aas = c["sagemaker"], c["cloudwatch"], c["application-autoscaling"]

    # A well-built production endpoint: two instances per variant, autoscaling, a shadow
    # variant, encrypted data capture, a monitor that runs clean, alarms per variant.
    for m in ("fraud-xgb-v7", "fraud-xgb-v8"):
        _model(sm, m, region, hardened=True)
    sm.create_endpoint_config(
        EndpointConfigName="fraud-detector-cfg-v7",
        ProductionVariants=[_variant("primary", "fraud-xgb-v7", "ml.c5.xlarge", 2)],
        ShadowProductionVariants=[_variant("shadow-v8", "fraud-xgb-v8", "ml.c5.xlarge", 2)],
        DataCaptureConfig=_capture(region, "fraud", kms=True),
        KmsKeyId=KMS.format(region=region),
    )
    sm.create_endpoint(EndpointName="fraud-detector", EndpointConfigName="fraud-detector-cfg-v7")
    for variant in ("primary", "shadow-v8"):
        _autoscale(aas, "fraud-detector", variant)
        _math_error_rate_alarm(cw, region, "fraud-detector", variant)
        _variant_alarm(cw, region, "fraud-detector", variant, "ModelLatency", 250_000)
    _monitor(sm, "fraud-detector-data-quality", "fraud-detector", region, hardened=True)
    emu.seed.add_monitoring_execution(
        "fraud-detector-data-quality", "Completed",
        scheduled_time=now() - timedelta(hours=1), region=region,
    )

    # A legacy single-instance endpoint on a previous-generation type: no capture, no KMS,
    # no alarms, no monitor, no autoscaling.
    _model(sm, "recsys-2019", region, hardened=False, public=True)
    sm.create_endpoint_config(
        EndpointConfigName="recsys-legacy-cfg",
        ProductionVariants=[_variant("AllTraffic", "recsys-2019", "ml.m4.xlarge", 1)],
    )
    sm.create_endpoint(EndpointName="recsys-legacy", EndpointConfigName="recsys-legacy-cfg")

    # A churn model: monitored, but its capture is off and its monitor keeps failing; its
    # alarm watches the endpoint as a whole, not the variant, and notifies nobody.
    _model(sm, "churn-lgbm", region, hardened=True)
    sm.create_endpoint_config(
        EndpointConfigName="churn-cfg",
        ProductionVariants=[_variant("AllTraffic", "churn-lgbm", "ml.m5.large", 1)],
        KmsKeyId=KMS.format(region=region),
    )
    sm.create_endpoint(EndpointName="churn-scoring", EndpointConfigName="churn-cfg")
    _monitor(sm, "churn-scoring-data-quality", "churn-scoring", region, hardened=False)
    emu.seed.add_monitoring_execution(
        "churn-scoring-data-quality", "Failed", failure_reason="Capture data not found",
        scheduled_time=now() - timedelta(hours=2), region=region,
    )
    cw.put_metric_alarm(
        AlarmName="churn-scoring-errors",
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Dimensions=[{"Name": "EndpointName", "Value": "churn-scoring"}],
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
        ActionsEnabled=True,
    )

    # Pricing: captured and monitored, but the monitor finds drift every hour.
    _model(sm, "pricing-v3", region, hardened=True)
    sm.create_endpoint_config(
        EndpointConfigName="pricing-cfg",
        ProductionVariants=[_variant("AllTraffic", "pricing-v3", "ml.g4dn.xlarge", 2)],
        DataCaptureConfig=_capture(region, "pricing", kms=True),
        KmsKeyId=KMS.format(region=region),
    )
    sm.create_endpoint(EndpointName="pricing", EndpointConfigName="pricing-cfg")
    _monitor(sm, "pricing-data-quality", "pricing", region, hardened=True)
    emu.seed.add_monitoring_execution(
        "pricing-data-quality", "CompletedWithViolations",
        scheduled_time=now() - timedelta(hours=1), region=region,
    )

    # Serverless and asynchronous endpoints: many instance-based checks do not apply.
    _model(sm, "doc-classifier", region, hardened=True)
    sm.create_endpoint_config(
        EndpointConfigName="doc-classifier-serverless-cfg",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "doc-classifier",
                             "ServerlessConfig": {"MemorySizeInMB": 4096, "MaxConcurrency": 10}}],
    )
    sm.create_endpoint(EndpointName="doc-classifier-serverless",
                       EndpointConfigName="doc-classifier-serverless-cfg")
    _model(sm, "embeddings-batch", region, hardened=False)
    sm.create_endpoint_config(
        EndpointConfigName="embeddings-async-cfg",
        ProductionVariants=[_variant("AllTraffic", "embeddings-batch", "ml.g4dn.xlarge", 1)],
        AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": f"s3://ml-async-{region}/out"}},
    )
    sm.create_endpoint(EndpointName="embeddings-async", EndpointConfigName="embeddings-async-cfg")

    # An endpoint whose last update failed.
    sm.create_endpoint_config(
        EndpointConfigName="search-rank-cfg",
        ProductionVariants=[_variant("AllTraffic", "fraud-xgb-v7", "ml.c5.xlarge", 1)],
    )
    sm.create_endpoint(EndpointName="search-rank", EndpointConfigName="search-rank-cfg")
    emu.seed.set_endpoint_status(
        "search-rank", "Failed", failure_reason="Model container failed health checks",
        region=region,
    )

    # An alarm left behind by an endpoint deleted long ago, and one with its actions off.
    cw.put_metric_alarm(
        AlarmName="old-ranker-latency",
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        Dimensions=[{"Name": "EndpointName", "Value": "old-ranker"},
                    {"Name": "VariantName", "Value": "AllTraffic"}],
        Statistic="Average",
        Period=60,
        EvaluationPeriods=3,
        Threshold=500_000,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[TOPIC.format(region=region)],
        ActionsEnabled=False,
    )

    _training(sm, "fraud-xgb-train-2026-11-30", region, hardened=True, instance="ml.c5.4xlarge")
    _training(sm, "recsys-train-2026-11-02", region, hardened=False, instance="ml.p3.2xlarge")
    _notebooks(sm, region)
    _glue(c["glue"], region)
    seed_catalog(emu, c, region)
    seed_objective_metrics(cw)


def seed_demo(emu: Emulator) -> None:
    """Build the whole demo estate and the faults that make part of it unreadable."""
    for region in DEMO_REGIONS:
        seed_region(emu, region)
    # A service control policy in eu-west-1 hides alarms and Glue security configurations from
    # the audit role: every check that needs them must say UNKNOWN there, never PASS or FAIL.
    emu.faults.add(FaultRule(service="monitoring", operation="DescribeAlarms", region="eu-west-1",
                             code="AccessDenied", status=403,
                             message="User is not authorized to perform: cloudwatch:DescribeAlarms"
                             " with an explicit deny in a service control policy"))
    emu.faults.add(FaultRule(service="glue", operation="GetSecurityConfigurations",
                             region="eu-west-1", code="AccessDeniedException", status=400,
                             message="User is not authorized to perform: "
                             "glue:GetSecurityConfigurations"))
    # The same policy denies the tagging API there: tags are read per resource instead.
    emu.faults.add(FaultRule(service="tagging", operation="GetResources", region="eu-west-1",
                             code="AccessDeniedException", status=400,
                             message="User is not authorized to perform: tag:GetResources"))
