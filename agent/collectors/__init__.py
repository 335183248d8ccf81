"""The collectors, in the order a scan runs them. Explicit: adding one means adding it here."""

from __future__ import annotations

from collections.abc import Iterable

from agent.collectors import glue, observability, sagemaker
from agent.collectors.base import Builder, CollectOptions, Collector
from agent.domain import Kind

COLLECTORS: tuple[Collector, ...] = (
    Collector(
        "endpoints",
        (Kind.ENDPOINTS, Kind.ENDPOINT_CONFIGS),
        sagemaker.endpoints,
        ("sagemaker:ListEndpoints", "sagemaker:DescribeEndpoint",
         "sagemaker:DescribeEndpointConfig"),
    ),
    Collector(
        "inference_components",
        (Kind.INFERENCE_COMPONENTS,),
        sagemaker.inference_components,
        ("sagemaker:ListInferenceComponents",),
    ),
    Collector(
        "models",
        (Kind.MODELS,),
        sagemaker.models,
        ("sagemaker:ListModels", "sagemaker:DescribeModel"),
    ),
    Collector(
        "training_jobs",
        (Kind.TRAINING_JOBS,),
        sagemaker.training_jobs,
        ("sagemaker:ListTrainingJobs", "sagemaker:DescribeTrainingJob"),
    ),
    Collector(
        "monitoring_schedules",
        (Kind.MONITORING_SCHEDULES,),
        sagemaker.monitoring_schedules,
        (
            "sagemaker:ListMonitoringSchedules",
            "sagemaker:DescribeMonitoringSchedule",
            "sagemaker:DescribeDataQualityJobDefinition",
            "sagemaker:DescribeModelQualityJobDefinition",
            "sagemaker:DescribeModelBiasJobDefinition",
            "sagemaker:DescribeModelExplainabilityJobDefinition",
        ),
    ),
    Collector(
        "notebook_instances",
        (Kind.NOTEBOOK_INSTANCES,),
        sagemaker.notebook_instances,
        ("sagemaker:ListNotebookInstances", "sagemaker:DescribeNotebookInstance"),
    ),
    Collector(
        "model_package_groups",
        (Kind.MODEL_PACKAGE_GROUPS,),
        sagemaker.model_package_groups,
        ("sagemaker:ListModelPackageGroups",),
    ),
    Collector(
        "autoscaling",
        (Kind.SCALABLE_TARGETS, Kind.SCALING_POLICIES, Kind.SCHEDULED_ACTIONS),
        observability.autoscaling,
        (
            "application-autoscaling:DescribeScalableTargets",
            "application-autoscaling:DescribeScalingPolicies",
            "application-autoscaling:DescribeScheduledActions",
        ),
    ),
    Collector(
        "alarms",
        (Kind.ALARMS,),
        observability.alarms,
        ("cloudwatch:DescribeAlarms",),
    ),
    Collector("glue_jobs", (Kind.GLUE_JOBS,), glue.glue_jobs, ("glue:GetJobs",)),
    Collector(
        "glue_security_configurations",
        (Kind.GLUE_SECURITY_CONFIGURATIONS,),
        glue.glue_security_configurations,
        ("glue:GetSecurityConfigurations",),
    ),
    Collector(
        "glue_catalog_encryption",
        (Kind.GLUE_CATALOG_ENCRYPTION,),
        glue.glue_catalog_encryption,
        ("glue:GetDataCatalogEncryptionSettings",),
    ),
)


def collectors_for(kinds: Iterable[Kind]) -> tuple[Collector, ...]:
    """Only the collectors whose inventory some selected check needs."""
    wanted = set(kinds)
    return tuple(c for c in COLLECTORS if wanted.intersection(c.kinds))


__all__ = ["COLLECTORS", "Builder", "CollectOptions", "Collector", "collectors_for"]
