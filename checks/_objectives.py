"""Objectives as code: the targets a team declares for its own workloads, and who they select.

The lens' first phase asks for success metrics (latency targets, error budgets, cost limits).
An `Objective` selects endpoints by tags and/or a name glob and sets any of four targets; the
`Objectives` of a scan add the window the metrics are judged over and the hourly prices the
cost estimate uses. They are frozen values built from the `[objectives]` settings section
(`agent.config.objectives`) and handed to the objective checks by the runner through
`EvaluationOptions.objectives`, so the checks stay pure functions of (inventory, objectives).

When several objectives select one endpoint and set the same target, the strictest applies and
the finding names the objective it came from. An objective that selects by tags cannot be
decided when the endpoint's tags were not collected: such objectives are kept apart as
"undecided", so a check never passes an endpoint against a looser target while a stricter one
might apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from agent.domain import Inventory, Kind, Resource
from checks._helpers import mapping
from checks._metrics import Window, windowed_record
from checks._prices import DEFAULT_PRICES, PRICE_REGION, PRICE_SOURCE
from checks._tags import TagIndex


@dataclass(frozen=True, slots=True)
class Objective:
    """One workload's targets. Unset targets are None; a selector is the tags and/or the glob."""

    name: str
    # A glob on the endpoint name, compared without case (SageMaker names are case-insensitive).
    endpoint: str | None = None
    # Every (key, value) must be on the endpoint; compared without case, like the severity
    # policy's selectors, so `Team=Fraud` and `team=fraud` select alike.
    tags: tuple[tuple[str, str], ...] = ()
    p99_latency_ms: float | None = None
    max_5xx_rate_pct: float | None = None
    min_invocations_per_day: int | None = None
    max_monthly_cost_usd: float | None = None

    def selects(self, name: str, tags: Mapping[str, str] | None) -> bool | None:
        """True/False, or None when it depends on tags that are not known."""
        if self.endpoint is not None and not fnmatchcase(name.lower(), self.endpoint.lower()):
            return False
        if not self.tags:
            return True
        if tags is None:
            return None
        have = {str(k).casefold(): str(v).casefold() for k, v in tags.items()}
        return all(have.get(k.casefold()) == v.casefold() for k, v in self.tags)

    def describe_selector(self) -> str:
        parts = [f"endpoint {self.endpoint}"] if self.endpoint else []
        parts += [f"tag {k}={v}" for k, v in self.tags]
        return " and ".join(parts)


@dataclass(frozen=True, slots=True)
class Objectives:
    """What a scan's objective checks judge against. Empty by default: nothing is selected."""

    workloads: tuple[Objective, ...] = ()
    # Days of CloudWatch metrics judged, ending at the last full hour before the scan.
    window_days: int = 7
    # USD per instance-hour by instance type, over the default table, in every region.
    prices: tuple[tuple[str, float], ...] = ()

    @property
    def configured(self) -> bool:
        return bool(self.workloads)

    def endpoint_globs(self) -> tuple[str, ...]:
        """Name globs covering every endpoint an objective may select (the collector reads
        metrics for these only): "*" as soon as one objective selects by tags alone."""
        if not self.workloads:
            return ()
        if any(o.endpoint is None for o in self.workloads):
            return ("*",)
        return tuple(sorted({o.endpoint for o in self.workloads if o.endpoint is not None}))

    def price(self, instance_type: str, region: str) -> tuple[float | None, str]:
        """(USD per hour, where it came from) or (None, why there is none)."""
        own = dict(self.prices)
        if instance_type in own:
            return own[instance_type], "objectives.prices"
        if instance_type in DEFAULT_PRICES and region == PRICE_REGION:
            return DEFAULT_PRICES[instance_type], PRICE_SOURCE
        if instance_type in DEFAULT_PRICES:
            return None, (f"the default price table holds {PRICE_REGION} prices only; give "
                          f"{instance_type}'s {region} price in [objectives.prices]")
        return None, (f"{instance_type} is not in the price table; give its price in "
                      "[objectives.prices]")


NO_OBJECTIVES = Objectives()


@dataclass(frozen=True, slots=True)
class Target:
    """One kind of target an objective may set."""

    attribute: str
    label: str
    # True: the measured value must stay at or below the target; False: at or above it.
    ceiling: bool

    def of(self, objective: Objective) -> float | None:
        value = getattr(objective, self.attribute)
        return None if value is None else float(value)

    def stricter(self, a: float, b: float) -> bool:
        return a < b if self.ceiling else a > b


LATENCY = Target("p99_latency_ms", "p99 model latency target", ceiling=True)
ERROR_RATE = Target("max_5xx_rate_pct", "5XX error rate target", ceiling=True)
FLOOR = Target("min_invocations_per_day", "invocations floor", ceiling=False)
COST = Target("max_monthly_cost_usd", "monthly cost ceiling", ceiling=True)


@dataclass(frozen=True, slots=True)
class Selection:
    """The target that applies to one endpoint, and the objectives that could not be decided."""

    target: Target
    value: float | None
    objective: str | None
    undecided: tuple[tuple[str, float], ...] = ()
    why_undecided: str = ""

    def stricter_undecided(self) -> list[str]:
        """Undecided objectives whose target is stricter than the one applied: a PASS against
        the applied target says nothing about them."""
        if self.value is None:
            return [name for name, _ in self.undecided]
        return [name for name, v in self.undecided if self.target.stricter(v, self.value)]

    def evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {"objective": self.objective, "target": self.value}
        if self.undecided:
            out["undecided_objectives"] = [name for name, _ in self.undecided]
        return out


def select(
    objectives: Objectives, target: Target, ep: Resource, tags: TagIndex
) -> Selection:
    """The strictest `target` among the objectives that select the endpoint."""
    known: dict[str, str] | None = None
    why = ""
    if any(o.tags for o in objectives.workloads):
        known, problem = tags.lookup(ep.arn)
        why = problem or ""
    best: tuple[str, float] | None = None
    undecided: list[tuple[str, float]] = []
    for o in objectives.workloads:
        value = target.of(o)
        if value is None:
            continue
        chosen = o.selects(ep.name, known)
        if chosen is None:
            undecided.append((o.name, value))
        elif chosen and (best is None or target.stricter(value, best[1])):
            best = (o.name, value)
    if best is None:
        return Selection(target, None, None, tuple(undecided), why)
    return Selection(target, best[1], best[0], tuple(undecided), why)


def objective_metrics(
    inv: Inventory, endpoint_name: str, window_days: int
) -> tuple[Resource | None, Window | None, str | None]:
    """(record, window, None) or (None, None, why the objective metrics cannot be used)."""
    record, covered, problem = windowed_record(inv, Kind.OBJECTIVE_METRICS, endpoint_name)
    if record is None or covered is None:
        return None, None, problem
    days = mapping(record.get("Window")).get("Days")
    if days != window_days:
        # The p99 is one datapoint over the whole collected window: it cannot be cut down.
        return None, None, (f"metrics were collected over {days} days but the "
                            f"objectives' window is {window_days}")
    return record, covered, None
