"""Checks on CloudWatch alarms themselves: do they notify, are they live, do they watch anything.

Severity is raised to high for ML-relevant alarms (a metric in AWS/SageMaker, /aws/sagemaker/*,
aws/sagemaker/* or Glue, or a composite over such alarms) where the catalog says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any

from agent.domain import Inventory, Kind, Severity
from checks._alarm_index import SAGEMAKER_NAMESPACE, AlarmIndex, is_ml_namespace, metric_refs
from checks._helpers import as_datetime, items, mapping
from checks.base import AT_LEAST_0, Verdict, check, failed, not_applicable, passed, unknown


def _severity(index: AlarmIndex, name: str) -> Severity:
    return Severity.HIGH if index.ml_relevant(name) else Severity.MEDIUM


@check(
    title="CloudWatch alarm notifies no one when it fires",
    severity=Severity.HIGH,
    effort="config",
    lens=("MLOPS05-BP01", "MLOPS06-BP02"),
    needs=(Kind.ALARMS, Kind.ENDPOINTS, Kind.SCALING_POLICIES),
    remediation=(
        "Add an ALARM action (an SNS topic routed to the owning team, an incident-manager "
        "response plan or an automation), or reference the alarm from a composite alarm that "
        "has one; delete alarms nobody needs."
    ),
)
def cloudwatch_alarm_no_actions(inv: Inventory) -> Iterator[Verdict]:
    """PASS when the alarm has at least one AlarmActions entry, or it feeds (through ALARM() in
    an AlarmRule, at any depth) a composite alarm whose actions are enabled and non-empty, or
    it is an endpoint's AutoRollbackConfiguration alarm or a step-scaling policy's alarm
    (SageMaker and Application Auto Scaling act on its state). FAIL otherwise: high for
    ML-relevant alarms, medium for the rest. Composite alarms are judged the same way.

    An alarm without an action changes colour on a dashboard nobody watches (Security Hub
    CloudWatch.15 fails it even when a composite parent pages; this check does not).
    """
    index = AlarmIndex.of(inv)
    rollback = {
        a.get("AlarmName"): ep.name
        for ep in inv.of(Kind.ENDPOINTS)
        for a in items(mapping(mapping(ep.get("LastDeploymentConfig"))
                               .get("AutoRollbackConfiguration")).get("Alarms"))
    }
    scaling = {
        a.get("AlarmName"): p.name
        for p in inv.of(Kind.SCALING_POLICIES)
        for a in items(p.get("Alarms"))
    }
    for info in index.alarms.values():
        alarm = info.resource
        parents = [p for p in index.parents_of(info.name) if index.alarms[p].effective]
        evidence: dict[str, Any] = {
            "AlarmType": alarm.get("AlarmType"),
            "AlarmActions": list(alarm.get("AlarmActions") or ()),
            "paging_parents": parents,
        }
        if evidence["AlarmActions"]:
            yield passed(alarm, "the alarm has actions", **evidence)
        elif parents:
            yield passed(alarm, f"composite alarm {', '.join(parents)} acts on it", **evidence)
        elif info.name in rollback:
            yield passed(alarm, f"rollback trigger of endpoint {rollback[info.name]}",
                         **evidence)
        elif info.name in scaling:
            yield passed(alarm, f"drives scaling policy {scaling[info.name]}", **evidence)
        else:
            yield failed(alarm, "the alarm has no action and no parent alarm that acts",
                         severity=_severity(index, info.name), **evidence)


@check(
    title="CloudWatch alarm actions are disabled",
    severity=Severity.HIGH,
    effort="config",
    lens=("MLOPS05-BP01",),
    needs=(Kind.ALARMS,),
    remediation=(
        "Re-enable the alarm's actions (EnableAlarmActions) once the maintenance it was muted "
        "for is over; use a composite alarm's ActionsSuppressor for planned quiet periods."
    ),
)
def cloudwatch_alarm_actions_disabled(inv: Inventory) -> Iterator[Verdict]:
    """PASS when ActionsEnabled is true; FAIL when it is false (high for ML-relevant alarms,
    medium otherwise), with how long ago the alarm's configuration last changed as a hint of
    how long it has been muted. UNKNOWN when ActionsEnabled is not reported.

    A muted alarm still evaluates but tells no one (Security Hub CloudWatch.17).
    """
    index = AlarmIndex.of(inv)
    for info in index.alarms.values():
        alarm = info.resource
        enabled = alarm.get("ActionsEnabled")
        updated = as_datetime(alarm.get("AlarmConfigurationUpdatedTimestamp"))
        evidence: dict[str, Any] = {
            "ActionsEnabled": enabled,
            "AlarmConfigurationUpdatedTimestamp": updated.isoformat() if updated else None,
        }
        if enabled is True:
            yield passed(alarm, "alarm actions are enabled", **evidence)
        elif enabled is False:
            if updated is not None:
                evidence["days_since_change"] = (inv.collected_at - updated).days
            yield failed(alarm, "alarm actions are disabled",
                         severity=_severity(index, info.name), **evidence)
        else:
            yield unknown(alarm, "ActionsEnabled is not reported", **evidence)


_EVALUATION_FAILURES = frozenset({"EVALUATION_FAILURE", "EVALUATION_ERROR"})


@check(
    title="CloudWatch alarm has had insufficient data for too long",
    severity=Severity.MEDIUM,
    effort="config",
    lens=("MLOPS05-BP01", "MLOPS06-BP02"),
    needs=(Kind.ALARMS,),
    remediation=(
        "Check the alarm's metric, namespace and dimensions against ListMetrics (SageMaker "
        "invocation metrics need both EndpointName and VariantName), delete alarms whose "
        "resource is gone, and set TreatMissingData to notBreaching on sparse error counts."
    ),
)
def cloudwatch_alarm_stuck_insufficient_data(
    inv: Inventory, *, insufficient_data_days: Annotated[int, AT_LEAST_0] = 7
) -> Iterator[Verdict]:
    """For metric alarms: PASS when the alarm is OK or ALARM, or has been INSUFFICIENT_DATA for
    at most `insufficient_data_days` (measured from StateTransitionedTimestamp, or
    StateUpdatedTimestamp when absent, to the inventory's collection time). FAIL when longer,
    or when EvaluationState is EVALUATION_FAILURE or EVALUATION_ERROR. The evidence names likely
    causes: a SageMaker alarm missing the VariantName dimension, or TreatMissingData left at
    `missing` on a sparse metric. NOT_APPLICABLE for composite alarms and for Application Auto
    Scaling's TargetTracking-* alarms (their scale-in alarms idle there on quiet endpoints).
    UNKNOWN when the state or its timestamp is not reported.

    An alarm that never has data can never fire: it is coverage on paper only.
    """
    now = inv.collected_at
    for alarm in inv.of(Kind.ALARMS):
        if alarm.get("AlarmType") == "CompositeAlarm":
            yield not_applicable(alarm, "composite alarms have no metric")
            continue
        if alarm.name.startswith("TargetTracking-"):
            yield not_applicable(alarm, "alarm is managed by Application Auto Scaling")
            continue
        state = alarm.get("StateValue")
        evaluation = alarm.get("EvaluationState")
        evidence: dict[str, Any] = {"StateValue": state, "EvaluationState": evaluation,
                                    "StateReason": alarm.get("StateReason")}
        if evaluation in _EVALUATION_FAILURES:
            yield failed(alarm, f"alarm evaluation is failing ({evaluation})", **evidence)
            continue
        if state in ("OK", "ALARM"):
            yield passed(alarm, f"alarm is {state}", **evidence)
            continue
        if state != "INSUFFICIENT_DATA":
            yield unknown(alarm, "alarm state is not reported", **evidence)
            continue
        since = as_datetime(alarm.get("StateTransitionedTimestamp")) or as_datetime(
            alarm.get("StateUpdatedTimestamp"))
        if since is None:
            yield unknown(alarm, "alarm has insufficient data since an unreported time",
                          **evidence)
            continue
        evidence["since"] = since.isoformat()
        if now - since <= timedelta(days=insufficient_data_days):
            yield passed(alarm, f"insufficient data for {(now - since).days} day(s) only",
                         **evidence)
            continue
        causes = []
        for ref in metric_refs(alarm):
            if (ref.namespace == SAGEMAKER_NAMESPACE and "EndpointName" in ref.dimensions
                    and "VariantName" not in ref.dimensions):
                causes.append(f"{ref.metric} has no VariantName dimension, so it never "
                              "receives SageMaker data")
        if alarm.get("TreatMissingData") in (None, "missing"):
            causes.append("TreatMissingData is 'missing': a sparse metric keeps the alarm "
                          "without data (consider notBreaching)")
        yield failed(alarm, f"alarm has had insufficient data for {(now - since).days} days",
                     likely_causes=causes, **evidence)


# Dimensions that name an ML resource, and the inventory kind that resource lives in.
_TARGET_DIMENSIONS = {
    "EndpointName": Kind.ENDPOINTS,
    "Endpoint": Kind.ENDPOINTS,
    "MonitoringSchedule": Kind.MONITORING_SCHEDULES,
    "ScheduleName": Kind.MONITORING_SCHEDULES,
    "InferenceComponentName": Kind.INFERENCE_COMPONENTS,
    "JobName": Kind.GLUE_JOBS,
}


@check(
    title="CloudWatch alarm watches an ML resource that no longer exists",
    severity=Severity.LOW,
    effort="config",
    lens=("MLOPS05-BP01",),
    needs=(
        Kind.ALARMS,
        Kind.ENDPOINTS,
        Kind.MONITORING_SCHEDULES,
        Kind.INFERENCE_COMPONENTS,
        Kind.GLUE_JOBS,
    ),
    remediation=(
        "Delete the alarm, or point it at the resource that replaced the deleted one (and make "
        "sure the replacement has its own alarms)."
    ),
)
def cloudwatch_alarm_orphaned_ml_target(inv: Inventory) -> Iterator[Verdict]:
    """For metric alarms on ML namespaces: PASS when every endpoint, monitoring schedule,
    inference component or Glue job named in its dimensions (EndpointName, Endpoint,
    MonitoringSchedule, ScheduleName, InferenceComponentName, JobName on Glue metrics) exists
    in this account and region (names compared without case). FAIL when one does not: the
    alarm will never fire. NOT_APPLICABLE for composite alarms, alarms outside ML namespaces,
    and ML alarms naming no specific resource. UNKNOWN when the alarm reads another account's
    metrics, whose resources are not in this inventory.

    An alarm on a deleted resource gives a false sense of coverage.
    """
    existing = {
        kind: {r.name.lower() for r in inv.of(kind)} for kind in set(_TARGET_DIMENSIONS.values())
    }
    index = AlarmIndex.of(inv)
    for info in index.alarms.values():
        alarm = info.resource
        if info.composite:
            yield not_applicable(alarm, "composite alarms have no metric")
            continue
        refs = [r for r in info.metrics if is_ml_namespace(r.namespace)]
        if not refs:
            yield not_applicable(alarm, "alarm is not on an ML namespace")
            continue
        missing: list[str] = []
        named: list[str] = []
        foreign = False
        for ref in refs:
            if ref.account_id not in (None, inv.account_id):
                foreign = True
                continue
            for dim, value in ref.dimensions.items():
                kind = _TARGET_DIMENSIONS.get(dim)
                if kind is None or (dim == "JobName" and ref.namespace.lower() != "glue"):
                    continue
                named.append(f"{dim}={value}")
                if value.lower() not in existing[kind]:
                    missing.append(f"{dim}={value}")
        evidence: dict[str, Any] = {"targets": sorted(set(named)),
                                    "missing": sorted(set(missing))}
        if missing:
            yield failed(alarm, f"alarm watches {', '.join(evidence['missing'])}, which no "
                         "longer exists", **evidence)
        elif foreign:
            yield unknown(alarm, "alarm reads another account's metrics, whose resources are "
                          "not inventoried here", **evidence)
        elif not named:
            yield not_applicable(alarm, "alarm names no specific ML resource", **evidence)
        else:
            yield passed(alarm, "every resource the alarm watches exists", **evidence)


CHECKS = (
    cloudwatch_alarm_no_actions,
    cloudwatch_alarm_actions_disabled,
    cloudwatch_alarm_stuck_insufficient_data,
    cloudwatch_alarm_orphaned_ml_target,
)
