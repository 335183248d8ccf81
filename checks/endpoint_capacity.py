"""Checks on SageMaker endpoint capacity: instance counts and Application Auto Scaling."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from agent.domain import Inventory, Kind, Resource, Severity
from checks._helpers import (
    SERVING,
    configs_in_use,
    is_async,
    items,
    mapping,
    variants,
)
from checks.base import Verdict, check, failed, not_applicable, passed, unknown

INSTANCE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
CONCURRENCY_DIMENSION = "sagemaker:variant:DesiredProvisionedConcurrency"
COPY_DIMENSION = "sagemaker:inference-component:DesiredCopyCount"


def variant_resource_id(endpoint: str, variant: str) -> str:
    """The Application Auto Scaling ResourceId of a variant, lower-cased: SageMaker names are
    unique regardless of case, so a target registered as "endpoint/Churn/..." still matches."""
    return f"endpoint/{endpoint}/variant/{variant}".lower()


@dataclass(frozen=True, slots=True)
class Scaling:
    """Application Auto Scaling for one (ResourceId, ScalableDimension)."""

    target: Resource
    policies: tuple[Resource, ...]
    scheduled: tuple[Resource, ...]

    @property
    def suspended(self) -> Mapping[str, Any]:
        return mapping(self.target.get("SuspendedState"))

    def can_add_capacity(self) -> bool:
        """MaxCapacity allows a second unit and something (not suspended) will scale to it."""
        max_capacity = self.target.get("MaxCapacity")
        if not isinstance(max_capacity, int) or max_capacity < 2:
            return False
        suspended = self.suspended
        dynamic = bool(self.policies) and suspended.get("DynamicScalingOutSuspended") is not True
        timed = bool(self.scheduled) and suspended.get("ScheduledScalingSuspended") is not True
        return dynamic or timed


def scaling_index(inv: Inventory) -> dict[tuple[str, str], Scaling]:
    """Targets with their policies and scheduled actions, keyed by (lower-cased ResourceId,
    dimension);
    listed once per region by the collector, joined here once per check run."""

    def key(r: Resource) -> tuple[str, str]:
        return ((r.get("ResourceId") or "").lower(), r.get("ScalableDimension") or "")

    policies: dict[tuple[str, str], list[Resource]] = {}
    for p in inv.of(Kind.SCALING_POLICIES):
        policies.setdefault(key(p), []).append(p)
    scheduled: dict[tuple[str, str], list[Resource]] = {}
    for a in inv.of(Kind.SCHEDULED_ACTIONS):
        scheduled.setdefault(key(a), []).append(a)
    return {
        key(t): Scaling(t, tuple(policies.get(key(t), ())), tuple(scheduled.get(key(t), ())))
        for t in inv.of(Kind.SCALABLE_TARGETS)
    }


@check(
    title="SageMaker endpoint variant runs on one instance and cannot scale out",
    severity=Severity.MEDIUM,
    effort="config",
    lens=("MLREL05-BP01", "MLCOST05-BP03"),
    needs=(Kind.ENDPOINTS, Kind.SCALABLE_TARGETS, Kind.SCALING_POLICIES, Kind.SCHEDULED_ACTIONS),
    remediation=(
        "Register the variant (endpoint/<endpoint>/variant/<variant>, dimension "
        "sagemaker:variant:DesiredInstanceCount) as an Application Auto Scaling target with "
        "MaxCapacity of at least 2 and attach a target-tracking policy on "
        "SageMakerVariantInvocationsPerInstance, or run at least two instances."
    ),
)
def sagemaker_endpoint_single_instance_no_autoscaling(inv: Inventory) -> Iterator[Verdict]:
    """Per production variant of a serving endpoint: PASS when it runs two or more instances,
    or capacity can be added automatically (a scalable target on the variant's instance count
    with MaxCapacity >= 2 and a scaling policy or scheduled action that is not suspended, or
    ManagedInstanceScaling ENABLED with MaxInstanceCount >= 2, as inference-component
    endpoints use). FAIL when one instance (or none) serves it and nothing can add another.
    NOT_APPLICABLE for serverless variants (no instances), shadow variants (they serve no
    responses) and endpoints that are not serving. An asynchronous variant that scales to zero
    between bursts passes when it can scale back out. UNKNOWN when the instance count is not
    reported.

    A single instance is a single point of failure and cannot absorb load: the lens asks for
    endpoints that scale automatically.
    """
    scaling = scaling_index(inv)
    for ep in inv.of(Kind.ENDPOINTS):
        status = ep.get("EndpointStatus")
        if status not in SERVING:
            yield not_applicable(ep, f"endpoint is {status or 'in an unreported state'}",
                                 EndpointStatus=status)
            continue
        for v in variants(ep):
            if v.shadow:
                yield not_applicable(ep, "shadow variants serve no responses", sub=v.name)
                continue
            if v.serverless:
                yield not_applicable(ep, "serverless variants have no instances", sub=v.name)
                continue
            count = v.instance_count
            if count is None:
                yield unknown(ep, "the variant's instance count is not reported", sub=v.name)
                continue
            target = scaling.get((variant_resource_id(ep.name, v.name), INSTANCE_DIMENSION))
            managed = mapping(v.live.get("ManagedInstanceScaling"))
            evidence: dict[str, Any] = {
                "CurrentInstanceCount": count,
                "MinCapacity": target.target.get("MinCapacity") if target else None,
                "MaxCapacity": target.target.get("MaxCapacity") if target else None,
                "policies": [p.name for p in target.policies] if target else [],
                "scheduled_actions": [a.name for a in target.scheduled] if target else [],
                "ManagedInstanceScaling": managed.get("Status"),
            }
            managed_ok = managed.get("Status") == "ENABLED" and (
                managed.get("MaxInstanceCount") is None or managed["MaxInstanceCount"] >= 2
            )
            if count >= 2:
                yield passed(ep, f"variant runs {count} instances", sub=v.name, **evidence)
            elif target is not None and target.can_add_capacity():
                note = (
                    " (asynchronous endpoint scaling to zero between bursts)"
                    if is_async(ep) and target.target.get("MinCapacity") == 0 else ""
                )
                yield passed(ep, f"auto scaling can add instances{note}", sub=v.name, **evidence)
            elif managed_ok:
                yield passed(ep, "managed instance scaling can add instances", sub=v.name,
                             **evidence)
            else:
                yield failed(
                    ep,
                    f"variant runs {count} instance(s) and nothing can add another",
                    sub=v.name,
                    **evidence,
                )


@check(
    title="SageMaker endpoint config starts a variant with one instance",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=("MLREL05-BP01",),
    # ENDPOINTS first: configs are reached through the endpoints using them (configs_in_use).
    needs=(Kind.ENDPOINTS, Kind.ENDPOINT_CONFIGS),
    remediation=(
        "Create a new endpoint config with InitialInstanceCount of 2 or more for each "
        "production variant (spread across Availability Zones by SageMaker) and update the "
        "endpoint to it; rely on auto scaling for further capacity."
    ),
)
def sagemaker_endpoint_config_initial_instance_count_le_1(inv: Inventory) -> Iterator[Verdict]:
    """Per production variant of each endpoint config in use: PASS when InitialInstanceCount is
    2 or more, FAIL when it is 1 or less. NOT_APPLICABLE for serverless variants, variants with
    no InitialInstanceCount, and shadow variants. A config that could not be described is
    UNKNOWN, and so is an endpoint whose config was deleted (the deletion itself is reported by
    sagemaker_endpoint_not_reproducible). When auto scaling keeps MinCapacity >= 2 the FAIL is
    kept but its reason says the static setting alone is at fault.

    An endpoint (re)created from this config starts with a single instance and a single point
    of failure, whatever auto scaling later adds. Same rule as Security Hub SageMaker.4.
    """
    min_capacity = (
        {
            (t.get("ResourceId") or "").lower(): t.get("MinCapacity")
            for t in inv.of(Kind.SCALABLE_TARGETS)
            if t.get("ScalableDimension") == INSTANCE_DIMENSION
        }
        if Kind.SCALABLE_TARGETS in inv.resources and inv.complete(Kind.SCALABLE_TARGETS)
        else {}
    )
    users: dict[str, list[str]] = {}
    for ep in inv.of(Kind.ENDPOINTS):
        users.setdefault(ep.get("EndpointConfigName") or "", []).append(ep.name)
    for subject, config, problem in configs_in_use(inv):
        if config is None:
            yield unknown(subject, problem or "endpoint config unreadable")
            continue
        for spec in items(config.get("ProductionVariants")):
            name = spec.get("VariantName") or "?"
            count = spec.get("InitialInstanceCount")
            evidence = {"InitialInstanceCount": count, "InstanceType": spec.get("InstanceType")}
            if spec.get("ServerlessConfig"):
                yield not_applicable(config, "serverless variants have no instances", sub=name)
            elif not isinstance(count, int):
                yield not_applicable(config, "variant sets no InitialInstanceCount", sub=name,
                                     **evidence)
            elif count >= 2:
                yield passed(config, f"variant starts with {count} instances", sub=name,
                             **evidence)
            else:
                floors = [
                    min_capacity.get(variant_resource_id(ep_name, name))
                    for ep_name in users.get(config.name, ())
                ]
                static_only = bool(floors) and all(isinstance(f, int) and f >= 2 for f in floors)
                reason = f"variant starts with {count} instance(s)"
                if static_only:
                    reason += " (static setting only: auto scaling keeps at least 2)"
                yield failed(config, reason, sub=name, autoscaling_min_capacity=floors,
                             **evidence)
        for spec in items(config.get("ShadowProductionVariants")):
            yield not_applicable(config, "shadow variants serve no responses",
                                 sub=spec.get("VariantName") or "?")


def _resource_exists(
    resource_id: str, endpoints: Mapping[str, Resource], components: Mapping[str, Resource]
) -> tuple[bool | None, str]:
    """Whether a target's ResourceId names an existing variant / component (None: unknown)."""
    parts = resource_id.split("/")
    if len(parts) == 4 and parts[0] == "endpoint" and parts[2] == "variant":
        ep = endpoints.get(parts[1].lower())
        if ep is None:
            return False, f"endpoint {parts[1]} no longer exists"
        if ep.incomplete_reason:
            return None, f"endpoint {parts[1]} not fully described: {ep.incomplete_reason}"
        names = {v.name.lower() for v in variants(ep)}
        if not names:
            status = ep.get("EndpointStatus")
            return None, f"endpoint {parts[1]} reports no variants while {status}"
        if parts[3].lower() not in names:
            return False, f"endpoint {parts[1]} has no variant {parts[3]}"
        return True, ""
    if len(parts) == 2 and parts[0] == "inference-component":
        if parts[1] in components:
            return True, ""
        return False, f"inference component {parts[1]} no longer exists"
    return None, f"unrecognised ResourceId {resource_id}"


