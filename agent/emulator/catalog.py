"""What the full check catalog needs from moto beyond the first extensions (see GAPS.md).

- CloudWatch ListMetrics lists a multi-dimension metric once per datapoint (moto compares each
  dimension with every other one, so two dimensions never look "the same"): deduplicated.
- SageMaker ListNotebookInstanceLifecycleConfigs is not implemented: added over moto's store.
- SageMaker ListTags does not know the emulator's monitoring schedules: answered from the
  extension store, which also reports them to the Resource Groups Tagging API.
- Resource Groups Tagging API GetResources answers endpoint-config ARNs as "('arn:...',)":
  moto keeps that ARN as a one-element tuple. Unwrapped.
- Glue GetJobRuns answers oldest first (AWS: newest first), so MaxResults kept the oldest runs:
  re-sorted and re-paged. Runs with a chosen state, time and error come from the seeding API.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.core.responses import ActionResult

from agent.emulator.echo import request_params
from agent.emulator.filters import contains, sorted_by, time_filters
from agent.emulator.paging import page
from agent.emulator.store import backend

Handler = Callable[[Any], Any]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _mark(fn: Handler) -> Handler:
    fn._mllens_wrapped = True  # type: ignore[attr-defined]
    return fn


def _aware(value: Any) -> datetime:
    if not isinstance(value, datetime):
        return _EPOCH
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# --- CloudWatch ------------------------------------------------------------------------------


def list_metrics(original: Handler) -> Handler:
    @functools.wraps(original)
    def handler(self: Any) -> Any:
        result = original(self)
        if isinstance(result, ActionResult) and isinstance(result.result, dict):
            seen: set[tuple[Any, ...]] = set()
            unique = []
            for metric in result.result.get("Metrics") or ():
                key = (metric.namespace, metric.name,
                       frozenset((d.name, d.value) for d in metric.dimensions))
                if key not in seen:
                    seen.add(key)
                    unique.append(metric)
            return ActionResult({**result.result, "Metrics": unique})
        return result

    return _mark(handler)


# --- SageMaker -------------------------------------------------------------------------------


def list_notebook_instance_lifecycle_configs(self: Any) -> ActionResult:
    from moto.sagemaker.models import sagemaker_backends

    configs = sagemaker_backends[self.current_account][self.region]
    summaries = [
        {
            "NotebookInstanceLifecycleConfigName": c.notebook_instance_lifecycle_config_name,
            "NotebookInstanceLifecycleConfigArn": c.arn,
            "CreationTime": _aware(c.creation_time),
            "LastModifiedTime": _aware(c.last_modified_time),
        }
        for c in configs.notebook_instance_lifecycle_configurations.values()
    ]
    keep = [
        contains("NotebookInstanceLifecycleConfigName", self._get_param("NameContains")),
        *time_filters(self, ("CreationTime", "LastModifiedTime")),
    ]
    field = {"Name": "NotebookInstanceLifecycleConfigName", "CreationTime": "CreationTime",
             "LastModifiedTime": "LastModifiedTime"}[self._get_param("SortBy") or "CreationTime"]
    selected = sorted_by((s for s in summaries if all(f(s) for f in keep)), field,
                         self._get_param("SortOrder") or "Descending")
    items, token = page(selected, self._get_param("MaxResults"), self._get_param("NextToken"), 10)
    return ActionResult({"NotebookInstanceLifecycleConfigs": items, "NextToken": token})


def list_tags(original: Handler) -> Handler:
    """Tags of the emulator's own resources (monitoring schedules); moto's for the rest."""

    @functools.wraps(original)
    def handler(self: Any) -> Any:
        arn = request_params(self).get("ResourceArn") or ""
        store = backend(self.current_account, self.region)
        with store.lock:
            owned = any(s["MonitoringScheduleArn"] == arn
                        for s in store.monitoring_schedules.values()) or any(
                c["InferenceComponentArn"] == arn for c in store.inference_components.values())
            tags = store.tags.get(arn, {})
        if not owned:
            return original(self)
        return ActionResult({"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]})

    return _mark(handler)


# --- Resource Groups Tagging API ------------------------------------------------------------


def get_resources(original: Handler) -> Handler:
    @functools.wraps(original)
    def handler(self: Any) -> Any:
        result = original(self)
        if isinstance(result, ActionResult) and isinstance(result.result, dict):
            mappings = []
            for m in result.result.get("ResourceTagMappingList") or ():
                arn = m.get("ResourceARN")
                if isinstance(arn, tuple | list) and arn:
                    m = {**m, "ResourceARN": arn[0]}
                mappings.append(m)
            return ActionResult({**result.result, "ResourceTagMappingList": mappings})
        return result

    return _mark(handler)


# --- Glue ------------------------------------------------------------------------------------


def get_job_runs(original: Handler) -> Handler:
    @functools.wraps(original)
    def handler(self: Any) -> Any:
        params = request_params(self)
        # Ask moto for every run, then sort and page here with our own tokens. Glue's handler
        # reads the JSON body, not the parsed parameters, so both are rewritten.
        everything = {k: v for k, v in params.items() if k not in ("NextToken", "MaxResults")}
        self.params = everything
        self.body = json.dumps(everything)
        result = original(self)
        if not (isinstance(result, ActionResult) and isinstance(result.result, dict)):
            return result
        runs = sorted(result.result.get("JobRuns") or [],
                      key=lambda r: _aware(r.get("StartedOn")), reverse=True)
        items, token = page(runs, params.get("MaxResults"), params.get("NextToken"), 100)
        return ActionResult({"JobRuns": items, "NextToken": token})

    return _mark(handler)


def seeded_job_run(job: Any, state: str, started_on: datetime, *, execution_time: int | None,
                   error_message: str | None, attempt: int, previous_run_id: str | None,
                   completed_on: datetime | None) -> Any:
    """A moto job run frozen in `state`, with the times and error AWS would report."""
    from moto.glue.models import FakeJobRun

    class SeededJobRun(FakeJobRun):
        def as_dict(self) -> dict[str, Any]:
            out = super().as_dict()
            out.update({"Attempt": attempt, "StartedOn": started_on,
                        "LastModifiedOn": completed_on or started_on,
                        "GlueVersion": job.glue_version or "0.9"})
            if completed_on is None:
                out.pop("CompletedOn", None)
            else:
                out["CompletedOn"] = completed_on
            if execution_time is None:
                out.pop("ExecutionTime", None)
            else:
                out["ExecutionTime"] = execution_time
            if error_message:
                out["ErrorMessage"] = error_message
            if previous_run_id:
                out["PreviousRunId"] = previous_run_id
            return out

    run = SeededJobRun(job_name=job.name)
    # A transition table that only leads back to `state`: the run never moves on.
    run._transitions = [(state, state)]
    run.status = state
    return run


def update_endpoint(self: Any) -> ActionResult:
    """UpdateEndpoint (moto 5.2 has none): the endpoint takes the new config's variants and
    data capture, and its LastModifiedTime moves, as AWS's does once the update finishes (the
    emulator has no Updating phase)."""
    from moto.core.utils import utcnow
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import sagemaker_backends

    sm = sagemaker_backends[self.current_account][self.region]
    name = self._get_param("EndpointName")
    config_name = self._get_param("EndpointConfigName")
    endpoint = sm.endpoints.get(name)
    if endpoint is None:
        raise ValidationError(message=f'Could not find endpoint "{name}".')
    config = sm.endpoint_configs.get(config_name)
    if config is None:
        raise ValidationError(message=f'Could not find endpoint configuration "{config_name}".')
    endpoint.endpoint_config_name = config_name
    endpoint.production_variants = endpoint._process_production_variants(
        config.production_variants)
    endpoint.data_capture_config = config.data_capture_config
    endpoint.last_modified_time = utcnow()
    return ActionResult({"EndpointArn": endpoint.arn})
