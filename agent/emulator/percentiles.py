"""CloudWatch percentile statistics (pNN, pNN.NN), which moto 5.2 does not compute.

moto's GetMetricData answers a MetricStat whose Stat is a percentile with a null value per
period, which its serializer then fails on (HTTP 500); its GetMetricStatistics ignores
ExtendedStatistics. Both are answered here from moto's stored datapoints, over the same period
buckets moto uses (aligned to StartTime), in botocore's response shapes: `Values` of the
MetricDataResult, `ExtendedStatistics` of each Datapoint.

As AWS documents: percentiles need raw values, so a statistic set counts only when its
SampleCount is 1 or its Minimum equals its Maximum (any other one leaves that period without a
percentile), and a period holding a negative value has none. The percentile itself is the
nearest-rank one over the period's samples; AWS does not document its exact estimator, so
values agree with AWS's only where the samples are few and distinct, which is what the tests
put in.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatum, cloudwatch_backends
from moto.core.responses import ActionResult

Handler = Callable[[Any], Any]
PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d{1,2})?|100)$")


def _samples(data: Iterable[Any]) -> list[float] | None:
    """Every raw value of the datapoints, or None when a percentile is not available."""
    out: list[float] = []
    for md in data:
        if isinstance(md, MetricDatum):
            out.append(float(md.value))
        elif isinstance(md, MetricAggregatedDatum):
            if md.sample_count == 1:
                out.append(float(md.sum))
            elif md.min == md.max:
                out.extend([float(md.min)] * int(md.sample_count))
            else:
                return None
    if any(v < 0 for v in out):
        return None
    return out


def nearest_rank(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def _dims(pairs: Iterable[Any]) -> list[tuple[str, str]]:
    return sorted((str(d.name), str(d.value)) for d in pairs)


def percentile_series(
    backend: Any, stat: dict[str, Any], start: datetime, end: datetime
) -> tuple[list[datetime], list[float]]:
    """(timestamps, values) of one percentile MetricStat, oldest first."""
    metric = stat["Metric"]
    q = float(stat["Stat"][1:])
    period = timedelta(seconds=int(stat["Period"]))
    wanted = sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions") or ())
    unit = stat.get("Unit")
    start, end = start.replace(microsecond=0), end.replace(microsecond=0)
    data = [
        md for md in backend.get_all_metrics()
        if md.namespace == metric["Namespace"] and md.name == metric["MetricName"]
        and _dims(md.dimensions) == wanted and start <= md.timestamp < end
        and (unit is None or md.unit == unit)
    ]
    timestamps: list[datetime] = []
    found: list[float] = []
    bucket = start
    while bucket < end:
        samples = _samples(md for md in data if bucket <= md.timestamp < bucket + period)
        if samples:
            timestamps.append(bucket)
            found.append(nearest_rank(samples, q))
        bucket += period
    return timestamps, found


def get_metric_data(original: Handler) -> Handler:
    """moto's answer, with the percentile queries' values computed."""

    @functools.wraps(original)
    def handler(self: Any) -> Any:
        result = original(self)
        params = self._get_params()
        percentile = {
            q["Id"]: q["MetricStat"] for q in params.get("MetricDataQueries") or ()
            if "MetricStat" in q and PERCENTILE.match(str(q["MetricStat"].get("Stat")))
        }
        if not percentile or not isinstance(result, ActionResult):
            return result
        backend = cloudwatch_backends[self.current_account][self.region]
        descending = (params.get("ScanBy") or "TimestampDescending") == "TimestampDescending"
        answered: dict[str, Any] = result.result  # type: ignore[assignment]
        for entry in answered.get("MetricDataResults") or ():
            stat = percentile.get(entry["id"])
            if stat is None:
                continue
            timestamps, found = percentile_series(backend, stat, params["StartTime"],
                                                  params["EndTime"])
            if descending:
                timestamps.reverse()
                found.reverse()
            entry["timestamps"], entry["values"] = timestamps, found
        return result

    handler._mllens_wrapped = True  # type: ignore[attr-defined]
    return handler


def get_metric_statistics(original: Handler) -> Handler:
    """moto's datapoints, with ExtendedStatistics added when asked for."""

    @functools.wraps(original)
    def handler(self: Any) -> Any:
        extended = [str(e) for e in self._get_param("ExtendedStatistics") or ()]
        result = original(self)
        if not extended or not isinstance(result, ActionResult):
            return result
        answered: dict[str, Any] = result.result  # type: ignore[assignment]
        points = []
        for s in answered.get("Datapoints") or ():
            point: dict[str, Any] = {"Timestamp": s.timestamp}
            for name in s.stats:
                value = s.get_statistics_for_type(name)
                if value is not None:
                    point[name] = value
            if s.unit:
                point["Unit"] = s.unit
            samples = _samples(s.metric_data)
            if samples:
                point["ExtendedStatistics"] = {
                    e: nearest_rank(samples, float(e[1:])) for e in extended
                    if PERCENTILE.match(e)
                }
            points.append(point)
        return ActionResult({**answered, "Datapoints": points})

    handler._mllens_wrapped = True  # type: ignore[attr-defined]
    return handler
