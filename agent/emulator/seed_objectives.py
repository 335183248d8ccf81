"""The demo's objectives and the CloudWatch metrics they are judged on.

`mllens demo` has no settings file, so it passes these objectives to its scans itself
(`ScanRequest.evaluation`). The seeded metrics make each outcome appear: the fraud detector
meets every target; the churn endpoint (selected by its `project` tag) misses its latency, error
and traffic targets and costs more than its ceiling; the async embeddings endpoint and the
serverless classifier show what cannot be judged (no Invocations, no instance-hours); in
eu-west-1 the default price table does not apply, so cost is UNKNOWN there.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from agent.emulator.store import now
from checks._objectives import Objective, Objectives

DEMO_OBJECTIVES = Objectives(
    workloads=(
        Objective("fraud-scoring", endpoint="fraud-*", p99_latency_ms=120.0,
                  max_5xx_rate_pct=0.5, min_invocations_per_day=20_000,
                  max_monthly_cost_usd=1_500.0),
        Objective("churn", tags=(("project", "churn"),), p99_latency_ms=300.0,
                  max_5xx_rate_pct=1.0, min_invocations_per_day=500,
                  max_monthly_cost_usd=50.0),
        Objective("batch-inference", endpoint="*-async", max_5xx_rate_pct=1.0,
                  max_monthly_cost_usd=800.0),
        Objective("documents", endpoint="doc-*", p99_latency_ms=2_000.0,
                  max_monthly_cost_usd=100.0),
    ),
    window_days=7,
)


def _put(cw: Any, endpoint: str, variant: str, data: list[dict[str, Any]]) -> None:
    dims = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
    for item in data:
        item["Dimensions"] = dims
    for i in range(0, len(data), 1000):
        cw.put_metric_data(Namespace="AWS/SageMaker", MetricData=data[i:i + 1000])


def _latency_and_errors(cw: Any, endpoint: str, variant: str, *, base_ms: float,
                        errors_per_day: float) -> None:
    """A day of ModelLatency samples per day (microseconds) and daily 5XX counts, next to
    the daily Invocations `seed_catalog` already puts (one hour before each day's mark)."""
    t = now()
    data: list[dict[str, Any]] = []
    for day in range(7):
        when = t - timedelta(days=day, hours=1)
        data.append({"MetricName": "Invocation5XXErrors", "Timestamp": when,
                     "Value": errors_per_day})
        data.append({"MetricName": "ModelLatency", "Timestamp": when,
                     "Values": [(base_ms + i) * 1000 for i in range(0, 60, 3)]})
    _put(cw, endpoint, variant, data)


def seed_objective_metrics(cw: Any) -> None:
    # fraud-detector: 48,000 calls a day, p99 ~ 97 ms, 12 errors a day: within every target.
    _latency_and_errors(cw, "fraud-detector", "primary", base_ms=40.0, errors_per_day=12.0)
    # churn-scoring: 120 calls a day, p99 ~ 477 ms, 6 errors a day (5 %): misses them all.
    _latency_and_errors(cw, "churn-scoring", "AllTraffic", base_ms=420.0, errors_per_day=6.0)
    # doc-classifier-serverless: latency only (serverless endpoints publish it too).
    _latency_and_errors(cw, "doc-classifier-serverless", "AllTraffic", base_ms=900.0,
                        errors_per_day=0.0)
