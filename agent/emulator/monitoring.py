"""SageMaker Model Monitor schedules and executions, which moto does not model.

Each handler becomes a method of moto's `SageMakerResponse` (see `extensions.install`): moto
has already parsed the request against botocore's model into `self.params`, and serialises the
returned dict against the output shape. State lives in the extension store of the caller's
account and region.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.models import sagemaker_backends

from agent.emulator.filters import contains, equals, sorted_by, time_filters
from agent.emulator.paging import page
from agent.emulator.store import ExtensionBackend, backend, now

_JOB_INPUT = {
    "DataQuality": ("describe_data_quality_job_definition", "DataQualityJobInput"),
    "ModelQuality": ("describe_model_quality_job_definition", "ModelQualityJobInput"),
    "ModelBias": ("describe_model_bias_job_definition", "ModelBiasJobInput"),
    "ModelExplainability": (
        "describe_model_explainability_job_definition",
        "ModelExplainabilityJobInput",
    ),
}
_SUMMARY_FIELDS = (
    "MonitoringScheduleName",
    "MonitoringScheduleArn",
    "CreationTime",
    "LastModifiedTime",
    "MonitoringScheduleStatus",
    "EndpointName",
    "MonitoringType",
)


def _store(self: Any) -> ExtensionBackend:
    return backend(self.current_account, self.region)


def _schedule(store: ExtensionBackend, name: str) -> dict[str, Any]:
    schedule = store.monitoring_schedules.get(name)
    if schedule is None:
        raise ResourceNotFound(f"Monitoring schedule {name} not found")
    return schedule


def _endpoint_of_definition(
    self: Any, monitoring_type: str, definition_name: str
) -> str | None:
    """The endpoint a separately defined job monitors; ResourceNotFound if it does not exist."""
    describe, input_key = _JOB_INPUT[monitoring_type]
    moto_backend = sagemaker_backends[self.current_account][self.region]
    definition = getattr(moto_backend, describe)(definition_name)
    endpoint_input = (definition.get(input_key) or {}).get("EndpointInput") or {}
    return endpoint_input.get("EndpointName")


def _endpoint_of_inline(definition: dict[str, Any]) -> str | None:
    for monitoring_input in definition.get("MonitoringInputs") or ():
        name = (monitoring_input.get("EndpointInput") or {}).get("EndpointName")
        if name:
            return str(name)
    return None


def create_monitoring_schedule(self: Any) -> ActionResult:
    name = self._get_param("MonitoringScheduleName")
    config = copy.deepcopy(self._get_param("MonitoringScheduleConfig") or {})
    inline = config.get("MonitoringJobDefinition")
    definition_name = config.get("MonitoringJobDefinitionName")
    if bool(inline) == bool(definition_name):
        raise ValidationError(
            "Exactly one of MonitoringJobDefinition and MonitoringJobDefinitionName is required"
        )
    if inline:
        # An inline definition is always a data-quality job.
        monitoring_type = config.get("MonitoringType") or "DataQuality"
        endpoint = _endpoint_of_inline(inline)
    else:
        monitoring_type = config.get("MonitoringType")
        if monitoring_type not in _JOB_INPUT:
            raise ValidationError(
                "MonitoringType is required with MonitoringJobDefinitionName"
            )
        endpoint = _endpoint_of_definition(self, monitoring_type, str(definition_name))
    store = _store(self)
    with store.lock:
        if name in store.monitoring_schedules:
            raise ResourceInUseException(f"Monitoring schedule {name} already exists")
        created = now()
        schedule: dict[str, Any] = {
            "MonitoringScheduleArn": store.arn("monitoring-schedule", name),
            "MonitoringScheduleName": name,
            # Created in the settled state, as moto creates endpoints InService; the seeding
            # API moves it to Pending, Stopped or Failed.
            "MonitoringScheduleStatus": "Scheduled",
            "MonitoringType": monitoring_type,
            "CreationTime": created,
            "LastModifiedTime": created,
            "MonitoringScheduleConfig": config,
        }
        if endpoint:
            schedule["EndpointName"] = endpoint
        store.monitoring_schedules[name] = schedule
        tags = self._get_param("Tags") or []
        if tags:
            store.tags[schedule["MonitoringScheduleArn"]] = {
                str(t["Key"]): str(t.get("Value") or "") for t in tags
            }
    return ActionResult({"MonitoringScheduleArn": schedule["MonitoringScheduleArn"]})


def describe_monitoring_schedule(self: Any) -> ActionResult:
    store = _store(self)
    name = self._get_param("MonitoringScheduleName")
    with store.lock:
        answer = copy.deepcopy(_schedule(store, name))
    last = store.last_execution(name)
    if last is not None:
        answer["LastMonitoringExecutionSummary"] = dict(last)
    return ActionResult(answer)


def delete_monitoring_schedule(self: Any) -> ActionResult:
    store = _store(self)
    name = self._get_param("MonitoringScheduleName")
    with store.lock:
        _schedule(store, name)
        del store.monitoring_schedules[name]
        store.monitoring_executions = [
            run for run in store.monitoring_executions
            if run["MonitoringScheduleName"] != name
        ]
    return EmptyResult()


def _set_status(self: Any, status: str) -> ActionResult:
    store = _store(self)
    with store.lock:
        schedule = _schedule(store, self._get_param("MonitoringScheduleName"))
        schedule["MonitoringScheduleStatus"] = status
        schedule["LastModifiedTime"] = now()
    return EmptyResult()


def start_monitoring_schedule(self: Any) -> ActionResult:
    return _set_status(self, "Scheduled")


def stop_monitoring_schedule(self: Any) -> ActionResult:
    return _set_status(self, "Stopped")


def list_monitoring_schedules(self: Any) -> ActionResult:
    store = _store(self)
    with store.lock:
        schedules = [copy.deepcopy(s) for s in store.monitoring_schedules.values()]
    keep = [
        equals("EndpointName", self._get_param("EndpointName")),
        equals("MonitoringScheduleStatus", self._get_param("StatusEquals")),
        equals("MonitoringType", self._get_param("MonitoringTypeEquals")),
        contains("MonitoringScheduleName", self._get_param("NameContains")),
        *time_filters(self, ("CreationTime", "LastModifiedTime")),
    ]
    definition = self._get_param("MonitoringJobDefinitionName")
    if definition:
        keep.append(
            lambda s: s["MonitoringScheduleConfig"].get("MonitoringJobDefinitionName")
            == definition
        )
    selected = sorted_by(
        (s for s in schedules if all(f(s) for f in keep)),
        {"Name": "MonitoringScheduleName", "CreationTime": "CreationTime",
         "Status": "MonitoringScheduleStatus"}[self._get_param("SortBy") or "CreationTime"],
        self._get_param("SortOrder") or "Descending",
    )
    items, token = page(selected, self._get_param("MaxResults"), self._get_param("NextToken"), 10)
    summaries = []
    for s in items:
        summary = {k: s[k] for k in _SUMMARY_FIELDS if k in s}
        definition_name = s["MonitoringScheduleConfig"].get("MonitoringJobDefinitionName")
        if definition_name:
            summary["MonitoringJobDefinitionName"] = definition_name
        summaries.append(summary)
    return ActionResult({"MonitoringScheduleSummaries": summaries, "NextToken": token})


def list_monitoring_executions(self: Any) -> ActionResult:
    store = _store(self)
    with store.lock:
        runs = [dict(r) for r in store.monitoring_executions]
    keep = [
        equals("MonitoringScheduleName", self._get_param("MonitoringScheduleName")),
        equals("EndpointName", self._get_param("EndpointName")),
        equals("MonitoringExecutionStatus", self._get_param("StatusEquals")),
        equals("MonitoringType", self._get_param("MonitoringTypeEquals")),
        equals("MonitoringJobDefinitionName", self._get_param("MonitoringJobDefinitionName")),
        *time_filters(self, ("ScheduledTime", "CreationTime", "LastModifiedTime")),
    ]
    selected = sorted_by(
        (r for r in runs if all(f(r) for f in keep)),
        {"CreationTime": "CreationTime", "ScheduledTime": "ScheduledTime",
         "Status": "MonitoringExecutionStatus"}[self._get_param("SortBy") or "ScheduledTime"],
        self._get_param("SortOrder") or "Descending",
    )
    items, token = page(selected, self._get_param("MaxResults"), self._get_param("NextToken"), 10)
    return ActionResult({"MonitoringExecutionSummaries": items, "NextToken": token})


HANDLERS: dict[str, Callable[[Any], ActionResult]] = {
    "create_monitoring_schedule": create_monitoring_schedule,
    "describe_monitoring_schedule": describe_monitoring_schedule,
    "delete_monitoring_schedule": delete_monitoring_schedule,
    "start_monitoring_schedule": start_monitoring_schedule,
    "stop_monitoring_schedule": stop_monitoring_schedule,
    "list_monitoring_schedules": list_monitoring_schedules,
    "list_monitoring_executions": list_monitoring_executions,
}
