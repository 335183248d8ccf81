"""Checks on SageMaker Model Monitor schedules: coverage of endpoints, health and freshness.

Executions (failures, violations, staleness) live in `checks.monitoring_executions`,
job-definition settings (baseline, isolation, encryption) in `checks.monitoring_jobs`, alarms on
monitor metrics in `checks.alarm_coverage`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any

from agent.domain import Inventory, Kind, Resource, Severity
from checks._helpers import (
    as_datetime,
    by_lower_name,
    is_async,
    last_execution,
    mapping,
    monitor_target,
    monitoring_type,
    schedules_by_endpoint,
    variants,
)
from checks.base import AT_LEAST_0, Verdict, check, failed, not_applicable, passed, unknown


@check(
    title="In-service SageMaker endpoint has no active Model Monitor schedule",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=("MLPERF06-BP04", "MLPERF06-BP03", "MLOPS06-BP02", "MLOPS01-BP03", "MLSUS06-BP02"),
    needs=(Kind.ENDPOINTS, Kind.MONITORING_SCHEDULES),
    remediation=(
        "Enable data capture on the endpoint, create a baseline from the training data, and "
        "create a DataQuality monitoring schedule (plus ModelQuality once ground truth is "
        "available) on the endpoint; restart schedules that are Stopped."
    ),
)
def sagemaker_endpoint_no_model_monitor(
    inv: Inventory, *, monitor_grace_days: Annotated[int, AT_LEAST_0] = 7
) -> Iterator[Verdict]:
    """PASS when an InService endpoint is watched by at least one Model Monitor schedule in
    status Scheduled (matched by the endpoint name the schedule, its inline inputs or its named
    job definition give), or was created less than `monitor_grace_days` ago. FAIL otherwise;
    the evidence lists the schedules that exist but are not active. NOT_APPLICABLE for
    endpoints not InService, and for serverless and asynchronous endpoints without a schedule
    (Model Monitor support for them is limited). Batch-transform schedules do not count.

    Without a monitor, data drift and quality decay go unnoticed until users complain: the lens
    asks for monitoring of model performance in production.
    """
    watchers = schedules_by_endpoint(inv.of(Kind.MONITORING_SCHEDULES))
    now = inv.collected_at
    for ep in inv.of(Kind.ENDPOINTS):
        status = ep.get("EndpointStatus")
        if status != "InService":
            yield not_applicable(ep, f"endpoint is {status or 'in an unreported state'}")
            continue
        schedules = watchers.get(ep.name.lower(), [])
        active = [s for s in schedules if s.get("MonitoringScheduleStatus") == "Scheduled"]
        evidence: dict[str, Any] = {
            "active": {s.name: monitoring_type(s) for s in active},
            "inactive": {s.name: s.get("MonitoringScheduleStatus") for s in schedules
                         if s not in active},
        }
        if active:
            types = sorted({t for t in evidence["active"].values() if t})
            yield passed(ep, f"monitored by {len(active)} active schedule(s)"
                         + (f" ({', '.join(types)})" if types else ""), **evidence)
            continue
        if is_async(ep) or any(v.serverless for v in variants(ep) if not v.shadow):
            yield not_applicable(ep, "serverless and asynchronous endpoints have limited Model "
                                 "Monitor support", **evidence)
            continue
        created = as_datetime(ep.get("CreationTime"))
        if created is None:
            yield unknown(ep, "no active schedule, and the endpoint's age is not reported",
                          **evidence)
        elif now - created < timedelta(days=monitor_grace_days):
            yield passed(ep, f"no active schedule yet, but the endpoint is younger than "
                         f"{monitor_grace_days} days", CreationTime=created.isoformat(),
                         **evidence)
        else:
            yield failed(ep, "no active Model Monitor schedule watches this endpoint",
                         **evidence)


@check(
    title="Model Monitor schedule watches an endpoint that captures no data",
    severity=Severity.HIGH,
    effort="redeploy",
    lens=("MLOPS06-BP02", "MLPERF06-BP03"),
    needs=(Kind.MONITORING_SCHEDULES, Kind.ENDPOINTS),
    remediation=(
        "Update the endpoint to an endpoint config with DataCaptureConfig enabled (Input and "
        "Output) to the S3 prefix the monitor reads, or delete the schedule if the endpoint is "
        "no longer meant to be monitored."
    ),
)
def sagemaker_endpoint_monitor_without_data_capture(inv: Inventory) -> Iterator[Verdict]:
    """PASS when a Scheduled endpoint monitor targets an endpoint whose data capture is enabled
    and Started. FAIL when the endpoint's capture is absent, disabled or Stopped: every
    execution then has nothing to analyse. NOT_APPLICABLE for schedules not Scheduled, for
    batch-transform monitors and for monitors whose endpoint no longer exists (reported by
    model_monitor_schedule_orphaned). UNKNOWN when the target or the endpoint's capture state
    cannot be read.

    A monitor without captured data is a silent no-op that looks like coverage.
    """
    endpoints = by_lower_name(inv.of(Kind.ENDPOINTS))
    for s in inv.of(Kind.MONITORING_SCHEDULES):
        if s.get("MonitoringScheduleStatus") != "Scheduled":
            yield not_applicable(s, f"schedule is {s.get('MonitoringScheduleStatus')}")
            continue
        target = monitor_target(s)
        if target.batch:
            yield not_applicable(s, "schedule monitors batch transform jobs")
            continue
        if target.endpoint is None:
            yield unknown(s, "the schedule's target endpoint cannot be determined")
            continue
        ep = endpoints.get(target.endpoint.lower())
        last = mapping(last_execution(s))
        evidence: dict[str, Any] = {
            "EndpointName": target.endpoint,
            "last_execution": last.get("MonitoringExecutionStatus"),
            "last_failure": last.get("FailureReason"),
        }
        if ep is None:
            yield not_applicable(s, f"endpoint {target.endpoint} no longer exists", **evidence)
            continue
        if ep.incomplete_reason:
            yield unknown(s, f"endpoint not fully described: {ep.incomplete_reason}", **evidence)
            continue
        capture = ep.get("DataCaptureConfig")
        enabled = mapping(capture).get("EnableCapture")
        evidence["EnableCapture"] = enabled
        evidence["CaptureStatus"] = mapping(capture).get("CaptureStatus")
        if capture is None or enabled is False:
            yield failed(s, f"endpoint {target.endpoint} does not capture data", **evidence)
        elif evidence["CaptureStatus"] == "Stopped":
            yield failed(s, f"data capture on endpoint {target.endpoint} is stopped", **evidence)
        elif enabled is True and evidence["CaptureStatus"] == "Started":
            yield passed(s, f"endpoint {target.endpoint} captures data", **evidence)
        else:
            yield unknown(s, "the endpoint's capture state is not reported", **evidence)


@check(
    title="Model Monitor schedule is not active",
    severity=Severity.MEDIUM,
    effort="config",
    lens=("MLOPS06-BP02", "MLPERF06-BP04"),
    needs=(Kind.MONITORING_SCHEDULES, Kind.ENDPOINTS),
    remediation=(
        "For a Failed schedule read FailureReason, fix it and recreate the schedule; start a "
        "Stopped schedule with StartMonitoringSchedule if its endpoint still serves; "
        "investigate schedules Pending for more than an hour."
    ),
)
def model_monitor_schedule_not_active(inv: Inventory) -> Iterator[Verdict]:
    """PASS when the schedule is Scheduled, or Pending for under an hour. FAIL (high) when it is
    Failed; FAIL (medium) when it is Stopped while its endpoint is InService; FAIL (low) when it
    has been Pending for over an hour. NOT_APPLICABLE for Stopped schedules whose endpoint is
    gone or not InService (nothing to watch; orphans are model_monitor_schedule_orphaned's)
    and for stopped batch-transform monitors. UNKNOWN when the status or the endpoint cannot
    be read.

    A monitor that is not running gives no warning of drift while still looking configured.
    """
    endpoints = by_lower_name(inv.of(Kind.ENDPOINTS))
    now = inv.collected_at
    for s in inv.of(Kind.MONITORING_SCHEDULES):
        status = s.get("MonitoringScheduleStatus")
        evidence: dict[str, Any] = {"MonitoringScheduleStatus": status,
                                    "FailureReason": s.get("FailureReason")}
        if status == "Scheduled":
            yield passed(s, "schedule is active", **evidence)
        elif status == "Failed":
            yield failed(s, "schedule is Failed", severity=Severity.HIGH, **evidence)
        elif status == "Pending":
            since = as_datetime(s.get("LastModifiedTime")) or as_datetime(s.get("CreationTime"))
            if since is None:
                yield unknown(s, "schedule is Pending since an unreported time", **evidence)
            elif now - since > timedelta(hours=1):
                yield failed(s, "schedule has been Pending for over an hour",
                             severity=Severity.LOW, since=since.isoformat(), **evidence)
            else:
                yield passed(s, "schedule was created or changed within the hour",
                             since=since.isoformat(), **evidence)
        elif status == "Stopped":
            target = monitor_target(s)
            ep = endpoints.get(target.endpoint.lower()) if target.endpoint else None
            if target.batch:
                yield not_applicable(s, "stopped batch-transform monitor", **evidence)
            elif target.endpoint is None:
                yield unknown(s, "the schedule's target endpoint cannot be determined",
                              **evidence)
            elif ep is None:
                yield not_applicable(s, f"endpoint {target.endpoint} no longer exists",
                                     **evidence)
            elif not ep.get("EndpointStatus"):
                yield unknown(s, f"endpoint {ep.name} status could not be read", **evidence)
            elif ep.get("EndpointStatus") == "InService":
                yield failed(s, f"schedule is Stopped while endpoint {ep.name} is InService",
                             **evidence)
            else:
                yield not_applicable(s, f"endpoint {ep.name} is {ep.get('EndpointStatus')}",
                                     **evidence)
        else:
            yield unknown(s, f"schedule status {status or 'not reported'}", **evidence)


# Endpoint states in which a monitor can only fail or waste a processing job.
_DEAD_ENDPOINT = frozenset({"Failed", "OutOfService", "UpdateRollbackFailed", "Deleting"})


@check(
    title="Model Monitor schedule watches an endpoint that is gone",
    severity=Severity.LOW,
    effort="config",
    lens=("MLCOST04-BP08", "MLSUS03-BP01"),
    needs=(Kind.MONITORING_SCHEDULES, Kind.ENDPOINTS),
    remediation=(
        "Delete the monitoring schedule (DeleteMonitoringSchedule), or point a new schedule at "
        "the endpoint that replaced the deleted one."
    ),
)
def model_monitor_schedule_orphaned(inv: Inventory) -> Iterator[Verdict]:
    """PASS when a Scheduled or Pending endpoint monitor's endpoint exists and is not Failed,
    OutOfService, UpdateRollbackFailed or Deleting. FAIL when the endpoint no longer exists or
    is in one of those states: the schedule keeps launching processing jobs that cost money and
    analyse nothing. NOT_APPLICABLE for batch-transform monitors and for Stopped or Failed
    schedules (they launch nothing). UNKNOWN when the target or its endpoint cannot be read.
    Endpoints recreated under the same name resolve the finding by themselves.

    Idle schedules waste compute and clutter the monitoring picture.
    """
    endpoints = by_lower_name(inv.of(Kind.ENDPOINTS))
    for s in inv.of(Kind.MONITORING_SCHEDULES):
        status = s.get("MonitoringScheduleStatus")
        if status not in ("Scheduled", "Pending"):
            yield not_applicable(s, f"schedule is {status}, so it launches no jobs")
            continue
        target = monitor_target(s)
        if target.batch:
            yield not_applicable(s, "schedule monitors batch transform jobs")
            continue
        if target.endpoint is None:
            yield unknown(s, "the schedule's target endpoint cannot be determined")
            continue
        ep: Resource | None = endpoints.get(target.endpoint.lower())
        # The ListEndpoints summary carries the status, so an endpoint whose describe failed
        # can still be judged here.
        ep_status = ep.get("EndpointStatus") if ep else None
        if ep is None:
            yield failed(s, f"endpoint {target.endpoint} no longer exists",
                         EndpointName=target.endpoint)
        elif ep_status in _DEAD_ENDPOINT:
            yield failed(s, f"endpoint {target.endpoint} is {ep_status}",
                         EndpointName=target.endpoint, EndpointStatus=ep_status)
        elif not ep_status:
            yield unknown(s, f"endpoint {target.endpoint} status could not be read",
                          EndpointName=target.endpoint)
        else:
            yield passed(s, f"endpoint {target.endpoint} is {ep_status}",
                         EndpointName=target.endpoint, EndpointStatus=ep_status)


CHECKS = (
    sagemaker_endpoint_no_model_monitor,
    sagemaker_endpoint_monitor_without_data_capture,
    model_monitor_schedule_not_active,
    model_monitor_schedule_orphaned,
)
