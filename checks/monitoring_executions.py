"""Checks on Model Monitor executions: failures, violations, and schedules that stopped running.

Each schedule carries its LastMonitoringExecutionSummary (DescribeMonitoringSchedule). The
newest executions per schedule (ListMonitoringExecutions, the MONITORING_EXECUTIONS kind) are
read as an optional input, for failure and violation streaks: when the scan did not ask for
them, or they were asked for and not collected, the last execution alone is judged, and only
the verdicts it decides on its own are given (the rest are UNKNOWN, naming what failed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from itertools import pairwise
from typing import Annotated, Any

from agent.domain import Inventory, Kind, Resource, Severity
from checks._helpers import (
    OptionalInput,
    as_datetime,
    by_lower_name,
    items,
    last_execution,
    mapping,
    monitor_target,
    optional_kind,
    optional_record,
)
from checks.base import AT_LEAST_1, Verdict, check, failed, not_applicable, passed, unknown


def _execution_evidence(last: Any) -> dict[str, Any]:
    last = mapping(last)
    return {
        "MonitoringExecutionStatus": last.get("MonitoringExecutionStatus"),
        "ScheduledTime": str(last.get("ScheduledTime")) if last.get("ScheduledTime") else None,
        "FailureReason": last.get("FailureReason"),
        "ProcessingJobArn": last.get("ProcessingJobArn"),
    }


_FINISHED = ("Completed", "CompletedWithViolations", "Failed", "Stopped")


def _history(
    inv: Inventory, s: Resource
) -> tuple[list[Mapping[str, Any]] | None, OptionalInput]:
    """The schedule's newest executions, newest first, when collected; else None and why."""
    history = optional_record(inv, Kind.MONITORING_EXECUTIONS, s.name)
    if history.record is None:
        return None, history
    return items(history.record.get("MonitoringExecutionSummaries")), history


def _judged(
    inv: Inventory, s: Resource
) -> tuple[Mapping[str, Any] | None, list[Mapping[str, Any]] | None, str, OptionalInput]:
    """(the execution to judge, finished executions newest first or None, note, history).

    The last execution, or, while it is still running, the newest finished one when history
    was collected. None to judge when the schedule never ran or only a running one is known.
    """
    last = last_execution(s)
    history, state = _history(inv, s)
    finished = None if history is None else [
        e for e in history if e.get("MonitoringExecutionStatus") in _FINISHED]
    # A schedule reporting no execution is judged "not run yet" even when its history failed:
    # the history, listed seconds after the schedule was described, could only add an
    # execution that started and finished in between.
    if last is None and not finished:
        return None, finished, "never ran", state
    status = mapping(last).get("MonitoringExecutionStatus")
    if last is not None and status in _FINISHED:
        return last, finished, "", state
    if finished:
        return finished[0], finished, (f"last execution is {status or 'unreported'}; the newest "
                                       "finished one is judged"), state
    return last, finished, state.why, state


def _leading(finished: list[Mapping[str, Any]], status: str) -> list[Mapping[str, Any]]:
    out = []
    for e in finished:
        if e.get("MonitoringExecutionStatus") != status:
            break
        out.append(e)
    return out


@check(
    title="Model Monitor schedule's last execution failed",
    severity=Severity.HIGH,
    effort="config",
    lens=("MLOPS06-BP02", "MLPERF06-BP03"),
    needs=(Kind.MONITORING_SCHEDULES,),
    optional=(Kind.MONITORING_EXECUTIONS,),
    remediation=(
        "Fix the cause in FailureReason (often missing captured data, a wrong baseline URI or "
        "missing ground truth), then let the next scheduled execution run; alert on execution "
        "failures with an EventBridge rule on SageMaker processing job state changes."
    ),
)
def model_monitor_last_execution_failed(
    inv: Inventory, *, consecutive_failures: Annotated[int, AT_LEAST_1] = 1
) -> Iterator[Verdict]:
    """PASS when the schedule's last finished execution Completed (with or without
    violations, which model_monitor_violations_detected judges), or Failed but fewer than
    `consecutive_failures` times in a row (a one-off transient). FAIL (high) when the last
    `consecutive_failures` finished executions Failed; FAIL (medium) when the last one was
    Stopped. While the last execution is still running, the newest finished one is judged
    when execution history (ListMonitoringExecutions) was collected, else UNKNOWN; counting
    more than one failure also needs that history (UNKNOWN without it). The reason of such an
    UNKNOWN names the history's failed call when it was asked for and not collected. A
    verdict the last execution decides alone (Completed, Stopped, one failure when
    `consecutive_failures` is 1) stands without history. NOT_APPLICABLE when the schedule has
    not run yet (staleness is model_monitor_execution_stale's).

    A monitor whose executions fail produces no drift or quality signal at all.
    """
    for s in inv.of(Kind.MONITORING_SCHEDULES):
        judged, finished, note, history = _judged(inv, s)
        evidence = _execution_evidence(judged)
        if note:
            evidence["note"] = note
        status = evidence["MonitoringExecutionStatus"]
        if judged is None:
            yield not_applicable(s, "the schedule has not run yet")
        elif status == "Failed":
            streak = len(_leading(finished, "Failed")) if finished else 1
            evidence["consecutive_failures"] = streak
            if finished is None and consecutive_failures > 1:
                yield unknown(s, f"last execution failed; counting {consecutive_failures} in a "
                              f"row needs execution history ({history.why})", **evidence)
            elif streak >= consecutive_failures:
                yield failed(s, "last monitoring execution failed" + (
                    f" ({streak} in a row)" if streak > 1 else ""), **evidence)
            else:
                yield passed(s, f"last execution failed, but only {streak} in a row "
                             f"(consecutive_failures={consecutive_failures})", **evidence)
        elif status == "Stopped":
            yield failed(s, "last monitoring execution was stopped", severity=Severity.MEDIUM,
                         **evidence)
        elif status in ("Completed", "CompletedWithViolations"):
            yield passed(s, f"last monitoring execution {status}", **evidence)
        else:
            yield unknown(s, f"last execution is {status or 'in an unreported state'}; the "
                          "previous finished one is not known"
                          + (f" ({history.why})" if history.why else ""), **evidence)


