"""Objectives as code: declared latency, error and traffic targets against CloudWatch metrics.

Each check judges the endpoints an objective selects (`checks._objectives`) over the
objectives' window, from the OBJECTIVE_METRICS records (`agent.collectors.objectives`);
endpoints no objective selects are NOT_APPLICABLE. Absence of data is never a PASS: a series
CloudWatch did not answer in full, or a record that is missing, is UNKNOWN; no datapoints at
all is NOT_APPLICABLE for an endpoint created inside the window (nothing to judge yet) and
UNKNOWN for an older one (no traffic: latency and error rate are undefined), except for the
invocations floor, where no traffic is exactly what fails it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from agent.domain import Inventory, Kind, Resource, Severity
from checks._helpers import SERVING, as_datetime, is_async, variants
from checks._metrics import Window, incomplete, series, values
from checks._objectives import (
    ERROR_RATE,
    FLOOR,
    LATENCY,
    NO_OBJECTIVES,
    Objectives,
    Selection,
    objective_metrics,
    select,
)
from checks._tags import TagIndex
from checks.base import Verdict, check, failed, not_applicable, passed, unknown

_NEEDS = (Kind.ENDPOINTS, Kind.OBJECTIVE_METRICS)
_REMEDIATE = ("Find the cause with the endpoint's CloudWatch metrics and logs, then fix it or, "
              "if the objective no longer reflects what the business needs, change the "
              "objective in the settings ([objectives]) deliberately.")


def target_of(ep: Resource, sel: Selection) -> float | Verdict:
    """The target that applies, or NOT_APPLICABLE/UNKNOWN when none surely does."""
    if sel.value is not None:
        return sel.value
    if sel.undecided:
        names = ", ".join(name for name, _ in sel.undecided)
        return unknown(ep, f"cannot tell whether objective(s) {names} select this endpoint: "
                       f"{sel.why_undecided}", undecided_objectives=[n for n, _ in sel.undecided])
    return not_applicable(ep, f"no objective sets a {sel.target.label} for this endpoint")


def _judged(ep: Resource, inv: Inventory, days: int) -> tuple[Resource, Window] | Verdict:
    """The endpoint's metrics record and window, or the verdict that replaces judging it."""
    status = ep.get("EndpointStatus")
    if status not in SERVING:
        return not_applicable(ep, f"endpoint is {status or 'in an unreported state'}")
    record, window, problem = objective_metrics(inv, ep.name, days)
    if record is None or window is None:
        return unknown(ep, problem or "objective metrics unreadable")
    return record, window


def _new_in(ep: Resource, window: Window) -> bool:
    created = as_datetime(ep.get("CreationTime"))
    return created is not None and created > window.start


def _quiet(ep: Resource, window: Window, days: int, what: str, sub: str = "",
           **evidence: Any) -> Verdict:
    """No requests in the window: too new to judge, or no traffic to measure `what` on."""
    if _new_in(ep, window):
        return not_applicable(ep, f"created inside the {days}-day window and served no "
                              "requests yet", sub=sub, **evidence)
    return unknown(ep, f"no requests in the last {days} days: no {what} to measure",
                   sub=sub, **evidence)


def met(ep: Resource, sel: Selection, reason: str, sub: str = "", **evidence: Any) -> Verdict:
    """PASS, unless an objective that could not be decided sets a stricter target."""
    stricter = sel.stricter_undecided()
    if stricter:
        return unknown(ep, f"{reason}, but objective(s) {', '.join(stricter)} may also select "
                       f"it with a stricter target: {sel.why_undecided}", sub=sub, **evidence)
    return passed(ep, reason, sub=sub, **evidence)


