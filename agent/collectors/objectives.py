"""CloudWatch metrics the objective checks judge: p99 latency, 5XX errors and invocations.

Read only when objectives are configured (`CollectOptions.objective_window_days`), and only
for the endpoints whose name an objective's glob may match, so a scan without objectives makes
no call here. One OBJECTIVE_METRICS record per such endpoint that ListEndpoints reports, even
with no series at all: the query ran and found nothing, which the checks tell apart from a
record that is missing (UNKNOWN).

- ModelLatency as p99 over ONE period spanning the whole window: CloudWatch computes the
  percentile over every sample in the period, which daily p99s could not be combined into.
  SageMaker publishes it in microseconds.
- Invocations and Invocation5XXErrors as hourly sums: the checks add them up per day (the
  invocations floor, counting only days the endpoint existed for in full) and over the window
  (the error rate).

Series are discovered with ListMetrics (series with datapoints in the last two weeks, which is
why the window is at most 14 days) and read with GetMetricData, 500 queries per call; the
collection shares its reader with `agent.collectors.metrics`.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from agent.aws.handle import CallFailed, RegionHandle
from agent.collectors.base import Builder, CollectOptions, list_all
from agent.collectors.metrics import MetricSpec, read_series, window
from agent.domain import Kind

KINDS = (Kind.OBJECTIVE_METRICS,)
NAMESPACE = "AWS/SageMaker"


def specs(window_days: int) -> tuple[MetricSpec, ...]:
    return (
        MetricSpec(NAMESPACE, ("Invocations",), "Sum", 3600),
        MetricSpec(NAMESPACE, ("Invocation5XXErrors",), "Sum", 3600),
        MetricSpec(NAMESPACE, ("ModelLatency",), "p99", window_days * 86400),
    )


def _selected(name: str, globs: tuple[str, ...]) -> bool:
    return any(fnmatchcase(name.lower(), g.lower()) for g in globs)


async def objective_metrics(h: RegionHandle, out: Builder, opts: CollectOptions) -> None:
    """p99 ModelLatency, 5XX errors and invocations of the endpoints objectives may select."""
    out.touch(Kind.OBJECTIVE_METRICS)
    days, globs = opts.objective_window_days, opts.objective_endpoints
    if days <= 0 or not globs:
        return  # no objective configured: the objective checks have nothing to judge
    endpoints = await list_all(h, KINDS, "sagemaker", "ListEndpoints", "Endpoints",
                               MaxResults=100)
    if endpoints is None:
        return  # the listing failed: its gap makes the kind incomplete
    wanted = [e for e in endpoints if _selected(e["EndpointName"], globs)]
    if not wanted:
        return
    names = {e["EndpointName"].lower() for e in wanted}
    start, end = window(days)
    try:
        by_endpoint = await read_series(h, specs(days), start, end,
                                        keep=lambda name: name.lower() in names)
    except CallFailed as failure:
        h.gap(failure, kinds=KINDS)
        return
    for summary in wanted:
        name = summary["EndpointName"]
        arn = summary.get("EndpointArn") or out.arn("sagemaker", f"endpoint/{name.lower()}")
        out.add(Kind.OBJECTIVE_METRICS, arn, name, {
            "EndpointName": name,
            "EndpointStatus": summary.get("EndpointStatus"),
            "CreationTime": summary.get("CreationTime"),
            "Window": {"StartTime": start, "EndTime": end, "Days": days},
            "Series": by_endpoint.get(name.lower(), []),
        })
