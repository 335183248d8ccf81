"""What the demo estate adds for the full catalog: usage metrics, run history, the registry,
notebook lifecycle configurations and tags (see `seed.seed_region`, which calls this last).

The endpoints are backdated, as a real estate's would be, so the usage checks judge them:
the fraud detector and pricing endpoints serve traffic, the legacy recommender serves none
and the churn endpoint idles on its instance. Two endpoints serve models from the registry,
one of them a version still waiting for approval on a production-tagged endpoint.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

from agent.emulator.server import Emulator
from agent.emulator.store import now

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerExecution"
AUTOSTOP = base64.b64encode(
    b"#!/bin/bash\n# Stop the notebook after an hour without kernel activity.\n"
    b"IDLE_TIME=3600\nwget -q -O /home/ec2-user/autostop.py "
    b"https://raw.githubusercontent.com/aws-samples/amazon-sagemaker-notebook-instance-"
    b"lifecycle-config-samples/master/scripts/auto-stop-idle/autostop.py\n"
    b"echo \"*/5 * * * * /usr/bin/python3 /home/ec2-user/autostop.py --time $IDLE_TIME\" "
    b"| crontab -\n"
).decode()


def _arn(region: str, resource: str) -> str:
    return f"arn:aws:sagemaker:{region}:{ACCOUNT}:{resource}"


def _put(cw: Any, namespace: str, endpoint: str, variant: str, metric: str,
         points: list[tuple[datetime, float]]) -> None:
    dims = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
    data = [{"MetricName": metric, "Dimensions": dims, "Timestamp": t, "Value": v}
            for t, v in points]
    for i in range(0, len(data), 1000):  # PutMetricData takes at most 1000 datums
        cw.put_metric_data(Namespace=namespace, MetricData=data[i:i + 1000])


def _traffic(cw: Any, endpoint: str, per_day: float, cpu: float, gpu: float | None = None,
             variant: str = "AllTraffic") -> None:
    """14 days of daily Invocations (none when per_day is 0) and 3 days of hourly load."""
    t = now()
    if per_day:
        _put(cw, "AWS/SageMaker", endpoint, variant, "Invocations",
             [(t - timedelta(days=d, hours=1), per_day) for d in range(14)])
    hours = [t - timedelta(hours=h + 1) for h in range(72)]
    _put(cw, "/aws/sagemaker/Endpoints", endpoint, variant, "CPUUtilization",
         [(h, cpu) for h in hours])
    _put(cw, "/aws/sagemaker/Endpoints", endpoint, variant, "MemoryUtilization",
         [(h, 35.0) for h in hours])
    if gpu is not None:
        _put(cw, "/aws/sagemaker/Endpoints", endpoint, variant, "GPUUtilization",
             [(h, gpu) for h in hours])


def _registry(sm: Any, region: str) -> None:
    """Two package groups; endpoints serving the newest approved and a pending version."""
    image = f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/xgboost:1.7-1"
    spec = {"Containers": [{"Image": image}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}
    for group, approvals in (("ltv-forecast", ("Rejected", "Approved")),
                             ("credit-risk", ("Approved", "Approved", "PendingManualApproval"))):
        sm.create_model_package_group(ModelPackageGroupName=group)
        for approval in approvals:
            sm.create_model_package(ModelPackageGroupName=group, ModelApprovalStatus=approval,
                                    InferenceSpecification=spec)
    for name, group, version, tags in (
        ("ltv-forecast", "ltv-forecast", 2, {"project": "ltv", "environment": "staging"}),
        ("credit-risk", "credit-risk", 3, {"project": "credit", "environment": "prod"}),
    ):
        sm.create_model(
            ModelName=f"{name}-v{version}", ExecutionRoleArn=ROLE, EnableNetworkIsolation=True,
            PrimaryContainer={"Image": image,
                              "ModelPackageName": _arn(region, f"model-package/{group}/{version}")})
        sm.create_endpoint_config(EndpointConfigName=f"{name}-cfg", ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": f"{name}-v{version}",
            "InstanceType": "ml.c5.large", "InitialInstanceCount": 2}])
        sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-cfg",
                           Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


def _glue_runs(emu: Emulator, region: str) -> None:
    t = now()
    for day in range(5):  # a healthy daily job: 40 minutes a run
        emu.seed.add_glue_job_run("features-daily", "SUCCEEDED", region=region,
                                  started_on=t - timedelta(days=day, hours=3),
                                  execution_time=2400)
    emu.seed.add_glue_job_run("clickstream-export", "SUCCEEDED", region=region,
                              started_on=t - timedelta(days=2), execution_time=5400)
    emu.seed.add_glue_job_run("clickstream-export", "FAILED", region=region,
                              started_on=t - timedelta(hours=20), execution_time=310,
                              error_message="An error occurred while calling o112.save: "
                              "Access Denied (Service: Amazon S3; Status Code: 403)")
    emu.seed.add_glue_job_run("label-sync", "STOPPED", region=region,
                              started_on=t - timedelta(days=1), execution_time=60)
    emu.seed.add_glue_job_run("label-sync", "SUCCEEDED", region=region,
                              started_on=t - timedelta(hours=6), execution_time=240)


def seed_catalog(emu: Emulator, clients: dict[str, Any], region: str) -> None:
    sm, cw, glue = clients["sagemaker"], clients["cloudwatch"], clients["glue"]
    _registry(sm, region)
    created = now() - timedelta(days=45)
    for name in ("fraud-detector", "recsys-legacy", "churn-scoring", "pricing",
                 "doc-classifier-serverless", "embeddings-async", "search-rank",
                 "ltv-forecast", "credit-risk"):
        emu.seed.set_endpoint_creation_time(name, created, region=region)
    _traffic(cw, "fraud-detector", 48_000, cpu=180.0, variant="primary")  # c5.xlarge: 45 %
    _traffic(cw, "recsys-legacy", 0, cpu=2.0)  # nobody calls it
    _traffic(cw, "churn-scoring", 120, cpu=6.0)  # m5.large: 3 % of two vCPUs
    _traffic(cw, "pricing", 20_000, cpu=60.0, gpu=35.0)
    _traffic(cw, "ltv-forecast", 9_000, cpu=90.0)
    _traffic(cw, "credit-risk", 30_000, cpu=120.0)

    # Monitor history: pricing has drifted for three runs with no redeploy; churn's monitor
    # failed twice in a row.
    for hours in (3, 2):
        emu.seed.add_monitoring_execution(
            "pricing-data-quality", "CompletedWithViolations", region=region,
            scheduled_time=now() - timedelta(hours=hours))
    emu.seed.add_monitoring_execution(
        "churn-scoring-data-quality", "Failed", failure_reason="Capture data not found",
        scheduled_time=now() - timedelta(hours=3), region=region)

    _glue_runs(emu, region)

    sm.create_notebook_instance_lifecycle_config(
        NotebookInstanceLifecycleConfigName="autostop-idle-1h", OnStart=[{"Content": AUTOSTOP}])
    sm.create_notebook_instance(
        NotebookInstanceName="feature-lab", InstanceType="ml.t3.large", RoleArn=ROLE,
        SubnetId="subnet-0a1b2c3d", SecurityGroupIds=["sg-0a1b2c3d"],
        KmsKeyId=f"arn:aws:kms:{region}:{ACCOUNT}:key/0c3a2f4e-1111-2222-3333-444455556666",
        DirectInternetAccess="Disabled", RootAccess="Disabled",
        PlatformIdentifier="notebook-al2023-v1", LifecycleConfigName="autostop-idle-1h",
        InstanceMetadataServiceConfiguration={"MinimumInstanceMetadataServiceVersion": "2"},
        Tags=[{"Key": "project", "Value": "features"}, {"Key": "owner", "Value": "ml-platform"}])
    emu.seed.set_notebook_last_modified("intern-sandbox", now() - timedelta(days=6),
                                        region=region)

    # Tags: who pays, and which environment each resource belongs to.
    for resource, tags in (
        ("endpoint/fraud-detector", {"project": "fraud", "environment": "prod",
                                     "cost-center": "risk-ml"}),
        ("endpoint/churn-scoring", {"project": "churn", "environment": "production"}),
        ("endpoint/recsys-legacy", {"environment": "dev"}),
        ("endpoint-config/fraud-detector-cfg-v7", {"project": "fraud"}),
        ("model/fraud-xgb-v7", {"project": "fraud"}),
        ("training-job/fraud-xgb-train-2026-11-30", {"project": "fraud"}),
        ("notebook-instance/intern-sandbox", {"environment": "test"}),
    ):
        sm.add_tags(ResourceArn=_arn(region, resource),
                    Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    glue.tag_resource(ResourceArn=f"arn:aws:glue:{region}:{ACCOUNT}:job/features-daily",
                      TagsToAdd={"project": "features", "environment": "prod"})
