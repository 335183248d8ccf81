"""State the emulator keeps beside moto's, and the Python seeding API over it.

The extension store is a moto backend (one per account and region, in a moto `BackendDict`), so
moto's own reset - `Emulator.reset()` or a POST to `/moto-api/reset` - clears it with the rest.
"""

from __future__ import annotations

import functools
import threading
from datetime import UTC, datetime
from typing import Any

from moto.core.base_backend import BackendDict, BaseBackend

from agent.emulator.faults import DEFAULT_ACCOUNT_ID

DEFAULT_REGION = "us-east-1"

SCHEDULE_STATUSES = ("Pending", "Scheduled", "Stopped", "Failed")
EXECUTION_STATUSES = (
    "Pending",
    "Completed",
    "CompletedWithViolations",
    "InProgress",
    "Failed",
    "Stopping",
    "Stopped",
)
INFERENCE_COMPONENT_STATUSES = ("InService", "Creating", "Updating", "Failed", "Deleting")
CAPTURE_STATUSES = ("Started", "Stopped")
ENDPOINT_STATUSES = (
    "OutOfService",
    "Creating",
    "Updating",
    "SystemUpdating",
    "RollingBack",
    "InService",
    "Deleting",
    "Failed",
    "UpdateRollbackFailed",
)


def now() -> datetime:
    # Millisecond precision, as AWS answers: a round trip then compares equal.
    t = datetime.now(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


class ExtensionBackend(BaseBackend):
    """Per (account, region): what moto does not model, and the create requests moto drops."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.lock = threading.RLock()
        self.monitoring_schedules: dict[str, dict[str, Any]] = {}
        self.monitoring_executions: list[dict[str, Any]] = []
        self.inference_components: dict[str, dict[str, Any]] = {}
        # endpoint name -> DataCaptureConfigSummary.CaptureStatus set by the seeding API
        self.capture_status: dict[str, str] = {}
        # (create operation, resource name) -> the parsed create request, for `fixes.echo`
        self.created: dict[tuple[str, str], dict[str, Any]] = {}

    def arn(self, resource_type: str, name: str) -> str:
        return (
            f"arn:{self.partition}:sagemaker:{self.region_name}:{self.account_id}:"
            f"{resource_type}/{name.lower()}"
        )

    def last_execution(self, schedule_name: str) -> dict[str, Any] | None:
        """The newest execution of a schedule: latest ScheduledTime, later-added on a tie."""
        with self.lock:
            runs = [
                (run["ScheduledTime"], i, run)
                for i, run in enumerate(self.monitoring_executions)
                if run["MonitoringScheduleName"] == schedule_name
            ]
        return max(runs, key=lambda r: (r[0], r[1]))[2] if runs else None


@functools.cache
def extension_backends() -> BackendDict[ExtensionBackend]:
    """The process-wide store, created on first use (never at import time)."""
    return BackendDict(ExtensionBackend, "sagemaker")


def backend(account_id: str, region: str) -> ExtensionBackend:
    return extension_backends()[account_id][region]


class UnknownResource(KeyError):
    """The seeding API was asked about a resource the emulator does not hold."""


class Seeder:
    """Set what only AWS itself changes: statuses, monitoring executions, failure reasons.

    Resources are still created through the AWS API (boto3 against `Emulator.url`); this only
    moves them into the states a real estate would show. Every method takes the account and
    region the resource lives in (defaults: moto's default account, us-east-1).
    """

    def set_monitoring_schedule_status(
        self,
        name: str,
        status: str,
        *,
        failure_reason: str | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
    ) -> None:
        _check_value("schedule status", status, SCHEDULE_STATUSES)
        store = backend(account_id, region)
        with store.lock:
            schedule = _get(store.monitoring_schedules, name, "monitoring schedule")
            schedule["MonitoringScheduleStatus"] = status
            schedule["LastModifiedTime"] = now()
            if failure_reason is not None:
                schedule["FailureReason"] = failure_reason
            elif status != "Failed":
                schedule.pop("FailureReason", None)

    def add_monitoring_execution(
        self,
        schedule_name: str,
        status: str,
        *,
        scheduled_time: datetime | None = None,
        failure_reason: str | None = None,
        processing_job_arn: str | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
    ) -> dict[str, Any]:
        """Record one execution of a schedule; returns the MonitoringExecutionSummary.

        `scheduled_time` defaults to now; the schedule's LastMonitoringExecutionSummary is the
        execution with the latest ScheduledTime. A Completed/Failed/Stopped run gets a
        processing job ARN unless one is given; Pending runs have none, as in AWS.
        """
        _check_value("execution status", status, EXECUTION_STATUSES)
        store = backend(account_id, region)
        with store.lock:
            schedule = _get(store.monitoring_schedules, schedule_name, "monitoring schedule")
            scheduled = _aware(scheduled_time) if scheduled_time else now()
            run: dict[str, Any] = {
                "MonitoringScheduleName": schedule_name,
                "ScheduledTime": scheduled,
                "CreationTime": scheduled,
                "LastModifiedTime": scheduled,
                "MonitoringExecutionStatus": status,
                "MonitoringType": schedule["MonitoringType"],
            }
            if status != "Pending":
                run["ProcessingJobArn"] = processing_job_arn or store.arn(
                    "processing-job",
                    f"model-monitoring-{scheduled:%Y%m%d%H%M}-{len(store.monitoring_executions):08x}",
                )
            if schedule.get("EndpointName"):
                run["EndpointName"] = schedule["EndpointName"]
            definition = schedule["MonitoringScheduleConfig"].get("MonitoringJobDefinitionName")
            if definition:
                run["MonitoringJobDefinitionName"] = definition
            if failure_reason is not None:
                run["FailureReason"] = failure_reason
            store.monitoring_executions.append(run)
            return dict(run)

    def set_inference_component_status(
        self,
        name: str,
        status: str,
        *,
        failure_reason: str | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
    ) -> None:
        _check_value("inference component status", status, INFERENCE_COMPONENT_STATUSES)
        store = backend(account_id, region)
        with store.lock:
            component = _get(store.inference_components, name, "inference component")
            component["InferenceComponentStatus"] = status
            component["LastModifiedTime"] = now()
            if failure_reason is not None:
                component["FailureReason"] = failure_reason
            elif status != "Failed":
                component.pop("FailureReason", None)

    def set_endpoint_status(
        self,
        name: str,
        status: str,
        *,
        failure_reason: str | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
    ) -> None:
        """moto creates every endpoint InService; move one to Creating, Failed, ..."""
        from moto.sagemaker.models import sagemaker_backends

        _check_value("endpoint status", status, ENDPOINT_STATUSES)
        endpoints = sagemaker_backends[account_id][region].endpoints
        endpoint = _get(endpoints, name, "endpoint")
        endpoint.endpoint_status = status
        endpoint.failure_reason = failure_reason
        endpoint.last_modified_time = now()


    def set_data_capture_status(
        self,
        endpoint_name: str,
        status: str,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
    ) -> None:
        """DescribeEndpoint's DataCaptureConfig.CaptureStatus (Started|Stopped); by default it
        is Started when the endpoint config enables capture."""
        from moto.sagemaker.models import sagemaker_backends

        _check_value("capture status", status, CAPTURE_STATUSES)
        _get(sagemaker_backends[account_id][region].endpoints, endpoint_name, "endpoint")
        store = backend(account_id, region)
        with store.lock:
            store.capture_status[endpoint_name] = status


def _get(items: dict[str, Any], name: str, what: str) -> Any:
    try:
        return items[name]
    except KeyError:
        raise UnknownResource(f"no {what} named {name!r} in this account and region") from None


def _check_value(what: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{what} {value!r} is not one of {', '.join(allowed)}")


def _aware(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