@check(
    title="SageMaker endpoint variant misses its p99 latency objective",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=("MLPERF01-BP01", "MLOPS01-BP03", "MLOPS05-BP01"),
    needs=_NEEDS,
    optional=(Kind.TAGS,),
    options=("objectives",),
    remediation=("Profile the model (SageMaker Inference Recommender, the container's own "
                 "timings), then scale out, move to a faster instance type, or optimise the "
                 "model (compilation, quantisation, smaller batch). " + _REMEDIATE),
)
def sagemaker_endpoint_objective_latency_p99_exceeded(
    inv: Inventory, *, objectives: Objectives = NO_OBJECTIVES
) -> Iterator[Verdict]:
    """Per production variant of a serving endpoint that an objective with `p99_latency_ms`
    selects: PASS when the 99th percentile of AWS/SageMaker ModelLatency (published in
    microseconds, compared in milliseconds) over the objectives' window is at or under the
    target; FAIL above it, with the measured p99 and the target. Several objectives: the
    strictest target applies. NOT_APPLICABLE for endpoints no such objective selects, endpoints
    not serving, endpoints created inside the window without traffic yet, and a variant that
    served nothing while the endpoint's other variants did (weight 0). UNKNOWN when the metrics
    were not collected or not answered in full, when an older endpoint served no request in the
    window (no latency to measure), and when tags that decide whether an objective applies were
    not collected. Shadow variants do not answer callers and are not judged.

    Latency is what callers feel: the lens asks to define performance KPIs in the first phase
    and monitor them in production.
    """
    tags = TagIndex.of(inv)
    days = objectives.window_days
    for ep in inv.of(Kind.ENDPOINTS):
        sel = select(objectives, LATENCY, ep, tags)
        target = target_of(ep, sel)
        if isinstance(target, Verdict):
            yield target
            continue
        judged = _judged(ep, inv, days)
        if isinstance(judged, Verdict):
            yield judged
            continue
        record, window = judged
        production = [v for v in variants(ep) if not v.shadow]
        if not production:
            yield unknown(ep, "the endpoint reports no production variants")
            continue
        found = [s for v in production for m in ("ModelLatency", "Invocations")
                 for s in series(record, m, v.name)]
        broken = incomplete(found)
        if broken:
            yield unknown(ep, "CloudWatch did not answer in full: " + "; ".join(broken))
            continue
        served = {v.name: sum(values(series(record, "Invocations", v.name), window))
                  for v in production}
        for v in production:
            evidence: dict[str, Any] = {**sel.evidence(), "target_ms": target,
                                        "window_days": days, "invocations": served[v.name]}
            # Not cut to the window: the collector asked for exactly it, and CloudWatch may
            # stamp a period spanning all of it at a boundary of its own.
            p99s = [float(x) for s in series(record, "ModelLatency", v.name)
                    for x in s.get("Values") or () if isinstance(x, int | float)]
            if not p99s:
                if served[v.name] > 0:
                    yield unknown(ep, f"no ModelLatency p99 although the variant served "
                                  f"{int(served[v.name])} request(s)", sub=v.name, **evidence)
                elif any(served.values()):
                    yield not_applicable(ep, "this variant served no requests in the window; "
                                         "the endpoint's other variants did", sub=v.name,
                                         **evidence)
                else:
                    yield _quiet(ep, window, days, "latency", sub=v.name, **evidence)
                continue
            # One datapoint spans the window; should CloudWatch split it, the worst counts.
            p99_ms = round(max(p99s) / 1000, 3)
            evidence["p99_ms"] = p99_ms
            if p99_ms > target:
                yield failed(ep, f"p99 model latency {p99_ms} ms over the last {days} days "
                             f"exceeds the {target:g} ms target of objective "
                             f"{sel.objective}", sub=v.name, **evidence)
            else:
                yield met(ep, sel, f"p99 model latency {p99_ms} ms over the last {days} days "
                           f"is within the {target:g} ms target of objective "
                           f"{sel.objective}", sub=v.name, **evidence)


