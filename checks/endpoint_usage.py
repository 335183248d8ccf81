"""Checks on how much SageMaker endpoints are used, from CloudWatch metrics (EP-15, EP-16).

Both read the ENDPOINT_METRICS records (see `agent.collectors.metrics`): Invocations per day and
instance utilisation per hour over the collection window. "No datapoints" only counts as "not
used" when the query ran and the endpoint is older than the window; a new endpoint is
NOT_APPLICABLE and an unanswered query UNKNOWN, never idle.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any

from agent.domain import Inventory, Kind, Resource, Severity
from checks._helpers import (
    OptionalInput,
    as_datetime,
    endpoint_config,
    is_async,
    mapping,
    optional_kind,
    variants,
)
from checks._metrics import (
    endpoint_metrics,
    gpus,
    hardware,
    incomplete,
    percentile,
    series,
    values,
    vcpus,
)
from checks.base import (
    AT_LEAST_0,
    AT_LEAST_1,
    PERCENT,
    Verdict,
    check,
    failed,
    not_applicable,
    passed,
    unknown,
)

_USAGE_LENS = ("MLCOST06-BP03",)


def _age_problem(ep: Resource, now: Any, min_age_days: int) -> tuple[str | None, bool]:
    """(reason, too_young): why the endpoint's age stops a verdict, if it does."""
    created = as_datetime(ep.get("CreationTime"))
    if created is None:
        return "the endpoint does not report its creation time", False
    age = now - created
    if age < timedelta(days=min_age_days):
        return (f"created {age.days} day(s) ago, younger than idle_min_age_days="
                f"{min_age_days}: too new to judge its traffic"), True
    return None, False


@check(
    title="SageMaker endpoint served no requests in the lookback window",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=(*_USAGE_LENS, "MLCOST04-BP08", "MLSUS03-BP01"),
    needs=(Kind.ENDPOINTS, Kind.ENDPOINT_CONFIGS, Kind.ENDPOINT_METRICS),
    remediation=(
        "Confirm with the owner, then delete the endpoint (keep its endpoint config and model "
        "to recreate it), move bursty or rare traffic to a serverless or asynchronous endpoint "
        "that scales to zero, or batch transform for offline scoring."
    ),
)
def sagemaker_endpoint_idle(
    inv: Inventory,
    *,
    idle_lookback_days: Annotated[int, AT_LEAST_1] = 14,
    idle_min_age_days: Annotated[int, AT_LEAST_0] = 14,
) -> Iterator[Verdict]:
    """PASS when an InService instance-based endpoint had at least one invocation (Sum of
    AWS/SageMaker Invocations over its production variants) in the last `idle_lookback_days`.
    FAIL when it had none, while older than `idle_min_age_days`: it bills for instances that
    serve nothing (high on GPU, Inferentia or Trainium instances, medium otherwise; evidence
    gives instance types, counts and the instance-hours paid for). NOT_APPLICABLE for endpoints
    not InService, serverless endpoints (billed per use) and endpoints younger than
    `idle_min_age_days`. UNKNOWN for asynchronous endpoints (they do not publish Invocations),
    inference-component endpoints without variant-level invocations (their traffic is
    published per component), and when metrics were not collected for the whole window or
    CloudWatch did not answer in full. Shadow variants do not count.

    An idle endpoint is money and energy spent on nothing: the lens asks to monitor endpoint
    usage, stop what is not used and minimise idle resources.
    """
    for ep in inv.of(Kind.ENDPOINTS):
        status = ep.get("EndpointStatus")
        if status != "InService":
            yield not_applicable(ep, f"endpoint is {status or 'in an unreported state'}")
            continue
        lookup = endpoint_config(inv, ep)
        if lookup.config is None:
            yield unknown(ep, lookup.problem or "endpoint config unreadable")
            continue
        production = [v for v in variants(ep, lookup.config) if not v.shadow]
        if production and all(v.serverless for v in production):
            yield not_applicable(ep, "serverless endpoints bill per request, not per hour")
            continue
        why, young = _age_problem(ep, inv.collected_at, idle_min_age_days)
        if why:
            yield (not_applicable if young else unknown)(ep, why)
            continue
        if is_async(ep, lookup.config):
            yield unknown(ep, "asynchronous endpoints do not publish Invocations; their "
                          "backlog metrics are not read")
            continue
        record, window, problem = endpoint_metrics(inv, ep.name, idle_lookback_days)
        if record is None or window is None:
            yield unknown(ep, problem or "metrics unreadable")
            continue
        found = [s for v in production for s in series(record, "Invocations", v.name)]
        broken = incomplete(found)
        if broken:
            yield unknown(ep, "CloudWatch did not answer in full: " + "; ".join(broken))
            continue
        per_variant = {v.name: sum(values(series(record, "Invocations", v.name), window))
                       for v in production}
        total = sum(per_variant.values())
        evidence: dict[str, Any] = {
            "lookback_days": idle_lookback_days,
            "invocations": per_variant,
            "series_found": len(found),
            "instances": {v.name: {"InstanceType": v.instance_type,
                                   "count": v.instance_count} for v in production},
        }
        if total > 0:
            yield passed(ep, f"{int(total)} invocation(s) in the last {idle_lookback_days} "
                         "days", **evidence)
            continue
        if any(v.inference_components for v in production):
            yield unknown(ep, "no variant-level invocations; this endpoint hosts inference "
                          "components, whose traffic is published per component", **evidence)
            continue
        count = sum(v.instance_count or 0 for v in production)
        evidence["instance_hours"] = count * idle_lookback_days * 24
        accelerated = [v.instance_type for v in production
                       if hardware(v.instance_type) in ("gpu", "neuron")]
        yield failed(
            ep,
            f"no invocations in the last {idle_lookback_days} days on {count} instance(s)"
            + ("" if found else " (CloudWatch holds no Invocations series for it)"),
            severity=Severity.HIGH if accelerated else None,
            **evidence,
        )


