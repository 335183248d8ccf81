"""Contract cases for the objective checks, and the builders their pure tests share.

Objective metrics records look like the collector's (`agent.collectors.objectives`): hourly
sums of Invocations and Invocation5XXErrors, and one ModelLatency p99 datapoint (microseconds)
over the whole window.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from agent.domain import Kind, Resource, Status
from checks._objectives import Objective, Objectives
from checks.options import EvaluationOptions
from tests.contract_build import Case, Contract, cfg, ep, gapped, series
from tests.factories import NOW, inv, res

P, F, N, U = Status.PASS, Status.FAIL, Status.NOT_APPLICABLE, Status.UNKNOWN
DAYS = 7
END = NOW.replace(minute=0, second=0, microsecond=0)

LATENCY = "sagemaker_endpoint_objective_latency_p99_exceeded"
ERRORS = "sagemaker_endpoint_objective_error_rate_exceeded"
FLOOR = "sagemaker_endpoint_objective_invocations_below_floor"
COST = "sagemaker_endpoint_objective_monthly_cost_exceeded"


def goal(name: str = "svc", *, endpoint: str | None = "ep",
         tags: dict[str, str] | None = None, **targets: Any) -> Objective:
    return Objective(name, endpoint, tuple(sorted((tags or {}).items())), **targets)


def options(*workloads: Objective, days: int = DAYS,
            prices: dict[str, float] | None = None) -> EvaluationOptions:
    return EvaluationOptions(objectives=Objectives(tuple(workloads), days,
                                                   tuple(sorted((prices or {}).items()))))


def record(name: str = "ep", *found: dict[str, Any], days: int = DAYS) -> Resource:
    return res(Kind.OBJECTIVE_METRICS, name, EndpointName=name, Series=list(found),
               Window={"StartTime": END - timedelta(days=days), "EndTime": END, "Days": days})


def hourly_sum(metric: str, per_hour: float, *, hours: int = DAYS * 24,
               variant: str = "AllTraffic", **kw: Any) -> dict[str, Any]:
    return series(metric, [per_hour] * hours, variant=variant, period=3600, **kw)


def p99(ms: float, *, variant: str = "AllTraffic", days: int = DAYS, **kw: Any
        ) -> dict[str, Any]:
    """One p99 datapoint over the window, as CloudWatch gives it: in microseconds."""
    return series("ModelLatency", [ms * 1000], variant=variant, period=days * 86400, **kw)


def traffic(calls: float = 10.0, errors: float = 0.0, latency_ms: float = 120.0,
            variant: str = "AllTraffic") -> list[dict[str, Any]]:
    return [hourly_sum("Invocations", calls, variant=variant),
            hourly_sum("Invocation5XXErrors", errors, variant=variant),
            p99(latency_ms, variant=variant)]


def estate(*found: dict[str, Any], endpoint: Resource | None = None,
           config: Resource | None = None) -> Any:
    return inv(endpoint or ep(), config or cfg(), record("ep", *found))


ALL = options(goal(p99_latency_ms=200.0, max_5xx_rate_pct=1.0, min_invocations_per_day=100,
                   max_monthly_cost_usd=500.0))
NONE = options(goal(endpoint="other-*", p99_latency_ms=200.0, max_5xx_rate_pct=1.0,
                    min_invocations_per_day=100, max_monthly_cost_usd=500.0))
METRICS_DENIED = gapped(ep(), cfg(), missing=Kind.OBJECTIVE_METRICS)

OBJECTIVES: dict[str, Contract] = {
    LATENCY: {
        P: Case(estate(*traffic(latency_ms=150.0)), "ep/AllTraffic", options=ALL),
        F: Case(estate(*traffic(latency_ms=420.0)), "ep/AllTraffic", options=ALL),
        N: Case(estate(*traffic(latency_ms=420.0)), "ep", options=NONE),
        U: Case(METRICS_DENIED, "ep", options=ALL),
    },
    ERRORS: {
        P: Case(estate(*traffic(calls=100.0, errors=0.5)), "ep", options=ALL),
        F: Case(estate(*traffic(calls=100.0, errors=5.0)), "ep", options=ALL),
        N: Case(estate(*traffic(calls=100.0, errors=5.0)), "ep", options=NONE),
        U: Case(estate(), "ep", options=ALL),  # a 30-day-old endpoint without any traffic
    },
    FLOOR: {
        P: Case(estate(*traffic(calls=5.0)), "ep", options=ALL),  # 120 a day
        F: Case(estate(*traffic(calls=2.0)), "ep", options=ALL),  # 48 a day
        N: Case(estate(endpoint=ep(age_days=0)), "ep", options=ALL),
        U: Case(estate(hourly_sum("Invocations", 9.0, status="PartialData")), "ep",
                options=ALL),
    },
    COST: {
        # ml.m5.large at 0.115 USD/h x 730 h = 83.95 USD a month.
        P: Case(inv(ep(), cfg()), "ep", options=ALL),
        F: Case(inv(ep(count=8), cfg(count=8)), "ep", options=ALL),
        N: Case(inv(ep(), cfg()), "ep", options=NONE),
        U: Case(inv(ep(), cfg(instance="ml.m4.xlarge")), "ep", options=ALL),
    },
}