def _redeployed_since(inv: Inventory, s: Resource, since: Any) -> tuple[bool | None, str]:
    """Whether the monitored endpoint changed after `since`; None and why when not known."""
    target = monitor_target(s)
    endpoints = optional_kind(inv, Kind.ENDPOINTS)
    if not endpoints.collected:
        return None, endpoints.why
    if not target.endpoint or since is None:
        return None, "the monitored endpoint or the streak's start is not reported"
    ep = by_lower_name(inv.of(Kind.ENDPOINTS)).get(target.endpoint.lower())
    modified = as_datetime(ep.get("LastModifiedTime")) if ep is not None else None
    if modified is None:
        return None, f"endpoint {target.endpoint} or its LastModifiedTime is not known"
    return modified > since, ""


@check(
    title="Model Monitor found constraint violations",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=("MLPERF06-BP04", "MLPERF06-BP03", "MLPERF06-BP05", "MLOPS01-BP03"),
    needs=(Kind.MONITORING_SCHEDULES,),
    optional=(Kind.MONITORING_EXECUTIONS, Kind.ENDPOINTS),
    remediation=(
        "Read constraint_violations.json under the schedule's S3 output, decide whether the "
        "data drifted (retrain and redeploy) or the baseline is too strict (re-baseline), and "
        "route violations to an owner with a CloudWatch alarm on the monitor's metrics."
    ),
)
def model_monitor_violations_detected(
    inv: Inventory, *, violation_streak: Annotated[int, AT_LEAST_1] = 3
) -> Iterator[Verdict]:
    """PASS when the schedule's last finished execution Completed without violations; FAIL
    (medium) when it was CompletedWithViolations, raised to high when the last
    `violation_streak` finished executions all found violations and the monitored endpoint
    has not been updated since the first of them (nobody retrained or redeployed). The streak
    needs execution history and the endpoint, both optional inputs: without either (not asked
    for, or asked for and not collected) the FAIL stays medium and the evidence says why.
    NOT_APPLICABLE when the schedule has not run yet or the judged execution failed or was
    stopped (no verdict on the data). UNKNOWN while the only known execution is still running
    (the reason names the history's failed call when it was asked for and not collected).

    Violations are the monitor telling you the model sees data unlike its baseline: the lens
    asks that degradation be detected and handled, not just recorded.
    """
    for s in inv.of(Kind.MONITORING_SCHEDULES):
        judged, finished, note, history = _judged(inv, s)
        evidence = _execution_evidence(judged)
        if note:
            evidence["note"] = note
        status = evidence["MonitoringExecutionStatus"]
        if judged is None:
            yield not_applicable(s, "the schedule has not run yet")
        elif status == "CompletedWithViolations":
            streak = _leading(finished, status) if finished else []
            evidence["violating_in_a_row"] = len(streak) if finished is not None else None
            if finished is None:
                evidence["streak"] = f"not judged: {history.why}"
            first = as_datetime(streak[-1].get("ScheduledTime")) if streak else None
            redeployed, why = (_redeployed_since(inv, s, first)
                               if len(streak) >= violation_streak else (None, ""))
            if len(streak) >= violation_streak and redeployed is False:
                yield failed(s, f"{len(streak)} executions in a row found violations and the "
                             "endpoint has not been redeployed since", severity=Severity.HIGH,
                             **evidence)
            else:
                if len(streak) >= violation_streak:
                    evidence["endpoint_updated_since_streak"] = redeployed
                    if why:
                        evidence["endpoint"] = f"not judged: {why}"
                yield failed(s, "last monitoring execution found constraint violations",
                             **evidence)
        elif status == "Completed":
            yield passed(s, "last monitoring execution found no violations", **evidence)
        elif status in ("Failed", "Stopped"):
            yield not_applicable(s, f"last execution {status}, so it judged no data",
                                 **evidence)
        else:
            yield unknown(s, f"last execution is {status or 'in an unreported state'}"
                          + (f" ({history.why})" if history.why else ""), **evidence)


