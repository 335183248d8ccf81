"""Tags of the ML resources, for the cost-allocation checks and the severity policy.

Bulk first: one Resource Groups Tagging API listing (`tag:GetResources`, 100 resources per
page) filtered to the resource types the checks judge, instead of one ListTags call per
resource. GetResources reports every resource that has or had tags, so a resource missing from
a complete answer has none. When the tagging API is denied or not offered, the collector falls
back to listing each resource type and calling `sagemaker:ListTags` / `glue:GetTags` per
resource. Anything else that stops the collection is a gap on TAGS: tag-dependent checks then
say UNKNOWN, never "no tags".

Besides one TAGS record per tagged resource, a `coverage` record names the resource types and
the source, so a lookup for a type that was not collected (say, an auto scaling target) is
known to be "not collected" rather than "untagged".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from agent.aws.handle import CallFailed, RegionHandle
from agent.collectors.base import Builder, CollectOptions, describe, fan_out, list_all
from agent.domain import GapKind, Kind, utcnow

KINDS = (Kind.TAGS,)
TAGGED_TYPES = (
    "sagemaker:endpoint",
    "sagemaker:endpoint-config",
    "sagemaker:model",
    "sagemaker:training-job",
    "sagemaker:notebook-instance",
    "sagemaker:monitoring-schedule",
    "glue:job",
    "cloudwatch:alarm",
)
# Failures of GetResources that a per-resource fallback can get around: the API or the
# permission is missing, or a resource type filter is not accepted in this partition.
_FALLBACK_ON = {GapKind.ACCESS_DENIED, GapKind.UNSUPPORTED, GapKind.CLIENT_ERROR}


@dataclass(frozen=True, slots=True)
class _Listing:
    resource_type: str
    service: str
    operation: str
    result_key: str
    arn_key: str


# The fallback's listings; alarms are left out (the severity policy then leaves their
# findings at base severity, and the coverage record says so).
_FALLBACK = (
    _Listing("sagemaker:endpoint", "sagemaker", "ListEndpoints", "Endpoints", "EndpointArn"),
    _Listing("sagemaker:endpoint-config", "sagemaker", "ListEndpointConfigs", "EndpointConfigs",
             "EndpointConfigArn"),
    _Listing("sagemaker:model", "sagemaker", "ListModels", "Models", "ModelArn"),
    _Listing("sagemaker:training-job", "sagemaker", "ListTrainingJobs", "TrainingJobSummaries",
             "TrainingJobArn"),
    _Listing("sagemaker:notebook-instance", "sagemaker", "ListNotebookInstances",
             "NotebookInstances", "NotebookInstanceArn"),
    _Listing("sagemaker:monitoring-schedule", "sagemaker", "ListMonitoringSchedules",
             "MonitoringScheduleSummaries", "MonitoringScheduleArn"),
)


def _add(out: Builder, arn: str, tags: Any, source: str, problem: str | None = None) -> None:
    if isinstance(tags, Mapping):  # glue:GetTags answers a map
        tags = [{"Key": k, "Value": v} for k, v in tags.items()]
    out.add(Kind.TAGS, arn, arn, {"ResourceARN": arn, "Tags": list(tags or ()),
                                  "Source": source}, problem)


def _coverage(out: Builder, types: tuple[str, ...], source: str) -> None:
    out.add(Kind.TAGS, out.arn("tag", "coverage"), "coverage",
            {"ResourceTypes": list(types), "Source": source})


async def resource_tags(h: RegionHandle, out: Builder, opts: CollectOptions) -> None:
    out.touch(Kind.TAGS)
    mappings: list[dict[str, Any]] = []
    try:
        async for page in h.pages(
            "resourcegroupstaggingapi", "GetResources", "PaginationToken", "PaginationToken",
            ResourceTypeFilters=list(TAGGED_TYPES), ResourcesPerPage=100,
        ):
            mappings.extend(page.get("ResourceTagMappingList") or ())
    except CallFailed as failure:
        if failure.kind not in _FALLBACK_ON:
            h.gap(failure, kinds=KINDS)
            return
        # Recorded without kinds: the fallback below may still collect every tag.
        h.gap(failure)
        await _per_resource(h, out, opts)
        return
    for m in mappings:
        _add(out, m["ResourceARN"], m.get("Tags"), "tag:GetResources")
    _coverage(out, TAGGED_TYPES, "tag:GetResources")


async def _per_resource(h: RegionHandle, out: Builder, opts: CollectOptions) -> None:
    """One listing per resource type, then one tag call per resource."""
    since = utcnow() - timedelta(days=opts.training_lookback_days)
    targets: list[tuple[str, str]] = []  # (service, arn)
    for listing in _FALLBACK:
        params: dict[str, Any] = {"MaxResults": 100}
        if listing.operation == "ListTrainingJobs":
            params["CreationTimeAfter"] = since
        items = await list_all(h, KINDS, listing.service, listing.operation,
                               listing.result_key, **params)
        if items is None:
            return
        targets += [("sagemaker", i[listing.arn_key]) for i in items if i.get(listing.arn_key)]
    jobs = await list_all(h, KINDS, "glue", "ListJobs", "JobNames", MaxResults=1000)
    if jobs is None:
        return
    targets += [("glue", out.arn("glue", f"job/{name}")) for name in jobs]

    async def one(target: tuple[str, str]) -> None:
        service, arn = target
        if service == "glue":
            data, problem = await describe(h, "glue", "GetTags", arn, ResourceArn=arn)
            tags = (data or {}).get("Tags") or {}
        else:
            data, problem = await describe(h, "sagemaker", "ListTags", arn, ResourceArn=arn,
                                           MaxResults=100)
            tags = (data or {}).get("Tags") or []
            # A resource with more than 100 tags is rare; the rest would be on later pages,
            # and the record says so instead of pretending to be whole.
            if data is not None and data.get("NextToken"):
                problem = "more than 100 tags: only the first page was read"
        if problem == "not_found":
            return
        _add(out, arn, tags, f"{service}:{'GetTags' if service == 'glue' else 'ListTags'}",
             problem)

    await fan_out(targets, one)
    _coverage(out, (*(x.resource_type for x in _FALLBACK), "glue:job"), "per-resource")
