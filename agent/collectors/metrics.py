"""CloudWatch usage metrics of SageMaker endpoints, for the idle and under-used checks.

One ENDPOINT_METRICS record per endpoint that ListEndpoints reports, holding the series found
for it over the lookback window. Every listed endpoint gets a record, even with no series at
all: absence of datapoints is then data (the query ran and found nothing), while absence of a
record means the endpoint was not known to this collector and the checks say UNKNOWN.

Collectors run concurrently, so this one does not wait for the endpoints collector: it lists
endpoint names itself (one call per 100 endpoints), discovers the series with ListMetrics
(which reports series with datapoints in the last two weeks), and reads them with
GetMetricData, up to 500 queries per call (the API's limit), following NextToken when a call
answers more datapoints than one response holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from agent.aws.handle import CallFailed, RegionHandle
from agent.collectors.base import Builder, CollectOptions, list_all
from agent.domain import Kind, utcnow

CW = "cloudwatch"
KINDS = (Kind.ENDPOINT_METRICS,)
# GetMetricData accepts at most 500 MetricDataQuery structures per call.
MAX_QUERIES = 500
_VARIANT_DIMS = frozenset({"EndpointName", "VariantName"})


@dataclass(frozen=True, slots=True)
class MetricSpec:
    namespace: str
    names: tuple[str, ...]
    stat: str
    period: int


# Invocations per day: enough to tell idle from used, 14 datapoints per variant. Instance
# utilisation per hour: the under-used check takes a 95th percentile of hourly averages.
SPECS = (
    MetricSpec("AWS/SageMaker", ("Invocations",), "Sum", 86400),
    MetricSpec(
        "/aws/sagemaker/Endpoints",
        ("CPUUtilization", "MemoryUtilization", "GPUUtilization", "GPUMemoryUtilization"),
        "Average",
        3600,
    ),
)


def _dims(metric: dict[str, Any]) -> dict[str, str]:
    return {str(d["Name"]): str(d["Value"]) for d in metric.get("Dimensions") or ()}


async def discover(h: RegionHandle, spec: MetricSpec) -> list[tuple[str, dict[str, str]]]:
    """(metric name, dimensions) of each per-variant series; CallFailed propagates.

    One listing per spec: filtered by MetricName when the spec wants one metric, else the
    whole namespace (a few metrics per variant) filtered here.
    """
    params: dict[str, Any] = {"Namespace": spec.namespace}
    if len(spec.names) == 1:
        params["MetricName"] = spec.names[0]
    found: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, str]] = {}
    async for page in h.pages(CW, "ListMetrics", "NextToken", "NextToken", **params):
        for metric in page.get("Metrics") or ():
            dims = _dims(metric)
            # Only the per-variant series: enhanced metrics add InstanceId/ContainerId series
            # that would count the same traffic twice. Duplicates are folded (moto lists one
            # entry per datapoint).
            if metric.get("MetricName") in spec.names and set(dims) == _VARIANT_DIMS:
                found[(metric["MetricName"], tuple(sorted(dims.items())))] = dims
    return [(key[0], dims) for key, dims in sorted(found.items())]


def _query(i: int, spec: MetricSpec, metric: str, dims: dict[str, str]) -> dict[str, Any]:
    return {
        "Id": f"m{i}",
        "MetricStat": {
            "Metric": {
                "Namespace": spec.namespace,
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dims.items())],
            },
            "Period": spec.period,
            "Stat": spec.stat,
        },
        "ReturnData": True,
    }


async def _fetch(
    h: RegionHandle, queries: list[dict[str, Any]], start: datetime, end: datetime
) -> dict[str, dict[str, Any]]:
    """Run the queries in batches of MAX_QUERIES; results merged by Id across pages."""
    merged: dict[str, dict[str, Any]] = {}
    for offset in range(0, len(queries), MAX_QUERIES):
        batch = queries[offset:offset + MAX_QUERIES]
        async for page in h.pages(
            CW,
            "GetMetricData",
            "NextToken",
            "NextToken",
            MetricDataQueries=batch,
            StartTime=start,
            EndTime=end,
            ScanBy="TimestampAscending",
        ):
            for result in page.get("MetricDataResults") or ():
                slot = merged.setdefault(result["Id"], {"Timestamps": [], "Values": []})
                slot["Timestamps"] += list(result.get("Timestamps") or ())
                slot["Values"] += list(result.get("Values") or ())
                # The last page's status is the query's: PartialData means more pages follow.
                slot["StatusCode"] = result.get("StatusCode")
    return merged


def window(lookback_days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) ending at the last full hour, so daily and hourly buckets line up."""
    end = (now or utcnow()).replace(minute=0, second=0, microsecond=0)
    return end - timedelta(days=lookback_days), end


