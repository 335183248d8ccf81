"""Checks on SageMaker endpoints: lifecycle, safe deployment, reproducibility, consolidation.

Capacity and autoscaling live in `checks.endpoint_capacity`, encryption and data capture in
`checks.endpoint_data`, served models in `checks.endpoint_models`, alarm coverage in
`checks.alarm_coverage`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Annotated, Any

from agent.domain import Inventory, Kind, Resource, Severity
from checks._helpers import (
    SERVING,
    TRANSITIONAL,
    as_datetime,
    endpoint_config,
    items,
    mapping,
    variants,
)
from checks.base import AT_LEAST_1, Verdict, check, failed, not_applicable, passed, unknown

__all__ = ["CHECKS", "SERVING", "TRANSITIONAL"]

@check(
    title="SageMaker endpoint is in a failed or out-of-service state",
    severity=Severity.HIGH,
    effort="redeploy",
    lens=("MLREL05-BP02", "MLOPS06-BP02"),
    needs=(Kind.ENDPOINTS,),
    remediation=(
        "Read FailureReason, fix the model or config, and redeploy through your pipeline; "
        "delete endpoints left OutOfService on purpose or mute them with a reason."
    ),
)
def sagemaker_endpoint_unhealthy_status(inv: Inventory) -> Iterator[Verdict]:
    """PASS when the endpoint is InService. FAIL when it is Failed, UpdateRollbackFailed or
    OutOfService (high), or RollingBack (medium: its last update failed). Endpoints in other
    transitions are NOT_APPLICABLE here; the stuck-in-transition check owns them.

    A failed endpoint serves nothing, and one stuck after a failed rollback cannot be updated:
    the lens asks for endpoints that can be recovered to a known version.
    """
    for ep in inv.of(Kind.ENDPOINTS):
        status = ep.get("EndpointStatus")
        if status == "InService":
            yield passed(ep, "endpoint is InService", EndpointStatus=status)
        elif status in ("Failed", "UpdateRollbackFailed", "OutOfService"):
            yield failed(
                ep,
                f"endpoint is {status}",
                EndpointStatus=status,
                FailureReason=ep.get("FailureReason"),
            )
        elif status == "RollingBack":
            yield failed(
                ep,
                "endpoint is rolling back a failed update",
                severity=Severity.MEDIUM,
                EndpointStatus=status,
                FailureReason=ep.get("FailureReason"),
            )
        else:
            yield not_applicable(ep, f"endpoint is {status or 'in an unreported state'}",
                                 EndpointStatus=status)


def _transition_start(ep: Resource) -> Any:
    """The earliest of LastModifiedTime and every variant's current VariantStatus start."""
    times = [as_datetime(ep.get("LastModifiedTime"))]
    for key in ("ProductionVariants", "ShadowProductionVariants"):
        for v in items(ep.get(key)):
            times += [as_datetime(s.get("StartTime")) for s in items(v.get("VariantStatus"))]
    known = [t for t in times if t is not None]
    return min(known) if known else None


def _deployment_allowance(ep: Resource, config: Resource) -> timedelta:
    """How long a legitimate update may take: the slowest variant's model download plus
    container health check, plus the deployment policy's waits, plus 15 minutes of slack."""
    per_variant = [
        int(v.get("ModelDataDownloadTimeoutInSeconds") or 0)
        + int(v.get("ContainerStartupHealthCheckTimeoutInSeconds") or 0)
        for key in ("ProductionVariants", "ShadowProductionVariants")
        for v in items(config.get(key))
    ]
    deployment = mapping(ep.get("LastDeploymentConfig"))
    blue_green = mapping(deployment.get("BlueGreenUpdatePolicy"))
    rolling = mapping(deployment.get("RollingUpdatePolicy"))
    policy = (
        int(blue_green.get("TerminationWaitInSeconds") or 0)
        + int(blue_green.get("MaximumExecutionTimeoutInSeconds") or 0)
        + int(rolling.get("MaximumExecutionTimeoutInSeconds") or 0)
    )
    return timedelta(seconds=max(per_variant, default=0) + policy, minutes=15)


