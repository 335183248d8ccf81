"""Reading the ENDPOINT_METRICS records: series per variant, windows, percentiles, hardware.

A record holds the series the collector found for one endpoint, each with its datapoints over
the collection window. A series with no datapoints, or no series at all, means CloudWatch holds
nothing for that window (SageMaker publishes no Invocations datapoint for a period without
requests); a series whose StatusCode is not Complete means CloudWatch did not answer in full.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from agent.domain import Inventory, Kind, Resource
from checks._helpers import as_datetime, items, mapping, record_of


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400


def windowed_record(
    inv: Inventory, kind: Kind, endpoint_name: str
) -> tuple[Resource | None, Window | None, str | None]:
    """A per-endpoint metrics record with the window it covers, or why there is none."""
    record, problem = record_of(inv, kind, endpoint_name)
    if record is None:
        return None, None, problem
    window = mapping(record.get("Window"))
    start, end = as_datetime(window.get("StartTime")), as_datetime(window.get("EndTime"))
    if start is None or end is None:
        return None, None, "the metrics record does not say which window it covers"
    return record, Window(start, end), None


def endpoint_metrics(
    inv: Inventory, endpoint_name: str, lookback_days: int
) -> tuple[Resource | None, Window | None, str | None]:
    """(record, the window to judge, None) or (None, None, why the metrics cannot be used)."""
    record, covered, problem = windowed_record(inv, Kind.ENDPOINT_METRICS, endpoint_name)
    if record is None or covered is None:
        return None, None, problem
    start, end = covered.start, covered.end
    # A few minutes of slack: the collector aligns the window to whole hours.
    if (end - start) + timedelta(hours=1) < timedelta(days=lookback_days):
        return None, None, (
            f"metrics were collected for {(end - start).days} days but {lookback_days} are "
            "asked for: raise the metrics lookback of the scan"
        )
    return record, Window(end - timedelta(days=lookback_days), end), None


def series(record: Resource, metric: str, variant: str | None = None) -> list[Mapping[str, Any]]:
    out = []
    for s in items(record.get("Series")):
        dims = mapping(s.get("Dimensions"))
        if s.get("MetricName") == metric and variant in (None, dims.get("VariantName")):
            out.append(s)
    return out


def incomplete(found: Iterable[Mapping[str, Any]]) -> list[str]:
    """Series CloudWatch did not answer in full (PartialData, InternalError, Forbidden...)."""
    return [f"{s.get('MetricName')}/{mapping(s.get('Dimensions')).get('VariantName')}: "
            f"{s.get('StatusCode') or 'no answer'}" for s in found
            if s.get("StatusCode") != "Complete"]


def values(found: Iterable[Mapping[str, Any]], window: Window) -> list[float]:
    out: list[float] = []
    for s in found:
        for t, v in zip(s.get("Timestamps") or (), s.get("Values") or (), strict=False):
            when = as_datetime(t)
            if when is not None and window.start <= when < window.end and isinstance(
                v, int | float
            ):
                out.append(float(v))
    return out


def percentile(data: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(data)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


# --- hardware of an ML instance type -------------------------------------------------------------

_TYPE = re.compile(r"^ml\.(?P<family>[a-z]+\d+[a-z0-9-]*)\.(?P<size>[a-z0-9]+)$")
_SIZE = re.compile(r"^(?P<n>\d*)xlarge$")
# GPUs per instance for the GPU families SageMaker hosts on; sizes not listed have one GPU.
_GPUS: dict[str, dict[str, int]] = {
    "g4dn": {"12xlarge": 4, "metal": 8},
    "g5": {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8},
    "g6": {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8},
    "g6e": {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8},
    "p2": {"8xlarge": 8, "16xlarge": 16},
    "p3": {"8xlarge": 4, "16xlarge": 8},
    "p3dn": {"24xlarge": 8},
    "p4d": {"24xlarge": 8},
    "p4de": {"24xlarge": 8},
    "p5": {"48xlarge": 8},
    "p5e": {"48xlarge": 8},
    "p5en": {"48xlarge": 8},
}


def vcpus(instance_type: str | None) -> int | None:
    """vCPUs of an ML instance type from its size (EC2 naming: xlarge = 4, Nxlarge = 4N,
    large = 2; t-series medium = 2). None for sizes the rule does not cover (metal...)."""
    m = _TYPE.match(instance_type or "")
    if not m:
        return None
    size, family = m["size"], m["family"]
    if size == "large":
        return 2
    if size == "medium":
        return 2 if family.startswith("t") else None
    sized = _SIZE.match(size)
    if sized:
        return 4 * int(sized["n"] or 1)
    return None


def hardware(instance_type: str | None) -> str | None:
    """"gpu", "neuron" (Inferentia/Trainium), "cpu", or None when the type does not parse."""
    m = _TYPE.match(instance_type or "")
    if not m:
        return None
    series_name = re.match(r"[a-z]+", m["family"])
    letters = series_name.group(0) if series_name else ""
    if letters in ("g", "gr", "p"):
        return "gpu"
    if letters in ("inf", "trn"):
        return "neuron"
    return "cpu"


def gpus(instance_type: str | None) -> int | None:
    m = _TYPE.match(instance_type or "")
    if not m or hardware(instance_type) != "gpu":
        return None
    family = m["family"]
    if family not in _GPUS:
        return None
    return _GPUS[family].get(m["size"], 1)