async def read_series(
    h: RegionHandle,
    specs: Iterable[MetricSpec],
    start: datetime,
    end: datetime,
    keep: Callable[[str], bool] = lambda endpoint: True,
) -> dict[str, list[dict[str, Any]]]:
    """The series of `specs` per lower-cased endpoint name (only endpoints `keep` accepts),
    with their datapoints over [start, end). CallFailed propagates: the caller records the gap
    for its kinds, since without every series a quiet endpoint cannot be told from an unread
    one."""
    queries: list[dict[str, Any]] = []
    meta: dict[str, tuple[MetricSpec, str, dict[str, str]]] = {}
    for spec in specs:
        for metric, dims in await discover(h, spec):
            if not keep(dims["EndpointName"]):
                continue
            query = _query(len(queries), spec, metric, dims)
            meta[query["Id"]] = (spec, metric, dims)
            queries.append(query)
    results = await _fetch(h, queries, start, end) if queries else {}
    by_endpoint: dict[str, list[dict[str, Any]]] = {}
    for qid, (spec, metric, dims) in meta.items():
        result = results.get(qid, {"Timestamps": [], "Values": [], "StatusCode": None})
        points = sorted(zip(result["Timestamps"], result["Values"], strict=False))
        by_endpoint.setdefault(dims["EndpointName"].lower(), []).append({
            "Namespace": spec.namespace,
            "MetricName": metric,
            "Dimensions": dims,
            "Stat": spec.stat,
            "Period": spec.period,
            "Timestamps": [t for t, _ in points],
            "Values": [v for _, v in points],
            "StatusCode": result.get("StatusCode"),
        })
    return by_endpoint


async def endpoint_metrics(h: RegionHandle, out: Builder, opts: CollectOptions) -> None:
    """Invocations and instance utilisation per endpoint variant over the lookback window."""
    out.touch(Kind.ENDPOINT_METRICS)
    endpoints = await list_all(h, KINDS, "sagemaker", "ListEndpoints", "Endpoints",
                               MaxResults=100)
    if endpoints is None:
        return  # the endpoint listing failed: its gap makes the kind incomplete
    start, end = window(opts.metrics_lookback_days)
    try:
        by_endpoint = await read_series(h, SPECS, start, end)
    except CallFailed as failure:
        # Without every series a quiet endpoint cannot be told from an unread one.
        h.gap(failure, kinds=KINDS)
        return
    _add_records(out, endpoints, by_endpoint, start, end, opts.metrics_lookback_days)


def _add_records(
    out: Builder,
    endpoints: Iterable[dict[str, Any]],
    series: dict[str, list[dict[str, Any]]],
    start: datetime,
    end: datetime,
    lookback_days: int,
) -> None:
    for summary in endpoints:
        name = summary["EndpointName"]
        arn = summary.get("EndpointArn") or out.arn("sagemaker", f"endpoint/{name.lower()}")
        out.add(Kind.ENDPOINT_METRICS, arn, name, {
            "EndpointName": name,
            "EndpointStatus": summary.get("EndpointStatus"),
            "CreationTime": summary.get("CreationTime"),
            "Window": {"StartTime": start, "EndTime": end, "LookbackDays": lookback_days,
                       "Discovery": "ListMetrics: series with datapoints in the last 14 days"},
            "Series": series.get(name.lower(), []),
        })
