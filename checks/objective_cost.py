"""Objectives as code: the monthly cost ceiling, estimated from instances and list prices.

The estimate is what the endpoint's instances cost if they keep running as they are now:
hourly price of each variant's instance type x its current instance count x 730 hours, summed
over production and shadow variants (shadow instances bill too). No CloudWatch metric is
needed. The price comes from `[objectives.prices]`, else from the default us-east-1 table
(`checks._prices`); a type priced by neither makes the verdict UNKNOWN, never PASS or FAIL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agent.domain import Inventory, Kind, Resource, Severity
from checks._helpers import SERVING, endpoint_config, is_async, variants
from checks._objectives import COST, NO_OBJECTIVES, Objectives, Selection, select
from checks._prices import HOURS_PER_MONTH
from checks._tags import TagIndex
from checks.base import Verdict, check, failed, not_applicable, unknown
from checks.objectives import met, target_of


def _estimate(inv: Inventory, ep: Resource, objectives: Objectives
              ) -> tuple[float, list[dict[str, Any]], list[str]] | Verdict:
    """(monthly USD of the variants that could be priced, their lines, why others could not),
    or the verdict when the endpoint has no instance count to project."""
    lookup = endpoint_config(inv, ep)
    if lookup.config is None:
        return unknown(ep, lookup.problem or "endpoint config unreadable")
    if is_async(ep, lookup.config):
        return unknown(ep, "asynchronous endpoints scale with their queue, down to zero: the "
                       "current instance count does not project a month")
    total, lines, unpriced = 0.0, [], []
    for v in variants(ep, lookup.config):
        if v.serverless:
            return unknown(ep, f"variant {v.name} is serverless, billed per request duration "
                           "and memory rather than per instance-hour: no estimate")
        itype, count = v.instance_type, v.instance_count
        if not itype or count is None:
            unpriced.append(f"{v.name}: instance type or current count not reported")
            continue
        price, source = objectives.price(itype, inv.region)
        if price is None:
            unpriced.append(f"{v.name}: {source}")
            continue
        monthly = price * count * HOURS_PER_MONTH
        total += monthly
        lines.append({"variant": v.name, "shadow": v.shadow, "InstanceType": itype,
                      "count": count, "usd_per_hour": price, "price_source": source,
                      "monthly_usd": round(monthly, 2)})
    return total, lines, unpriced


def _verdict(ep: Resource, sel: Selection, ceiling: float, total: float,
             lines: list[dict[str, Any]], unpriced: list[str]) -> Verdict:
    evidence: dict[str, Any] = {**sel.evidence(), "ceiling_usd": ceiling,
                                "estimate_usd": round(total, 2),
                                "hours_per_month": HOURS_PER_MONTH, "variants": lines}
    if unpriced:
        evidence["unpriced"] = unpriced
    if total > ceiling:
        # The variants that could be priced already cost more: the rest can only add to it.
        at_least = "at least " if unpriced else ""
        return failed(ep, f"estimated {at_least}${total:,.2f} a month at current instance "
                      f"counts exceeds the ${ceiling:,.2f} ceiling of objective {sel.objective}",
                      **evidence)
    if unpriced:
        return unknown(ep, "cannot price every variant: " + "; ".join(unpriced), **evidence)
    return met(ep, sel, f"estimated ${total:,.2f} a month at current instance counts is "
               f"within the ${ceiling:,.2f} ceiling of objective {sel.objective}", **evidence)


@check(
    title="SageMaker endpoint's estimated monthly cost exceeds its objective",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=("MLCOST06-BP01", "MLCOST01-BP01", "MLCOST04-BP12"),
    needs=(Kind.ENDPOINTS, Kind.ENDPOINT_CONFIGS),
    optional=(Kind.TAGS,),
    options=("objectives",),
    remediation=(
        "Lower the instance count or its auto scaling minimum, right-size the instance type, "
        "host several models on one endpoint, or move spiky traffic to serverless inference; "
        "a savings plan lowers the price itself. If the ceiling no longer matches the "
        "budget, change it in the settings ([objectives]) deliberately."
    ),
)
def sagemaker_endpoint_objective_monthly_cost_exceeded(
    inv: Inventory, *, objectives: Objectives = NO_OBJECTIVES
) -> Iterator[Verdict]:
    """Per serving endpoint that an objective with `max_monthly_cost_usd` selects: PASS when
    the hourly price of each variant's instance type x its current instance count x 730 hours,
    summed over production and shadow variants, is at or under the ceiling; FAIL above it,
    with the estimate per variant, the prices and where they came from. FAIL also when the
    variants that could be priced already exceed the ceiling. NOT_APPLICABLE for endpoints no
    such objective selects and endpoints not serving. UNKNOWN when an instance type has no
    price (not in `[objectives.prices]`, nor in the default table, which holds us-east-1
    on-demand list prices and is used in us-east-1 only), for serverless variants (billed per
    use) and asynchronous endpoints (they scale with their queue, to zero), when the endpoint
    config was not read, and when tags that decide whether an objective applies were not
    collected. The estimate is instances only, at list price: no savings plans, storage or
    data transfer.

    A cost limit set in the first phase is only useful if someone compares it with what runs:
    the lens asks to monitor cost per ML workload against the value it brings.
    """
    tags = TagIndex.of(inv)
    for ep in inv.of(Kind.ENDPOINTS):
        sel = select(objectives, COST, ep, tags)
        ceiling = target_of(ep, sel)
        if isinstance(ceiling, Verdict):
            yield ceiling
            continue
        status = ep.get("EndpointStatus")
        if status not in SERVING:
            yield not_applicable(ep, f"endpoint is {status or 'in an unreported state'}")
            continue
        estimate = _estimate(inv, ep, objectives)
        if isinstance(estimate, Verdict):
            yield estimate
            continue
        yield _verdict(ep, sel, ceiling, *estimate)


CHECKS = (sagemaker_endpoint_objective_monthly_cost_exceeded,)
