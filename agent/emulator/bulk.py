"""Large synthetic estates for benchmarks, written straight into moto's backends.

Creating 100,000 training jobs through the HTTP API takes the better part of an hour in moto;
through its backends it takes seconds. The records are the same objects moto's own handlers
create, so every describe answers exactly as it would after an API create. The mix of good and
bad settings is deterministic (by index), so two runs of the same spec seed the same estate and
the scanner has real findings to write.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

KINDS = (
    "endpoints",  # each with its own endpoint config and model
    "endpoint_configs",  # configs beyond those the endpoints use
    "models",  # models beyond those the configs use
    "training_jobs",
    "notebooks",
    "glue_jobs",
    "alarms",
)


@dataclass(frozen=True)
class BulkSpec:
    """How many of each kind per (account, region), and where."""

    counts: dict[str, int] = field(default_factory=dict)
    accounts: tuple[str, ...] = ("123456789012",)
    regions: tuple[str, ...] = ("us-east-1",)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.counts) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown kinds {unknown}; known: {', '.join(KINDS)}")
        if any(n < 0 for n in self.counts.values()):
            raise ValueError("counts must not be negative")

    @property
    def per_scope(self) -> int:
        """Resources per (account, region), counting an endpoint's config and model."""
        c = self.counts
        return sum(c.values()) + 2 * c.get("endpoints", 0)

    @classmethod
    def parse(cls, text: str, accounts: Iterable[str], regions: Iterable[str]) -> BulkSpec:
        """`endpoints=1000,training_jobs=500`; `all=N` sets every kind to N."""
        counts: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = part.partition("=")
            if not sep or not value.strip().isdigit():
                raise ValueError(f"{part!r} is not kind=COUNT")
            if name.strip() == "all":
                counts.update({k: int(value) for k in KINDS})
            else:
                counts[name.strip()] = int(value)
        return cls(counts, tuple(accounts), tuple(regions))


def _role(account: str) -> str:
    return f"arn:aws:iam::{account}:role/SageMakerExecution"


def _image(account: str, region: str) -> str:
    return f"{account}.dkr.ecr.{region}.amazonaws.com/xgboost:1.7-1"


def seed_bulk(spec: BulkSpec) -> int:
    """Create the estate; the number of resources created."""
    # Imported here: moto is heavy and this module is imported by the emulator's CLI.
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.glue.models import glue_backends
    from moto.sagemaker.models import sagemaker_backends

    total = 0
    for account in spec.accounts:
        if len(spec.accounts) > 1:
            _audit_role(account, spec.accounts[0])
        for region in spec.regions:
            sm = sagemaker_backends[account][region]
            total += _sagemaker(sm, account, region, spec.counts)
            total += _glue(glue_backends[account][region], account, spec.counts)
            total += _alarms(cloudwatch_backends[account][region], spec.counts)
    return total


AUDIT_ROLE = "MLLensAudit"


def _audit_role(account: str, trusted: str) -> None:
    """The role a multi-account scan assumes in every account (`--role-name MLLensAudit`),
    trusting the first account, from which the scanner runs."""
    import json

    from moto.iam.models import iam_backends

    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"AWS": f"arn:aws:iam::{trusted}:root"}}]}
    iam_backends[account]["global"].create_role(
        AUDIT_ROLE, json.dumps(policy), "/", None, "", [], None)


def _model(sm: Any, account: str, region: str, name: str, i: int) -> None:
    sm.create_model(
        model_name=name,
        execution_role_arn=_role(account),
        primary_container={
            "Image": _image(account, region),
            "ModelDataUrl": f"s3://ml-artifacts-{account}/{name}/model.tar.gz",
        },
        vpc_config=(
            {"SecurityGroupIds": ["sg-0a1b2c3d"], "Subnets": ["subnet-0a1b2c3d"]}
            if i % 2 else None
        ),
        containers=None,
        tags=[],
    )


def _config(sm: Any, name: str, model: str, i: int) -> None:
    sm.create_endpoint_config(
        endpoint_config_name=name,
        production_variants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InstanceType": "ml.m5.large" if i % 3 else "ml.m4.xlarge",
                "InitialInstanceCount": 1 + i % 2,
                "InitialVariantWeight": 1.0,
            }
        ],
        data_capture_config=None,
        async_inference_config=None,
        tags=[],
        kms_key_id=None,
    )