def _min_capacity(inv: Inventory, ep: Resource, variant: str) -> int | None:
    resource = f"endpoint/{ep.name}/variant/{variant}".lower()
    for target in inv.of(Kind.SCALABLE_TARGETS):
        if str(target.get("ResourceId") or "").lower() == resource and str(
            target.get("ScalableDimension")
        ).endswith("DesiredInstanceCount"):
            value = target.get("MinCapacity")
            return value if isinstance(value, int) else None
    return None


def _p95(record: Resource, metric: str, variant: str, window: Any) -> float | None:
    data = values(series(record, metric, variant), window)
    return percentile(data, 95) if data else None


@check(
    title="SageMaker endpoint variant is oversized for its load",
    severity=Severity.LOW,
    effort="redeploy",
    lens=(*_USAGE_LENS, "MLCOST05-BP03", "MLPERF04-BP01"),
    needs=(Kind.ENDPOINTS, Kind.ENDPOINT_CONFIGS, Kind.ENDPOINT_METRICS),
    optional=(Kind.SCALABLE_TARGETS, Kind.MODELS),
    remediation=(
        "Load-test the model on a smaller instance type (SageMaker Inference Recommender "
        "automates this) and switch the variant to it, or lower the auto scaling MinCapacity "
        "so the fleet shrinks when traffic is low."
    ),
)
def sagemaker_endpoint_underutilized(
    inv: Inventory,
    *,
    cpu_util_threshold: Annotated[float, PERCENT] = 10.0,
    idle_lookback_days: Annotated[int, AT_LEAST_1] = 14,
    idle_min_age_days: Annotated[int, AT_LEAST_0] = 14,
) -> Iterator[Verdict]:
    """Per production variant of an InService instance-based endpoint: FAIL (low) when the
    95th percentile of hourly CPUUtilization, normalised by the instance's vCPUs (SageMaker
    sums it over cores), stays under `cpu_util_threshold` percent over `idle_lookback_days`,
    and on GPU instances so does GPUUtilization normalised by the GPU count; for multi-model
    endpoints MemoryUtilization must also be under it (they are memory-bound). The reason says
    whether the instance type is oversized or, with more than two instances held at the auto
    scaling MinCapacity, the minimum is set too high. PASS otherwise. NOT_APPLICABLE for
    endpoints not InService or younger than `idle_min_age_days`, and for serverless variants.
    UNKNOWN when the instance type's vCPU/GPU count is not known, for Inferentia/Trainium
    instances (their accelerator load is not published as GPUUtilization), with fewer than 24
    hourly datapoints (instance metrics off or missing), or when metrics were not collected.
    Models and auto scaling targets are optional inputs. Without models (not asked for) the
    multi-model memory rule is not applied; when they were asked for and not collected (or
    the variant's model was not described), a variant idle on CPU and GPU is UNKNOWN unless
    its memory is known to be under the threshold too (then it fails whatever the model).
    Without scalable targets the FAIL stands and its reason does not tell an oversized
    instance type from a MinCapacity set too high; the evidence says why.

    Oversized instances pay for capacity nobody uses: the lens asks to right-size the hosting
    fleet from measured utilisation.
    """
    models = optional_kind(inv, Kind.MODELS)
    targets = optional_kind(inv, Kind.SCALABLE_TARGETS)
    for ep in inv.of(Kind.ENDPOINTS):
        status = ep.get("EndpointStatus")
        if status != "InService":
            yield not_applicable(ep, f"endpoint is {status or 'in an unreported state'}")
            continue
        lookup = endpoint_config(inv, ep)
        if lookup.config is None:
            yield unknown(ep, lookup.problem or "endpoint config unreadable")
            continue
        why, young = _age_problem(ep, inv.collected_at, idle_min_age_days)
        if why:
            yield (not_applicable if young else unknown)(ep, why)
            continue
        record, window, problem = endpoint_metrics(inv, ep.name, idle_lookback_days)
        for v in variants(ep, lookup.config):
            if v.shadow:
                continue
            if v.serverless:
                yield not_applicable(ep, "serverless variants have no instances", sub=v.name)
                continue
            if record is None or window is None:
                yield unknown(ep, problem or "metrics unreadable", sub=v.name)
                continue
            yield _judge_variant(inv, ep, v, record, window, models, targets,
                                 cpu_util_threshold)


