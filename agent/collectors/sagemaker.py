"""SageMaker inventory: endpoints with their configs, models, training jobs, monitors, notebooks.

Each collector lists, then describes what the list does not already say. A record whose describe
failed is kept with `incomplete_reason` (checks answer UNKNOWN for it); a record deleted between
list and describe is dropped, with a NOT_FOUND gap kept as evidence.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import structlog

from agent.aws.handle import CallFailed, RegionHandle
from agent.collectors.base import Builder, CollectOptions, describe, fan_out, listing
from agent.collectors.cache import stamp
from agent.domain import FINISHED_TRAINING_STATUSES, Gap, Kind, utcnow

SM = "sagemaker"
log = structlog.get_logger(__name__)

# States in which a record changes only with its LastModifiedTime (an update, a start or
# stop); in any other (Creating, Updating, InProgress, Pending ...) it is described each scan.
_STABLE_ENDPOINT = frozenset({"InService", "OutOfService", "Failed"})
_STABLE_NOTEBOOK = frozenset({"InService", "Stopped", "Failed"})


def _version(summary: dict[str, Any], status_key: str, stable: frozenset[str]) -> str | None:
    """`status|LastModifiedTime` from a listing, or None when the record may be changing."""
    status = summary.get(status_key)
    if status not in stable or not summary.get("LastModifiedTime"):
        return None
    return f"{status}|{stamp(summary['LastModifiedTime'])}"


async def endpoints(h: RegionHandle, out: Builder, opts: CollectOptions) -> None:
    """Endpoints, then each endpoint config they use (described once, however many share it)."""
    # Configs are found through the endpoints: an endpoint listing that failed leaves the
    # configs incomplete too, or their findings would read as deleted.
    kinds = (Kind.ENDPOINTS, Kind.ENDPOINT_CONFIGS)
    out.touch(Kind.ENDPOINTS)
    out.touch(Kind.ENDPOINT_CONFIGS)
    summaries = [
        s
        async for s in listing(
            h, kinds, SM, "ListEndpoints", "Endpoints", MaxResults=100
        )
    ]
    config_names: set[str] = set()

    async def one(summary: dict[str, Any]) -> None:
        name = summary["EndpointName"]
        arn = summary.get("EndpointArn") or out.arn(SM, f"endpoint/{name.lower()}")
        version = _version(summary, "EndpointStatus", _STABLE_ENDPOINT)
        cached = out.reuse(Kind.ENDPOINTS, arn, name, version) if version else None
        if cached is not None:
            if cached.get("EndpointConfigName"):
                config_names.add(str(cached.get("EndpointConfigName")))
            return
        data, problem = await describe(h, SM, "DescribeEndpoint", arn, EndpointName=name)
        if problem == "not_found":
            return
        if data is None:
            out.add(Kind.ENDPOINTS, arn, name, summary, incomplete_reason=problem)
            # Its config name is unknown, so the configs read are not all there are.
            h.gaps.append(Gap(h.account_id, h.region, SM, "DescribeEndpoint",
                              h.gaps[-1].kind, f"config of endpoint {name} unknown: {problem}",
                              kinds=(Kind.ENDPOINT_CONFIGS,), resource_arn=arn))
            return
        out.add(Kind.ENDPOINTS, arn, name, data, version=version)
        if data.get("EndpointConfigName"):
            config_names.add(data["EndpointConfigName"])

    await fan_out(summaries, one)
    # Configs cannot change, but a name can be deleted and made again: the listing's creation
    # time tells the cached one from a new one (10 calls per 1,000 configs, made only when
    # some config is cached).
    listed = await _config_listing(h) if out.cache.has(Kind.ENDPOINT_CONFIGS) else {}

    async def config(name: str) -> None:
        summary = listed.get(name) or {}
        arn = summary.get("EndpointConfigArn") or out.arn(SM, f"endpoint-config/{name.lower()}")
        if summary.get("CreationTime") and out.reuse(
            Kind.ENDPOINT_CONFIGS, arn, name, stamp(summary["CreationTime"])
        ):
            return
        data, problem = await describe(
            h, SM, "DescribeEndpointConfig", arn, EndpointConfigName=name
        )
        if problem == "not_found":
            # An endpoint still names a deleted config: the config's absence is the evidence.
            return
        if data is None:
            out.add(Kind.ENDPOINT_CONFIGS, arn, name, {"EndpointConfigName": name}, problem)
            return
        created = data.get("CreationTime")
        out.add(Kind.ENDPOINT_CONFIGS, data.get("EndpointConfigArn") or arn, name, data,
                version=stamp(created) if created else None)

    await fan_out(sorted(config_names), config)


async def _config_listing(h: RegionHandle) -> dict[str, dict[str, Any]]:
    """Every endpoint config's summary by name; empty if the listing fails (each used config
    is then described: the listing only saves calls, nothing depends on it)."""
    found: dict[str, dict[str, Any]] = {}
    try:
        async for page in h.pages(SM, "ListEndpointConfigs", "NextToken", "NextToken",
                                  MaxResults=100):
            for s in page.get("EndpointConfigs") or ():
                found[s["EndpointConfigName"]] = s
    except CallFailed as failure:
        log.info("config_listing_failed", kind=failure.kind.value)
        return {}
    return found


async def models(h: RegionHandle, out: Builder, opts: CollectOptions) -> None:
    out.touch(Kind.MODELS)
    summaries = [
        s async for s in listing(h, (Kind.MODELS,), SM, "ListModels", "Models", MaxResults=100)
    ]

    async def one(summary: dict[str, Any]) -> None:
        name = summary["ModelName"]
        arn = summary.get("ModelArn") or out.arn(SM, f"model/{name.lower()}")
        # Models cannot be changed, only deleted and made again: the creation time names one.
        version = stamp(summary["CreationTime"]) if summary.get("CreationTime") else None
        if version and out.reuse(Kind.MODELS, arn, name, version):
            return
        data, problem = await describe(h, SM, "DescribeModel", arn, ModelName=name)
        if problem == "not_found":
            return
        out.add(Kind.MODELS, arn, name, data or summary, None if data else problem,
                version=version)

    await fan_out(summaries, one)


async def training_jobs(h: RegionHandle, out: Builder, opts: CollectOptions) -> None:
    """Training jobs of every status created inside the lookback window."""
    out.touch(Kind.TRAINING_JOBS)
    since = utcnow() - timedelta(days=opts.training_lookback_days)
    summaries = [
        s
        async for s in listing(
            h,
            (Kind.TRAINING_JOBS,),
            SM,
            "ListTrainingJobs",
            "TrainingJobSummaries",
            MaxResults=100,
            CreationTimeAfter=since,
        )
    ]

    async def one(summary: dict[str, Any]) -> None:
        name = summary["TrainingJobName"]
        arn = summary.get("TrainingJobArn") or out.arn(SM, f"training-job/{name.lower()}")
        version = _version(summary, "TrainingJobStatus", FINISHED_TRAINING_STATUSES)
        if version is not None:
            # A warm pool outlives its job and changes after it finished.
            version += "|" + str((summary.get("WarmPoolStatus") or {}).get("Status") or "")
            if out.reuse(Kind.TRAINING_JOBS, arn, name, version):
                return
        data, problem = await describe(h, SM, "DescribeTrainingJob", arn, TrainingJobName=name)
        if problem == "not_found":
            return
        out.add(Kind.TRAINING_JOBS, arn, name, data or summary, None if data else problem,
                version=version)

    await fan_out(summaries, one)


_JOB_DEFINITION_OPERATION = {
    "DataQuality": "DescribeDataQualityJobDefinition",
    "ModelQuality": "DescribeModelQualityJobDefinition",
    "ModelBias": "DescribeModelBiasJobDefinition",
    "ModelExplainability": "DescribeModelExplainabilityJobDefinition",
}


async def monitoring_schedules(h: RegionHandle, out: Builder, opts: CollectOptions) -> None:
    """Model Monitor schedules with their last execution and, where the schedule names a
    separate job definition instead of an inline one, that definition (under `JobDefinition`).
    """
    out.touch(Kind.MONITORING_SCHEDULES)
    summaries = [
        s
        async for s in listing(
            h,
            (Kind.MONITORING_SCHEDULES,),
            SM,
            "ListMonitoringSchedules",
            "MonitoringScheduleSummaries",
            MaxResults=100,
        )
    ]
    # Shared by schedules that name the same definition: a task per definition, so concurrent
    # schedules wait for one describe instead of racing to make their own.
    definitions: dict[tuple[str, str], asyncio.Task[tuple[dict[str, Any] | None, str | None]]] = {}

    async def one(summary: dict[str, Any]) -> None:
        name = summary["MonitoringScheduleName"]
        arn = summary.get("MonitoringScheduleArn") or out.arn(
            SM, f"monitoring-schedule/{name.lower()}"
        )
        data, problem = await describe(
            h, SM, "DescribeMonitoringSchedule", arn, MonitoringScheduleName=name
        )
        if problem == "not_found":
            return
        if data is None:
            out.add(Kind.MONITORING_SCHEDULES, arn, name, summary, problem)
            return
        config = data.get("MonitoringScheduleConfig") or {}
        def_name = config.get("MonitoringJobDefinitionName")
        mon_type = config.get("MonitoringType") or data.get("MonitoringType") or "DataQuality"
        if def_name and "MonitoringJobDefinition" not in config:
            key = (mon_type, def_name)
            if key not in definitions:
                operation = _JOB_DEFINITION_OPERATION.get(
                    mon_type, _JOB_DEFINITION_OPERATION["DataQuality"]
                )
                definitions[key] = asyncio.ensure_future(
                    describe(h, SM, operation, arn, JobDefinitionName=def_name)
                )
            definition, def_problem = await definitions[key]
            if definition is None:
                out.add(Kind.MONITORING_SCHEDULES, arn, name, data,
                        f"job definition {def_name}: {def_problem}")
                return
            data = {**data, "JobDefinition": definition}
        out.add(Kind.MONITORING_SCHEDULES, arn, name, data)

    await fan_out(summaries, one)


async def notebook_instances(h: RegionHandle, out: Builder, opts: CollectOptions) -> None:
    out.touch(Kind.NOTEBOOK_INSTANCES)
    summaries = [
        s
        async for s in listing(
            h,
            (Kind.NOTEBOOK_INSTANCES,),
            SM,
            "ListNotebookInstances",
            "NotebookInstances",
            MaxResults=100,
        )
    ]

    async def one(summary: dict[str, Any]) -> None:
        name = summary["NotebookInstanceName"]
        arn = summary.get("NotebookInstanceArn") or out.arn(
            SM, f"notebook-instance/{name.lower()}"
        )
        version = _version(summary, "NotebookInstanceStatus", _STABLE_NOTEBOOK)
        if version and out.reuse(Kind.NOTEBOOK_INSTANCES, arn, name, version):
            return
        data, problem = await describe(
            h, SM, "DescribeNotebookInstance", arn, NotebookInstanceName=name
        )
        if problem == "not_found":
            return
        out.add(Kind.NOTEBOOK_INSTANCES, arn, name, data or summary, None if data else problem,
                version=version)

    await fan_out(summaries, one)


async def model_package_groups(h: RegionHandle, out: Builder, opts: CollectOptions) -> None:
    out.touch(Kind.MODEL_PACKAGE_GROUPS)
    async for s in listing(
        h,
        (Kind.MODEL_PACKAGE_GROUPS,),
        SM,
        "ListModelPackageGroups",
        "ModelPackageGroupSummaryList",
        MaxResults=100,
    ):
        name = s["ModelPackageGroupName"]
        arn = s.get("ModelPackageGroupArn") or out.arn(SM, f"model-package-group/{name.lower()}")
        out.add(Kind.MODEL_PACKAGE_GROUPS, arn, name, s)


async def inference_components(h: RegionHandle, out: Builder, opts: CollectOptions) -> None:
    """Inference components: on such endpoints the variants name no model, the components do."""
    out.touch(Kind.INFERENCE_COMPONENTS)
    async for s in listing(
        h,
        (Kind.INFERENCE_COMPONENTS,),
        SM,
        "ListInferenceComponents",
        "InferenceComponents",
        MaxResults=100,
    ):
        name = s["InferenceComponentName"]
        arn = s.get("InferenceComponentArn") or out.arn(SM, f"inference-component/{name}")
        out.add(Kind.INFERENCE_COMPONENTS, arn, name, s)