@check(
    title="SageMaker endpoint exceeds its 5XX error-rate objective",
    severity=Severity.HIGH,
    effort="redeploy",
    lens=("MLOPS01-BP03", "MLOPS05-BP01"),
    needs=_NEEDS,
    optional=(Kind.TAGS,),
    options=("objectives",),
    remediation=("Read the endpoint's CloudWatch logs for the failing requests (model errors, "
                 "out-of-memory, timeouts); roll back to the last good endpoint config or "
                 "scale out if the errors follow load. " + _REMEDIATE),
)
def sagemaker_endpoint_objective_error_rate_exceeded(
    inv: Inventory, *, objectives: Objectives = NO_OBJECTIVES
) -> Iterator[Verdict]:
    """Per serving endpoint that an objective with `max_5xx_rate_pct` selects: PASS when the
    sum of Invocation5XXErrors over the sum of Invocations of its production variants, over
    the objectives' window, is at or under the target (percent); FAIL above it, with the rate,
    the error and request counts per variant and the target. NOT_APPLICABLE for endpoints no
    such objective selects, endpoints not serving, and endpoints created inside the window
    without traffic yet. UNKNOWN for asynchronous endpoints (they publish no Invocations, so
    the rate has no denominator), for an older endpoint without requests in the window, when a
    variant served requests but CloudWatch holds no Invocation5XXErrors datapoints for it
    (SageMaker publishes them with every request, so their absence is missing data, not zero
    errors), when the metrics were not collected or not answered in full, and when tags that
    decide whether an objective applies were not collected.

    An error budget is the reliability objective callers agree to: the lens asks to monitor
    whether the model meets the business requirements it was built for.
    """
    tags = TagIndex.of(inv)
    days = objectives.window_days
    for ep in inv.of(Kind.ENDPOINTS):
        sel = select(objectives, ERROR_RATE, ep, tags)
        target = target_of(ep, sel)
        if isinstance(target, Verdict):
            yield target
            continue
        judged = _judged(ep, inv, days)
        if isinstance(judged, Verdict):
            yield judged
            continue
        record, window = judged
        if is_async(ep):
            yield unknown(ep, "asynchronous endpoints publish no Invocations: the 5XX rate has "
                          "no denominator")
            continue
        production = [v for v in variants(ep) if not v.shadow]
        found = [s for v in production for m in ("Invocations", "Invocation5XXErrors")
                 for s in series(record, m, v.name)]
        broken = incomplete(found)
        if broken:
            yield unknown(ep, "CloudWatch did not answer in full: " + "; ".join(broken))
            continue
        per_variant: dict[str, dict[str, float]] = {}
        silent: list[str] = []
        for v in production:
            calls = values(series(record, "Invocations", v.name), window)
            errors = values(series(record, "Invocation5XXErrors", v.name), window)
            per_variant[v.name] = {"invocations": sum(calls), "errors_5xx": sum(errors)}
            if sum(calls) > 0 and not errors:
                silent.append(v.name)
        calls_total = sum(p["invocations"] for p in per_variant.values())
        errors_total = sum(p["errors_5xx"] for p in per_variant.values())
        evidence: dict[str, Any] = {**sel.evidence(), "target_pct": target,
                                    "window_days": days, "variants": per_variant}
        if calls_total == 0:
            yield _quiet(ep, window, days, "error rate", **evidence)
            continue
        if silent:
            yield unknown(ep, "CloudWatch holds no Invocation5XXErrors datapoints for "
                          f"{', '.join(silent)}, which served requests", **evidence)
            continue
        rate = round(100 * errors_total / calls_total, 4)
        evidence.update(rate_pct=rate, invocations=calls_total, errors_5xx=errors_total)
        if rate > target:
            yield failed(ep, f"5XX error rate {rate}% ({int(errors_total)} of "
                         f"{int(calls_total)} requests) over the last {days} days exceeds the "
                         f"{target:g}% target of objective {sel.objective}", **evidence)
        else:
            yield met(ep, sel, f"5XX error rate {rate}% over the last {days} days is within "
                       f"the {target:g}% target of objective {sel.objective}", **evidence)


