"""CloudWatch alarms: composite alarms, and DescribeAlarms as AWS answers it.

moto 5.2 stores composite alarms (an alarm with a rule) but has no PutCompositeAlarm handler,
and its DescribeAlarms ignores AlarmTypes (AWS answers metric alarms only unless asked),
MaxRecords and NextToken, drops AccountId from metric-math queries, never fills
StateTransitionedTimestamp and answers empty Dimensions/Metrics lists AWS leaves out.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

from moto.cloudwatch.models import Alarm, cloudwatch_backends
from moto.core.responses import ActionResult, EmptyResult

from agent.emulator.echo import recorded, request_params, shared_with_shape
from agent.emulator.paging import page
from agent.emulator.store import backend

Handler = Callable[[Any], Any]
_CW = "cloudwatch"
# Alarm names a composite rule refers to: ALARM("name"), OK(name), INSUFFICIENT_DATA("name").
_RULE_REFERENCE = re.compile(r"\b(?:ALARM|OK|INSUFFICIENT_DATA)\(\s*\"?([^\")]+?)\"?\s*\)")


def _record(self: Any, operation: str, params: dict[str, Any]) -> None:
    store = backend(self.current_account, self.region)
    with store.lock:
        store.created[(operation, str(params["AlarmName"]))] = params


def put_metric_alarm(original: Handler) -> Handler:
    """Remember the request: DescribeAlarms gives its configuration back."""

    @functools.wraps(original)
    def handler(self: Any) -> Any:
        result = original(self)
        _record(self, "PutMetricAlarm", request_params(self))
        return result

    handler._mllens_wrapped = True  # type: ignore[attr-defined]
    return handler


def put_composite_alarm(self: Any) -> ActionResult:
    params = request_params(self)
    cloudwatch_backends[self.current_account][self.region].put_metric_alarm(
        name=params["AlarmName"],
        namespace=None,  # type: ignore[arg-type]
        metric_name=None,  # type: ignore[arg-type]
        comparison_operator=None,  # type: ignore[arg-type]
        evaluation_periods=None,  # type: ignore[arg-type]
        period=None,  # type: ignore[arg-type]
        threshold=None,  # type: ignore[arg-type]
        statistic=None,  # type: ignore[arg-type]
        description=params.get("AlarmDescription"),  # type: ignore[arg-type]
        dimensions=[],
        alarm_actions=params.get("AlarmActions") or [],
        ok_actions=params.get("OKActions") or [],
        insufficient_data_actions=params.get("InsufficientDataActions") or [],
        actions_enabled=params.get("ActionsEnabled", True),
        rule=params["AlarmRule"],
        tags=params.get("Tags") or [],
    )
    _record(self, "PutCompositeAlarm", params)
    return EmptyResult()


def _state(alarm: Alarm) -> dict[str, Any]:
    return {
        "AlarmName": alarm.name,
        "AlarmArn": alarm.alarm_arn,
        "AlarmConfigurationUpdatedTimestamp": alarm.configuration_updated_timestamp,
        "ActionsEnabled": bool(alarm.actions_enabled),
        "OKActions": list(alarm.ok_actions or []),
        "AlarmActions": list(alarm.alarm_actions or []),
        "InsufficientDataActions": list(alarm.insufficient_data_actions or []),
        "StateValue": alarm.state_value,
        "StateReason": alarm.state_reason,
        "StateReasonData": alarm.state_reason_data,
        "StateUpdatedTimestamp": alarm.state_updated_timestamp,
        "StateTransitionedTimestamp": alarm.state_updated_timestamp,
    }


_METRIC_ATTRIBUTES = {
    "AlarmDescription": "description",
    "MetricName": "metric_name",
    "Namespace": "namespace",
    "Statistic": "statistic",
    "ExtendedStatistic": "extended_statistic",
    "Period": "period",
    "Unit": "unit",
    "EvaluationPeriods": "evaluation_periods",
    "DatapointsToAlarm": "datapoints_to_alarm",
    "Threshold": "threshold",
    "ComparisonOperator": "comparison_operator",
    "TreatMissingData": "treat_missing_data",
    "EvaluateLowSampleCountPercentile": "evaluate_low_sample_count_percentile",
    "ThresholdMetricId": "threshold_metric_id",
}


def _metric_alarm(self: Any, alarm: Alarm) -> dict[str, Any]:
    out = _state(alarm)
    for member, attribute in _METRIC_ATTRIBUTES.items():
        value = getattr(alarm, attribute, None)
        if value is not None:
            out[member] = value
    if alarm.dimensions:
        out["Dimensions"] = [{"Name": d.name, "Value": d.value} for d in alarm.dimensions]
    sent = recorded(self.current_account, self.region, "PutMetricAlarm", alarm.name)
    if sent is not None:
        for member in shared_with_shape(_CW, "PutMetricAlarm", "MetricAlarm"):
            if sent.get(member) not in (None, []):
                out[member] = copy.deepcopy(sent[member])
    return out


def _composite_alarm(self: Any, alarm: Alarm) -> dict[str, Any]:
    out = _state(alarm)
    out["AlarmRule"] = alarm.rule
    if alarm.description is not None:
        out["AlarmDescription"] = alarm.description
    sent = recorded(self.current_account, self.region, "PutCompositeAlarm", alarm.name)
    if sent is not None:
        for member in shared_with_shape(_CW, "PutCompositeAlarm", "CompositeAlarm"):
            if sent.get(member) is not None:
                out[member] = copy.deepcopy(sent[member])
    return out


def _selected(self: Any, alarms: Iterable[Alarm]) -> list[Alarm]:
    names = self._get_param("AlarmNames") or []
    prefix = self._get_param("AlarmNamePrefix")
    action_prefix = self._get_param("ActionPrefix")
    state = self._get_param("StateValue")
    children_of = self._get_param("ChildrenOfAlarmName")
    parents_of = self._get_param("ParentsOfAlarmName")
    by_name = {a.name: a for a in alarms}
    chosen = list(by_name.values())
    if names:
        chosen = [a for a in chosen if a.name in names]
    if prefix:
        chosen = [a for a in chosen if a.name.startswith(prefix)]
    if action_prefix:
        chosen = [a for a in chosen if any(x.startswith(action_prefix) for x in a.alarm_actions)]
    if state:
        chosen = [a for a in chosen if a.state_value == state]
    if children_of:
        parent = by_name.get(children_of)
        children = set(_RULE_REFERENCE.findall(parent.rule or "")) if parent else set()
        chosen = [a for a in chosen if a.name in children]
    if parents_of:
        chosen = [a for a in chosen if parents_of in _RULE_REFERENCE.findall(a.rule or "")]
    return chosen


def describe_alarms(self: Any) -> ActionResult:
    alarms = _selected(self, cloudwatch_backends[self.current_account][self.region].alarms.values())
    types = self._get_param("AlarmTypes") or ["MetricAlarm"]
    ordered = sorted(
        (a for a in alarms if ("CompositeAlarm" if a.rule else "MetricAlarm") in types),
        key=lambda a: (a.rule is not None, a.name),
    )
    items, token = page(
        ordered, self._get_param("MaxRecords"), self._get_param("NextToken"), 50,
        error_code="InvalidNextToken",
    )
    return ActionResult({
        "MetricAlarms": [_metric_alarm(self, a) for a in items if a.rule is None],
        "CompositeAlarms": [_composite_alarm(self, a) for a in items if a.rule is not None],
        "NextToken": token,
    })