def _judge_variant(
    inv: Inventory,
    ep: Resource,
    v: Any,
    record: Resource,
    window: Any,
    models: OptionalInput,
    targets: OptionalInput,
    threshold: float,
) -> Verdict:
    itype, kind = v.instance_type, hardware(v.instance_type)
    cores = vcpus(itype)
    evidence: dict[str, Any] = {"InstanceType": itype, "vcpus": cores,
                                "instances": v.instance_count, "threshold_pct": threshold}
    if kind == "neuron":
        return unknown(ep, f"{itype}: Inferentia/Trainium load is not published as "
                       "GPUUtilization", sub=v.name, **evidence)
    if cores is None or kind is None:
        return unknown(ep, f"vCPU count of {itype or 'an unreported instance type'} is not "
                       "known", sub=v.name, **evidence)
    broken = incomplete([s for m in ("CPUUtilization", "GPUUtilization", "MemoryUtilization")
                         for s in series(record, m, v.name)])
    if broken:
        return unknown(ep, "CloudWatch did not answer in full: " + "; ".join(broken),
                       sub=v.name, **evidence)
    cpu_points = values(series(record, "CPUUtilization", v.name), window)
    if len(cpu_points) < 24:
        return unknown(ep, f"only {len(cpu_points)} hourly CPUUtilization datapoint(s): "
                       "instance metrics may be off", sub=v.name, **evidence)
    evidence["cpu_p95_pct"] = round(percentile(cpu_points, 95) / cores, 2)
    busy: list[str] = []
    if evidence["cpu_p95_pct"] >= threshold:
        busy.append(f"CPU p95 {evidence['cpu_p95_pct']}%")
    if kind == "gpu":
        count = gpus(itype)
        gpu = _p95(record, "GPUUtilization", v.name, window)
        if count is None or gpu is None:
            return unknown(ep, f"GPU count of {itype} or its GPUUtilization is not known",
                           sub=v.name, **evidence)
        evidence.update(gpus=count, gpu_p95_pct=round(gpu / count, 2))
        if evidence["gpu_p95_pct"] >= threshold:
            busy.append(f"GPU p95 {evidence['gpu_p95_pct']}%")
    memory = _p95(record, "MemoryUtilization", v.name, window)
    evidence["memory_p95_pct"] = None if memory is None else round(memory, 2)
    # A multi-model endpoint counts as busy on memory, unknown memory included.
    busy_if_multi_model = memory is None or memory >= threshold
    mode, why_not = _model_mode(inv, v, models)
    if mode == "MultiModel" and busy_if_multi_model:
        busy.append(f"memory p95 {evidence['memory_p95_pct']}% (multi-model)")
    if models.not_asked:
        evidence["note"] = "models not asked for: multi-model memory rule not applied"
    if busy:
        return passed(ep, "in use: " + ", ".join(busy), sub=v.name, **evidence)
    if why_not and busy_if_multi_model:
        return unknown(ep, "idle on CPU" + (" and GPU" if kind == "gpu" else "") + ", but "
                       f"whether it is a multi-model endpoint (judged on memory) is not known: "
                       f"{why_not}", sub=v.name, **evidence)
    if why_not:
        evidence["note"] = (f"model mode not known ({why_not}), but memory is under the "
                            "threshold too")
    count = v.instance_count or 0
    floor = _min_capacity(inv, ep, v.name) if targets.collected else None
    evidence["MinCapacity"] = floor
    if targets.failed:
        evidence["note_min_capacity"] = f"MinCapacity rule not applied: {targets.why}"
    if count > 2 and floor == count:
        reason = (f"{count} instances held at MinCapacity {floor} while CPU p95 is "
                  f"{evidence['cpu_p95_pct']}%: the minimum is set too high")
    else:
        reason = (f"{itype} is oversized: CPU p95 {evidence['cpu_p95_pct']}% of {cores} vCPUs"
                  + (f", GPU p95 {evidence['gpu_p95_pct']}%" if kind == "gpu" else ""))
    return failed(ep, reason, sub=v.name, **evidence)


def _model_mode(inv: Inventory, v: Any, models: OptionalInput) -> tuple[str | None, str]:
    """(the serving model's PrimaryContainer Mode, "") or (None, why it is not known).

    Not asked for, or a model that no longer exists or that the variant does not name: no
    mode, and nothing unknown (judged as single-model, as documented).
    """
    if not models.collected:
        return None, models.why if models.failed else ""
    name = str(v.spec.get("ModelName") or "") if v.spec else ""
    model = inv.by_name(Kind.MODELS).get(name) if name else None
    if model is None:
        return None, ""
    if model.incomplete_reason:
        return None, f"model {name} not described: {model.incomplete_reason}"
    return mapping(model.get("PrimaryContainer")).get("Mode"), ""


CHECKS = (sagemaker_endpoint_idle, sagemaker_endpoint_underutilized)