def _full_days(ep: Resource, window: Window, days: int) -> list[tuple[Any, Any]]:
    """[start, end) of each window day the endpoint existed for in full."""
    created = as_datetime(ep.get("CreationTime"))
    out = []
    for i in range(days):
        start = window.start + timedelta(days=i)
        if created is None or created <= start:
            out.append((start, start + timedelta(days=1)))
    return out


@check(
    title="SageMaker endpoint traffic falls under its invocations floor",
    severity=Severity.MEDIUM,
    effort="config",
    lens=("MLOPS01-BP03", "MLCOST06-BP02", "MLCOST06-BP03"),
    needs=_NEEDS,
    optional=(Kind.TAGS,),
    options=("objectives",),
    remediation=("Check that the callers still reach the endpoint (client errors, DNS, "
                 "a changed endpoint name, an upstream outage). If the traffic really fell, "
                 "scale the endpoint down or move it to serverless inference. " + _REMEDIATE),
)
def sagemaker_endpoint_objective_invocations_below_floor(
    inv: Inventory, *, objectives: Objectives = NO_OBJECTIVES
) -> Iterator[Verdict]:
    """Per serving endpoint that an objective with `min_invocations_per_day` selects: PASS
    when every day of the objectives' window that the endpoint existed for in full had at
    least that many invocations (Sum of Invocations over its production variants, from hourly
    sums); FAIL when a day had fewer, naming the lowest day, its count and the floor. A day
    without datapoints counts as zero requests (SageMaker publishes none for a period without
    traffic), so an endpoint nobody calls fails. NOT_APPLICABLE for endpoints no such objective
    selects, endpoints not serving, and endpoints younger than one full day of the window.
    UNKNOWN for asynchronous endpoints (they publish no Invocations), when the metrics were not
    collected or not answered in full, and when tags that decide whether an objective applies
    were not collected.

    A model that stops being called no longer delivers the value it was deployed for: the lens
    asks to monitor usage against the business case.
    """
    tags = TagIndex.of(inv)
    days = objectives.window_days
    for ep in inv.of(Kind.ENDPOINTS):
        sel = select(objectives, FLOOR, ep, tags)
        target = target_of(ep, sel)
        if isinstance(target, Verdict):
            yield target
            continue
        judged = _judged(ep, inv, days)
        if isinstance(judged, Verdict):
            yield judged
            continue
        record, window = judged
        if is_async(ep):
            yield unknown(ep, "asynchronous endpoints publish no Invocations")
            continue
        found = [s for v in variants(ep) if not v.shadow
                 for s in series(record, "Invocations", v.name)]
        broken = incomplete(found)
        if broken:
            yield unknown(ep, "CloudWatch did not answer in full: " + "; ".join(broken))
            continue
        full = _full_days(ep, window, days)
        if not full:
            yield not_applicable(ep, "created less than one full day of the window ago")
            continue
        # Days are 24 hours from the window's start (a whole hour), labelled by that start.
        daily = {f"{start:%Y-%m-%dT%H:%MZ}": sum(values(found, Window(start, end)))
                 for start, end in full}
        lowest_day = min(daily, key=lambda d: daily[d])
        lowest = daily[lowest_day]
        evidence = {**sel.evidence(), "floor_per_day": target, "window_days": days,
                    "daily_invocations": daily, "lowest_day": lowest_day,
                    "lowest_invocations": lowest}
        if lowest < target:
            yield failed(ep, f"{int(lowest)} invocation(s) in the day from {lowest_day} "
                         f"(lowest of {len(daily)} full day(s)) is under the floor of "
                         f"{target:g} per day of objective {sel.objective}", **evidence)
        else:
            yield met(ep, sel, f"at least {int(lowest)} invocations on each of {len(daily)} "
                       f"full day(s), at or over the floor of {target:g} of objective "
                       f"{sel.objective}", **evidence)


CHECKS = (
    sagemaker_endpoint_objective_latency_p99_exceeded,
    sagemaker_endpoint_objective_error_rate_exceeded,
    sagemaker_endpoint_objective_invocations_below_floor,
)
