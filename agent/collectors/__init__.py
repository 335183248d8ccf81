"""The collectors, in the order a scan runs them. Explicit: adding one means adding it here."""

from __future__ import annotations

from collections.abc import Iterable

from agent.collectors import (
    glue,
    history,
    metrics,
    notebooks,
    objectives,
    observability,
    registry,
    sagemaker,
    tags,
)
from agent.collectors.base import Builder, CollectOptions, Collector
from agent.domain import Kind

COLLECTORS: tuple[Collector, ...] = (
    Collector(
        "endpoints",
        (Kind.ENDPOINTS, Kind.ENDPOINT_CONFIGS),
        sagemaker.endpoints,
        ("sagemaker:ListEndpoints", "sagemaker:DescribeEndpoint",
         "sagemaker:DescribeEndpointConfig",
         # Only on re-scans: proves kept configs are the ones that exist (creation times).
         "sagemaker:ListEndpointConfigs"),
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
    # Catalog completion (issue 6): usage metrics, run history, registry, lifecycle, tags.
    Collector(
        "endpoint_metrics",
        (Kind.ENDPOINT_METRICS,),
        metrics.endpoint_metrics,
        ("sagemaker:ListEndpoints", "cloudwatch:ListMetrics", "cloudwatch:GetMetricData"),
        service="cloudwatch",  # the endpoints are listed; the data is CloudWatch's
    ),
    Collector(
        "glue_job_runs",
        (Kind.GLUE_JOB_RUNS,),
        history.glue_job_runs,
        ("glue:ListJobs", "glue:GetJobRuns"),
    ),
    Collector(
        "monitoring_executions",
        (Kind.MONITORING_EXECUTIONS,),
        history.monitoring_executions,
        ("sagemaker:ListMonitoringSchedules", "sagemaker:ListMonitoringExecutions"),
    ),
    Collector(
        "model_packages",
        (Kind.MODEL_PACKAGES,),
        registry.model_packages,
        ("sagemaker:ListModelPackageGroups", "sagemaker:ListModelPackages"),
    ),
    Collector(
        "notebook_lifecycle_configs",
        (Kind.NOTEBOOK_LIFECYCLE_CONFIGS,),
        notebooks.notebook_lifecycle_configs,
        ("sagemaker:ListNotebookInstanceLifecycleConfigs",
         "sagemaker:DescribeNotebookInstanceLifecycleConfig"),
    ),
    # Objectives as code (issue 6): reads nothing unless objectives are configured.
    Collector(
        "objective_metrics",
        (Kind.OBJECTIVE_METRICS,),
        objectives.objective_metrics,
        ("sagemaker:ListEndpoints", "cloudwatch:ListMetrics", "cloudwatch:GetMetricData"),
        service="cloudwatch",  # the endpoints are listed; the data is CloudWatch's
    ),
    Collector(
        "tags",
        (Kind.TAGS,),
        tags.resource_tags,
        (
            "tag:GetResources",
            # Fallback when the tagging API is denied: one listing per type, a call per resource.
            "sagemaker:ListEndpoints", "sagemaker:ListEndpointConfigs", "sagemaker:ListModels",
            "sagemaker:ListTrainingJobs", "sagemaker:ListNotebookInstances",
            "sagemaker:ListMonitoringSchedules", "sagemaker:ListTags",
            "glue:ListJobs", "glue:GetTags",
        ),
    ),
)


def collectors_for(kinds: Iterable[Kind]) -> tuple[Collector, ...]:
    """Only the collectors whose inventory some selected check needs."""
    wanted = set(kinds)
    return tuple(c for c in COLLECTORS if wanted.intersection(c.kinds))


__all__ = ["COLLECTORS", "Builder", "CollectOptions", "Collector", "collectors_for"]
