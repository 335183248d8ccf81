"""The `[objectives]` settings section: per-workload targets, their window and prices.

Validated like every section (unknown keys, wrong types and out-of-range values are one line
naming the key); a target key that is not one of the four metrics is an unknown key, with a
suggestion for a near miss (`p95_latency_ms` -> `p99_latency_ms`). `build()` gives the frozen
`checks._objectives.Objectives` the checks judge against.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, model_validator

from agent.config.values import SECTION, Float, Int, matching
from checks._objectives import Objective, Objectives
from checks._prices import PRICE_REGION, PRICES_AS_OF

INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")
OBJECTIVE_NAME = re.compile(r"^[A-Za-z0-9][\w.-]{0,63}$")
TARGETS = ("p99_latency_ms", "max_5xx_rate_pct", "min_invocations_per_day",
           "max_monthly_cost_usd")

InstanceType = Annotated[str, AfterValidator(matching(INSTANCE_TYPE,
                                                      "an ML instance type like ml.m5.xlarge"))]

EXAMPLE_WORKLOAD: dict[str, Any] = {
    "name": "fraud-api",
    "endpoint": "fraud-*",
    "tags": {"environment": "prod"},
    "p99_latency_ms": 250.0,
    "max_5xx_rate_pct": 0.5,
    "min_invocations_per_day": 1000,
    "max_monthly_cost_usd": 2000.0,
}


def _glob(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("expected an endpoint name or glob, e.g. fraud-*")
    return value


class WorkloadObjective(BaseModel):
    """One workload: how to find its endpoints, and the targets it must meet."""

    model_config = SECTION

    name: Annotated[str, AfterValidator(matching(OBJECTIVE_NAME, "a name of letters, digits, "
                                                 "'.', '_' or '-' (at most 64)"))] = Field(
        description="Names the objective in findings.")
    endpoint: Annotated[str, AfterValidator(_glob)] | None = Field(
        default=None,
        description="Endpoints whose name matches this glob (case-insensitive), e.g. fraud-*.")
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="Endpoints carrying every one of these tags (compared without case). With "
        "`endpoint`, both must match.")
    p99_latency_ms: Float | None = Field(
        default=None, gt=0,
        description="Highest p99 of ModelLatency over the window, in milliseconds (CloudWatch "
        "publishes microseconds; mllens converts).")
    max_5xx_rate_pct: Float | None = Field(
        default=None, ge=0, le=100,
        description="Highest Invocation5XXErrors / Invocations over the window, in percent.")
    min_invocations_per_day: Int | None = Field(
        default=None, ge=1, description="Fewest invocations on any full day of the window.")
    max_monthly_cost_usd: Float | None = Field(
        default=None, gt=0,
        description="Highest estimated monthly cost: hourly price x current instance count x "
        "730 hours.")

    @model_validator(mode="after")
    def _selects_and_targets(self) -> WorkloadObjective:
        if self.endpoint is None and not self.tags:
            raise ValueError(f"objective {self.name!r} selects nothing: give `endpoint` (a "
                             "glob) and/or `tags`")
        if all(getattr(self, t) is None for t in TARGETS):
            raise ValueError(f"objective {self.name!r} sets no target: give one of "
                             + ", ".join(TARGETS))
        return self

    def build(self) -> Objective:
        return Objective(
            name=self.name,
            endpoint=self.endpoint,
            tags=tuple(sorted(self.tags.items())),
            p99_latency_ms=self.p99_latency_ms,
            max_5xx_rate_pct=self.max_5xx_rate_pct,
            min_invocations_per_day=self.min_invocations_per_day,
            max_monthly_cost_usd=self.max_monthly_cost_usd,
        )


class ObjectivesSettings(BaseModel):
    model_config = SECTION

    window_days: Int = Field(
        default=7, ge=1, le=14,
        description="Days of CloudWatch metrics the objectives are judged over, ending at the "
        "last full hour (at most 14: CloudWatch lists series with data in the last two weeks).")
    prices: dict[InstanceType, Annotated[Float, Field(gt=0)]] = Field(
        default_factory=dict,
        description=f"USD per instance-hour by instance type, for the cost ceiling. They add to "
        f"and override the built-in table ({PRICE_REGION} on-demand list prices, "
        f"{PRICES_AS_OF}), which is used in {PRICE_REGION} only; these apply in every region.",
        json_schema_extra={"example": {"ml.m5.xlarge": 0.23}})
    workloads: tuple[WorkloadObjective, ...] = Field(
        default=(),
        description="One [[objectives.workloads]] table per workload.",
        json_schema_extra={"example": [EXAMPLE_WORKLOAD]})

    @model_validator(mode="after")
    def _unique_names(self) -> ObjectivesSettings:
        seen: set[str] = set()
        for w in self.workloads:
            if w.name in seen:
                raise ValueError(f"two objectives are named {w.name!r}")
            seen.add(w.name)
        return self

    def build(self) -> Objectives:
        return Objectives(
            workloads=tuple(w.build() for w in self.workloads),
            window_days=self.window_days,
            prices=tuple(sorted(self.prices.items())),
        )