@check(
    title="SageMaker auto scaling target is misconfigured or orphaned",
    severity=Severity.MEDIUM,
    effort="config",
    lens=("MLREL05-BP01", "MLCOST06-BP03"),
    needs=(
        Kind.SCALABLE_TARGETS,
        Kind.SCALING_POLICIES,
        Kind.SCHEDULED_ACTIONS,
        Kind.ENDPOINTS,
        Kind.INFERENCE_COMPONENTS,
        Kind.ALARMS,
    ),
    remediation=(
        "Attach a target-tracking policy (or scheduled actions) to the target, resume any "
        "suspended scaling, give it room (MaxCapacity above MinCapacity), allow scale-in, "
        "recreate deleted step-scaling alarms, and deregister targets whose endpoint variant or "
        "inference component no longer exists."
    ),
)
def sagemaker_endpoint_autoscaling_misconfigured(inv: Inventory) -> Iterator[Verdict]:
    """Per SageMaker scalable target: PASS when it belongs to an existing variant or inference
    component and scales. FAIL (medium) when it has no scaling policy and no scheduled action,
    when dynamic scaling in or out is suspended, or when a step-scaling policy names alarms
    that no longer exist; FAIL (low) when MaxCapacity equals MinCapacity or a target-tracking
    policy disables scale-in (instance and copy-count targets only; serverless provisioned
    concurrency targets are judged on policies and suspension alone); FAIL (low) when the
    ResourceId names an endpoint variant or inference component that no longer exists.
    UNKNOWN when the target's endpoint could not be described. The catalog's prod-only rule
    (MinCapacity < 2) is not applied: the tags of scalable targets are not collected.

    A target that cannot scale gives a false sense of elasticity: the lens asks for endpoints
    that scale automatically with demand.
    """
    endpoints = {e.name.lower(): e for e in inv.of(Kind.ENDPOINTS)}
    components = inv.by_name(Kind.INFERENCE_COMPONENTS)
    alarm_names = {a.name for a in inv.of(Kind.ALARMS)}
    for (_, dimension), s in scaling_index(inv).items():
        t = s.target
        resource_id = t.get("ResourceId") or ""
        evidence: dict[str, Any] = {
            "ResourceId": resource_id,
            "ScalableDimension": dimension,
            "MinCapacity": t.get("MinCapacity"),
            "MaxCapacity": t.get("MaxCapacity"),
            "policies": [p.name for p in s.policies],
            "scheduled_actions": [a.name for a in s.scheduled],
        }
        exists, why = _resource_exists(resource_id, endpoints, components)
        if exists is None:
            yield unknown(t, why, sub=dimension, **evidence)
            continue
        if not exists:
            yield failed(t, f"orphaned target: {why}", sub=dimension, severity=Severity.LOW,
                         **evidence)
            continue
        problems: list[tuple[Severity, str]] = []
        if not s.policies and not s.scheduled:
            problems.append((Severity.MEDIUM, "no scaling policy or scheduled action"))
        suspended = [k for k in ("DynamicScalingInSuspended", "DynamicScalingOutSuspended")
                     if s.suspended.get(k) is True]
        if suspended:
            problems.append((Severity.MEDIUM, f"{' and '.join(suspended)}"))
        for p in s.policies:
            if p.get("PolicyType") != "StepScaling":
                continue
            gone = [str(a["AlarmName"]) for a in items(p.get("Alarms"))
                    if a.get("AlarmName") and a["AlarmName"] not in alarm_names]
            if gone:
                problems.append((Severity.MEDIUM,
                                 f"policy {p.name} uses deleted alarm(s) {', '.join(gone)}"))
        if dimension != CONCURRENCY_DIMENSION:
            if t.get("MaxCapacity") is not None and t.get("MaxCapacity") == t.get("MinCapacity"):
                problems.append((Severity.LOW, "MaxCapacity equals MinCapacity"))
            no_scale_in = [
                p.name for p in s.policies
                if mapping(p.get("TargetTrackingScalingPolicyConfiguration")).get("DisableScaleIn")
                is True
            ]
            if no_scale_in:
                problems.append((Severity.LOW, f"policy {', '.join(no_scale_in)} disables "
                                 "scale-in"))
        if problems:
            worst = max((sev for sev, _ in problems), key=lambda sev: sev.rank)
            yield failed(t, "; ".join(text for _, text in problems), sub=dimension,
                         severity=worst, problems=[text for _, text in problems], **evidence)
        else:
            yield passed(t, "target scales with a policy or schedule", sub=dimension,
                         **evidence)


CHECKS = (
    sagemaker_endpoint_single_instance_no_autoscaling,
    sagemaker_endpoint_config_initial_instance_count_le_1,
    sagemaker_endpoint_autoscaling_misconfigured,
)