@check(
    title="SageMaker endpoint stuck in a transitional state",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=("MLOPS05-BP01", "MLREL04-BP01"),
    needs=(Kind.ENDPOINTS, Kind.ENDPOINT_CONFIGS),
    remediation=(
        "Open the endpoint's CloudWatch logs (/aws/sagemaker/Endpoints/<name>) to see why the "
        "containers do not become healthy; if the update cannot finish, stop it by updating the "
        "endpoint back to the last good endpoint config, or delete and recreate the endpoint."
    ),
)
def sagemaker_endpoint_stuck_in_transition(
    inv: Inventory,
    *,
    transition_timeout_minutes: Annotated[int, AT_LEAST_1] = 60,
    system_update_timeout_minutes: Annotated[int, AT_LEAST_1] = 240,
) -> Iterator[Verdict]:
    """PASS when an endpoint in Creating, Updating, SystemUpdating, RollingBack or Deleting has
    been so for less than its threshold; FAIL when longer. The threshold is the larger of
    `transition_timeout_minutes` (`system_update_timeout_minutes` for SystemUpdating) and what
    the endpoint config and deployment policy allow (model download and container health-check
    timeouts, blue/green or rolling waits, plus 15 minutes), so large models are not flagged
    for taking the time their config grants them. Endpoints in a settled state are
    NOT_APPLICABLE. Time is measured from the earlier of LastModifiedTime and the variants'
    current status start, up to the inventory's collection time.

    An endpoint stuck mid-deployment cannot take another update and may be serving an old model
    or nothing at all: the lens asks for deployment metrics that surface this.
    """
    now = inv.collected_at
    for ep in inv.of(Kind.ENDPOINTS):
        status = ep.get("EndpointStatus")
        if status not in TRANSITIONAL:
            yield not_applicable(ep, f"endpoint is {status or 'in an unreported state'}",
                                 EndpointStatus=status)
            continue
        started = _transition_start(ep)
        if started is None:
            yield unknown(ep, "neither LastModifiedTime nor a variant status start is reported",
                          EndpointStatus=status)
            continue
        minutes = (
            system_update_timeout_minutes if status == "SystemUpdating"
            else transition_timeout_minutes
        )
        threshold = timedelta(minutes=minutes)
        age = now - started
        evidence: dict[str, Any] = {
            "EndpointStatus": status,
            "since": started.isoformat(),
            "age_minutes": int(age.total_seconds() // 60),
        }
        if age > threshold and status != "Deleting":
            lookup = endpoint_config(inv, ep)
            if lookup.config is None:
                yield unknown(
                    ep,
                    f"{status} for {evidence['age_minutes']} min, past {minutes} min, but the "
                    f"config timeouts that may allow longer cannot be read: {lookup.problem}",
                    **evidence,
                )
                continue
            threshold = max(threshold, _deployment_allowance(ep, lookup.config))
        evidence["threshold_minutes"] = int(threshold.total_seconds() // 60)
        if age > threshold:
            yield failed(
                ep,
                f"endpoint has been {status} for {evidence['age_minutes']} minutes, longer than "
                f"the {evidence['threshold_minutes']} minutes its deployment should take",
                **evidence,
            )
        else:
            yield passed(ep, f"endpoint is {status}, within its expected duration", **evidence)


# Without LastDeploymentConfig, an endpoint modified within this long after creation is taken
# as never updated: creation itself moves LastModifiedTime by the minutes it takes to deploy.
_NEVER_UPDATED_MARGIN = timedelta(hours=1)


@check(
    title="SageMaker endpoint updates without automatic rollback",
    severity=Severity.LOW,
    effort="redeploy",
    lens=("MLREL04-BP02", "MLREL04-BP01"),
    needs=(Kind.ENDPOINTS, Kind.ENDPOINT_CONFIGS, Kind.ALARMS),
    remediation=(
        "Update the endpoint with a DeploymentConfig: a blue/green policy (canary or linear "
        "traffic shifting) and AutoRollbackConfiguration naming CloudWatch alarms on the new "
        "fleet's 5XX errors and latency, so a bad model is rolled back without a human."
    ),
)
def sagemaker_endpoint_no_auto_rollback(inv: Inventory) -> Iterator[Verdict]:
    """PASS when the endpoint's last update used a deployment configuration whose
    AutoRollbackConfiguration names at least one alarm, and every such alarm still exists.
    FAIL when the last update had no deployment configuration, named no rollback alarm, or
    names alarms that were deleted. NOT_APPLICABLE for endpoints that are not serving, that were
    never updated (no LastDeploymentConfig and modified within an hour of creation), or that
    run on Inf1 instances (deployment guardrails do not support them). Rolling updates exclude
    serverless and multi-variant endpoints, but blue/green with rollback still applies, so
    those are judged. Marketplace containers are also excluded by AWS but cannot be told
    from the inventory.

    An update without rollback alarms ships a regression to all traffic until someone notices:
    the lens asks for a deployment strategy that can undo itself.
    """
    alarm_names = {a.name for a in inv.of(Kind.ALARMS)}
    for ep in inv.of(Kind.ENDPOINTS):
        status = ep.get("EndpointStatus")
        if status not in SERVING:
            yield not_applicable(ep, f"endpoint is {status or 'in an unreported state'}",
                                 EndpointStatus=status)
            continue
        deployment = ep.get("LastDeploymentConfig")
        if not isinstance(deployment, Mapping):
            created = as_datetime(ep.get("CreationTime"))
            modified = as_datetime(ep.get("LastModifiedTime"))
            if created is None or modified is None:
                yield unknown(ep, "creation or modification time is not reported",
                              CreationTime=created, LastModifiedTime=modified)
                continue
            if modified - created <= _NEVER_UPDATED_MARGIN:
                yield not_applicable(ep, "endpoint has not been updated since it was created",
                                     CreationTime=created.isoformat(),
                                     LastModifiedTime=modified.isoformat())
                continue
        rollback = mapping(mapping(deployment).get("AutoRollbackConfiguration"))
        names = [str(a["AlarmName"]) for a in items(rollback.get("Alarms"))
                 if a.get("AlarmName")]
        evidence: dict[str, Any] = {"LastDeploymentConfig": deployment is not None,
                                    "rollback_alarms": names}
        if names:
            gone = [n for n in names if n not in alarm_names]
            if gone:
                yield failed(ep, f"rollback alarm(s) {', '.join(gone)} no longer exist",
                             severity=Severity.MEDIUM, deleted_alarms=gone, **evidence)
            else:
                yield passed(ep, "last update rolls back automatically on alarm", **evidence)
            continue
        # Guardrails cannot be used on Inf1, so their absence is not a finding there.
        lookup = endpoint_config(inv, ep)
        if lookup.config is None:
            yield unknown(ep, f"cannot tell whether guardrails apply: {lookup.problem}",
                          **evidence)
            continue
        inf1 = [v.name for v in variants(ep, lookup.config)
                if (v.instance_type or "").startswith("ml.inf1.")]
        if inf1:
            yield not_applicable(ep, "deployment guardrails do not support Inf1 instances",
                                 inf1_variants=inf1, **evidence)
        elif deployment is None:
            yield failed(ep, "endpoint was updated without a deployment configuration, so no "
                         "rollback guards the last change", **evidence)
        else:
            yield failed(ep, "last deployment configuration names no rollback alarm",
                         **evidence)


CHECKS = (
    sagemaker_endpoint_unhealthy_status,
    sagemaker_endpoint_stuck_in_transition,
    sagemaker_endpoint_no_auto_rollback,
)
