"""State the emulator keeps beside moto's, and the Python seeding API over it.

The extension store is a moto backend (one per account and region, in a moto `BackendDict`), so
moto's own reset - `Emulator.reset()` or a POST to `/moto-api/reset` - clears it with the rest.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.resource_tagging import TaggableResourcesMixin, TaggedResource

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
JOB_RUN_STATES = ("STARTING", "RUNNING", "STOPPING", "STOPPED", "SUCCEEDED", "FAILED",
                  "TIMEOUT", "ERROR", "WAITING", "EXPIRED")
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


class ExtensionBackend(BaseBackend, TaggableResourcesMixin):
    """Per (account, region): what moto does not model, and the create requests moto drops.

    It also answers the Resource Groups Tagging API for its own resources (monitoring
    schedules, inference components), as moto's backends do for theirs.
    """

    SERVICE_NAMESPACE = "sagemaker"

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
        # ARN -> tags of the emulator's own resources (set by their Create requests)
        self.tags: dict[str, dict[str, str]] = {}

    def iter_tagged_resources(self) -> Iterator[TaggedResource]:
        with self.lock:
            owned = [
                *((s["MonitoringScheduleArn"], "sagemaker:monitoring-schedule")
                  for s in self.monitoring_schedules.values()),
                *((c["InferenceComponentArn"], "sagemaker:inference-component")
                  for c in self.inference_components.values()),
            ]
            for arn, resource_type in owned:
                yield TaggedResource(arn=arn, tags=dict(self.tags.get(arn) or {}),
                                     resource_type=resource_type)

    def owns_arn(self, arn: str) -> bool:
        with self.lock:
            return arn in self.tags

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


    def set_endpoint_creation_time(
        self,
        name: str,
        created: datetime,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
    ) -> None:
        """Backdate an endpoint (moto creates everything "now"): age-dependent checks such as
        the idle one only judge endpoints older than their window."""
        from moto.sagemaker.models import sagemaker_backends

        endpoint = _get(sagemaker_backends[account_id][region].endpoints, name, "endpoint")
        endpoint.creation_time = endpoint.last_modified_time = _moto_time(created)

    def set_notebook_last_modified(
        self,
        name: str,
        when: datetime,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
    ) -> None:
        """When a notebook last started or changed: how long it has been running."""
        from moto.sagemaker.models import sagemaker_backends

        notebooks = sagemaker_backends[account_id][region].notebook_instances
        _get(notebooks, name, "notebook instance").last_modified_time = _moto_time(when)

    def add_glue_job_run(
        self,
        job_name: str,
        state: str,
        *,
        started_on: datetime | None = None,
        execution_time: int | None = None,
        error_message: str | None = None,
        attempt: int = 0,
        previous_run_id: str | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
    ) -> str:
        """Record one run of a Glue job in `state` (moto's runs always end SUCCEEDED); returns
        its run ID. Finished runs get CompletedOn = StartedOn + ExecutionTime."""
        from datetime import timedelta

        from moto.glue.models import glue_backends

        from agent.emulator.catalog import seeded_job_run

        _check_value("job run state", state, JOB_RUN_STATES)
        job = _get(glue_backends[account_id][region].jobs, job_name, "Glue job")
        started = _aware(started_on) if started_on else now()
        finished = state not in ("STARTING", "RUNNING", "STOPPING", "WAITING")
        completed = started + timedelta(seconds=execution_time or 0) if finished else None
        run = seeded_job_run(job, state, started, execution_time=execution_time,
                             error_message=error_message, attempt=attempt,
                             previous_run_id=previous_run_id, completed_on=completed)
        job.job_runs.append(run)
        # AWS has no run from before its job was created: a run seeded in the past moves the
        # job's creation (moto stamps it at create time) to a day before it.
        created = job.created_on
        aware = created if created.tzinfo else created.replace(tzinfo=UTC)
        if aware > started:
            earlier = started - timedelta(days=1)
            job.created_on = earlier if created.tzinfo else earlier.replace(tzinfo=None)
        return str(run.job_run_id)

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


def _moto_time(t: datetime) -> datetime:
    # moto keeps naive UTC datetimes on its resources.
    return _aware(t).replace(tzinfo=None)


def _aware(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