_DAY_NAMES = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
ONE_OFF = timedelta(0)


def _expand(field: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    """The values a cron field selects; raises ValueError on syntax this parser does not know."""
    out: set[int] = set()
    for part in field.upper().split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            start, stop = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            start, stop = _value(a, names), _value(b, names)
        else:
            start = _value(base, names)
            stop = high if step_text else start
        if not (low <= start <= stop <= high) or step < 1:
            raise ValueError(field)
        out.update(range(start, stop + 1, step))
    return out


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text in names:
        return names[text]
    return int(text)


def _largest_gap(values: set[int], period: int) -> int:
    ordered = sorted(values)
    gaps = [b - a for a, b in pairwise(ordered)]
    gaps.append(ordered[0] + period - ordered[-1])
    return max(gaps)


def schedule_interval(expression: str) -> timedelta | None:
    """The longest expected gap between runs of a Model Monitor schedule expression.

    `ONE_OFF` for `NOW` (a single run), None when the expression is not understood. Cron uses
    AWS's six fields (minute hour day-of-month month day-of-week year); runs on specific days of
    the month are taken as monthly (31 days), which errs towards not flagging staleness.
    """
    text = expression.strip()
    if text.upper() == "NOW":
        return ONE_OFF
    m = re.fullmatch(r"cron\((.+)\)", text, re.IGNORECASE)
    if not m:
        return None
    fields = m.group(1).split()
    if len(fields) not in (5, 6):
        return None
    minute, hour, dom, month, dow = fields[:5]
    year = fields[5] if len(fields) == 6 else "*"
    try:
        if month not in ("*", "?") or year not in ("*", "?") or not minute.isdigit():
            return None
        hours = _expand(hour, 0, 23)
        if dom not in ("*", "?"):
            return timedelta(days=31) if dow in ("*", "?") else None
        if dow not in ("*", "?"):
            days = _expand(dow, 1, 7, _DAY_NAMES)
            return timedelta(days=_largest_gap(days, 7)) if len(days) < 7 else timedelta(
                hours=_largest_gap(hours, 24))
        return timedelta(hours=_largest_gap(hours, 24))
    except ValueError:
        return None


@check(
    title="Model Monitor schedule has not run when it should have",
    severity=Severity.MEDIUM,
    effort="config",
    lens=("MLOPS06-BP02",),
    needs=(Kind.MONITORING_SCHEDULES,),
    remediation=(
        "Check the schedule's status and the SageMaker processing-job quota in the region, fix "
        "what blocks new executions (quota, deleted role, deleted endpoint), and recreate the "
        "schedule if it no longer launches jobs."
    ),
)
def model_monitor_execution_stale(inv: Inventory) -> Iterator[Verdict]:
    """For Scheduled schedules: PASS when the last execution's ScheduledTime is within twice the
    interval the ScheduleExpression implies (or, with no execution yet, the schedule is younger
    than twice the interval). FAIL when older. NOT_APPLICABLE for schedules not Scheduled and
    for one-off (`NOW`) schedules. UNKNOWN when the expression cannot be parsed or the times
    are not reported. "Now" is the inventory's collection time.

    A schedule that stopped launching executions silently leaves the endpoint unmonitored.
    """
    now = inv.collected_at
    for s in inv.of(Kind.MONITORING_SCHEDULES):
        if s.get("MonitoringScheduleStatus") != "Scheduled":
            yield not_applicable(s, f"schedule is {s.get('MonitoringScheduleStatus')}")
            continue
        config = mapping(mapping(s.get("MonitoringScheduleConfig")).get("ScheduleConfig"))
        expression = config.get("ScheduleExpression")
        interval = schedule_interval(expression) if isinstance(expression, str) else None
        evidence: dict[str, Any] = {"ScheduleExpression": expression}
        if interval is None:
            yield unknown(s, "the schedule expression is missing or not understood",
                          **evidence)
            continue
        if interval == ONE_OFF:
            yield not_applicable(s, "one-off schedule", **evidence)
            continue
        limit = 2 * interval
        evidence["expected_interval_hours"] = interval.total_seconds() / 3600
        last = as_datetime(mapping(last_execution(s)).get("ScheduledTime"))
        if last is not None:
            evidence["last_scheduled"] = last.isoformat()
            if now - last > limit:
                yield failed(s, f"last execution was scheduled {_ago(now - last)} ago, more "
                             "than twice the schedule interval", **evidence)
            else:
                yield passed(s, "executions are on schedule", **evidence)
            continue
        created = as_datetime(s.get("CreationTime"))
        if created is None:
            yield unknown(s, "no execution, and the schedule's age is not reported", **evidence)
        elif now - created > limit:
            yield failed(s, f"no execution in the {_ago(now - created)} since creation",
                         CreationTime=created.isoformat(), **evidence)
        else:
            yield passed(s, "no execution is due yet", CreationTime=created.isoformat(),
                         **evidence)


def _ago(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.0f} hours"


CHECKS = (
    model_monitor_last_execution_failed,
    model_monitor_violations_detected,
    model_monitor_execution_stale,
)