def _sagemaker(sm: Any, account: str, region: str, counts: dict[str, int]) -> int:
    n_endpoints = counts.get("endpoints", 0)
    for i in range(n_endpoints):
        _model(sm, account, region, f"ep-model-{i:06d}", i)
        _config(sm, f"ep-config-{i:06d}", f"ep-model-{i:06d}", i)
        sm.create_endpoint(
            endpoint_name=f"endpoint-{i:06d}", endpoint_config_name=f"ep-config-{i:06d}", tags=[]
        )
    for i in range(counts.get("models", 0)):
        _model(sm, account, region, f"model-{i:06d}", i)
    for i in range(counts.get("endpoint_configs", 0)):
        # Spare configs reuse endpoint models when there are any (configs are shared in real
        # estates too), else get a model of their own.
        model = f"ep-model-{i % n_endpoints:06d}" if n_endpoints else f"cfg-model-{i:06d}"
        if not n_endpoints:
            _model(sm, account, region, model, i)
        _config(sm, f"config-{i:06d}", model, i)
    for i in range(counts.get("training_jobs", 0)):
        _training_job(sm, account, region, i)
    for i in range(counts.get("notebooks", 0)):
        sm.create_notebook_instance(
            notebook_instance_name=f"notebook-{i:06d}",
            instance_type="ml.t3.medium" if i % 4 else "ml.t2.medium",
            role_arn=_role(account),
            subnet_id="subnet-0a1b2c3d" if i % 2 else None,
            security_group_ids=["sg-0a1b2c3d"] if i % 2 else None,
            kms_key_id=None,
            direct_internet_access="Disabled" if i % 2 else "Enabled",
            root_access="Disabled" if i % 3 else "Enabled",
        )
    return (
        3 * n_endpoints
        + counts.get("models", 0)
        + counts.get("endpoint_configs", 0)
        + counts.get("training_jobs", 0)
        + counts.get("notebooks", 0)
    )


def _training_job(sm: Any, account: str, region: str, i: int) -> None:
    sm.create_training_job(
        training_job_name=f"train-{i:07d}",
        hyper_parameters={"max_depth": "6"},
        algorithm_specification={
            "TrainingImage": _image(account, region),
            "TrainingInputMode": "File",
        },
        role_arn=_role(account),
        input_data_config=[],
        output_data_config={"S3OutputPath": f"s3://ml-artifacts-{account}/train"},
        resource_config={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1 + i % 2,
                         "VolumeSizeInGB": 50},
        vpc_config=(
            {"SecurityGroupIds": ["sg-0a1b2c3d"], "Subnets": ["subnet-0a1b2c3d"]}
            if i % 2 else None  # type: ignore[dict-item]
        ),
        stopping_condition={"MaxRuntimeInSeconds": 86400},
        tags=[],
        enable_network_isolation=bool(i % 2),
        enable_inter_container_traffic_encryption=bool(i % 3),
        enable_managed_spot_training=bool(i % 5 == 0),
        checkpoint_config=None,  # type: ignore[arg-type]
        debug_hook_config=None,  # type: ignore[arg-type]
        debug_rule_configurations=None,  # type: ignore[arg-type]
        tensor_board_output_config=None,  # type: ignore[arg-type]
        experiment_config=None,  # type: ignore[arg-type]
    )


def _glue(glue: Any, account: str, counts: dict[str, int]) -> int:
    n = counts.get("glue_jobs", 0)
    for i in range(n):
        glue.create_job(
            name=f"etl-{i:06d}",
            role=f"arn:aws:iam::{account}:role/GlueJobRole",
            command={"Name": "glueetl", "ScriptLocation": f"s3://scripts-{account}/etl.py",
                     "PythonVersion": "3"},
            description="",
            log_uri="",
            execution_property={"MaxConcurrentRuns": 1},
            default_arguments={"--job-bookmark-option": "job-bookmark-enable"} if i % 2 else {},
            non_overridable_arguments={},
            connections={},
            max_retries=i % 3,
            allocated_capacity=None,
            timeout=60 if i % 2 else 2880,
            max_capacity=None,
            security_configuration=None,
            tags={},
            notification_property={},
            glue_version="4.0" if i % 4 else "2.0",
            number_of_workers=2,
            worker_type="G.1X",
            code_gen_configuration_nodes={},
            execution_class="STANDARD",
            source_control_details={},
        )
    return n


def _alarms(cw: Any, counts: dict[str, int]) -> int:
    n = counts.get("alarms", 0)
    endpoints = counts.get("endpoints", 0)
    for i in range(n):
        dims = [{"Name": "EndpointName", "Value": f"endpoint-{i % max(endpoints, 1):06d}"},
                {"Name": "VariantName", "Value": "AllTraffic"}]
        cw.put_metric_alarm(
            name=f"alarm-{i:06d}",
            namespace="AWS/SageMaker",
            metric_name="Invocation5XXErrors" if i % 2 else "ModelLatency",
            comparison_operator="GreaterThanThreshold",
            evaluation_periods=3,
            period=60,
            threshold=5.0 if i % 2 else 500000.0,
            statistic="Sum" if i % 2 else "Average",
            description="",
            dimensions=dims,
            alarm_actions=[] if i % 5 == 0 else ["arn:aws:sns:us-east-1:123456789012:ml-oncall"],
        )
    return n
