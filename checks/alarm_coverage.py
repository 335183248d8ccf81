"""Checks that endpoints and monitors are watched by CloudWatch alarms that page someone.

An alarm covers an endpoint variant when one of its metrics (top level, or a metric query in
metric math or an anomaly band) is in AWS/SageMaker with dimensions EndpointName=<endpoint>
and VariantName=<variant>: SageMaker publishes invocation metrics with both, so an alarm on the
endpoint alone never receives data. Only alarms whose actions are enabled and non-empty, or
that feed a composite alarm which has them, count as coverage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from agent.domain import Inventory, Kind, Resource, Severity
from checks._alarm_index import (
    MONITOR_NAMESPACE,
    SAGEMAKER_NAMESPACE,
    AlarmIndex,
    AlarmInfo,
    MetricRef,
)
from checks._helpers import SERVING, is_async, monitor_job, monitor_target, variants
from checks.base import Verdict, check, failed, not_applicable, passed, unknown

ERROR_METRICS = ("Invocation5XXErrors", "InvocationModelErrors")
# Asynchronous endpoints also report failed requests as InvocationFailures.
ASYNC_ERROR_METRICS = (*ERROR_METRICS, "InvocationFailures")
LATENCY_METRICS = ("ModelLatency", "OverheadLatency")
# Asynchronous endpoints do not publish OverheadLatency; their queueing shows in these.
ASYNC_LATENCY_METRICS = ("ModelLatency", "TotalProcessingTime", "TimeInBacklog")
# ModelLatency and OverheadLatency are in microseconds: a threshold below this was set in ms.
_MICROSECOND_FLOOR = 1000.0


# Turns a covered variant into a verdict of its own (e.g. FAIL for thresholds in the wrong unit),
# or None to let it pass.
Judge = Callable[[Resource, str, list[AlarmInfo], dict[str, Any]], Verdict | None]


def _names(alarms: list[AlarmInfo]) -> list[str]:
    return sorted(a.name for a in alarms)


def _variant_coverage(
    inv: Inventory,
    metrics: tuple[str, ...],
    async_metrics: tuple[str, ...],
    what: str,
    alarm_account_ids: tuple[str, ...],
    judge: Judge | None = None,
) -> Iterator[Verdict]:
    """One verdict per variant of each serving endpoint; `judge(ep, variant, alarms, evidence)`
    may turn a covered variant into a FAIL (e.g. thresholds in the wrong unit)."""
    index = AlarmIndex.of(inv)
    for ep in inv.of(Kind.ENDPOINTS):
        status = ep.get("EndpointStatus")
        if status not in SERVING:
            yield not_applicable(ep, f"endpoint is {status or 'in an unreported state'}")
            continue
        vs = variants(ep)
        if not vs:
            yield unknown(ep, "the endpoint reports no variants")
            continue
        wanted = async_metrics if is_async(ep) else metrics
        for v in vs:
            dims = {"EndpointName": ep.name, "VariantName": v.name}
            covering = index.covering(SAGEMAKER_NAMESPACE, wanted, dims)
            paging = [a for a in covering if a.effective]
            endpoint_only = index.partial(SAGEMAKER_NAMESPACE, wanted,
                                          {"EndpointName": ep.name}, "VariantName")
            evidence: dict[str, Any] = {
                "metrics": list(wanted),
                "alarms": _names(paging),
                "alarms_without_actions": _names([a for a in covering if not a.effective]),
                "endpoint_only_alarms": _names(endpoint_only),
            }
            if paging:
                verdict = judge(ep, v.name, paging, evidence) if judge else None
                yield verdict or passed(ep, f"{what} alarm {', '.join(evidence['alarms'])} "
                                        "covers the variant", sub=v.name, **evidence)
            elif alarm_account_ids:
                yield unknown(ep, f"no {what} alarm in this account; alarms may live in "
                              f"monitoring account(s) {', '.join(alarm_account_ids)}, which are "
                              "not inventoried", sub=v.name, **evidence)
            else:
                reason = f"no {what} alarm with actions covers variant {v.name}"
                if evidence["endpoint_only_alarms"]:
                    reason += " (alarms without a VariantName dimension receive no data)"
                elif evidence["alarms_without_actions"]:
                    reason += " (covering alarms notify no one)"
                yield failed(ep, reason, sub=v.name,
                             severity=Severity.LOW if v.shadow else None, **evidence)


@check(
    title="SageMaker endpoint variant has no alarm on errors",
    severity=Severity.MEDIUM,
    effort="config",
    lens=("MLOPS05-BP01", "MLOPS06-BP02", "MLREL04-BP02"),
    needs=(Kind.ENDPOINTS, Kind.ALARMS),
    remediation=(
        "Create a CloudWatch alarm per variant on AWS/SageMaker Invocation5XXErrors (Sum, or a "
        "metric-math error rate over Invocations) with dimensions EndpointName and VariantName, "
        "TreatMissingData notBreaching, and an SNS or incident-manager action."
    ),
)
def sagemaker_endpoint_no_error_alarm(
    inv: Inventory, *, alarm_account_ids: tuple[str, ...] = ()
) -> Iterator[Verdict]:
    """Per production and shadow variant of a serving endpoint: PASS when an alarm with actions
    (or feeding a composite alarm with actions) watches Invocation5XXErrors or
    InvocationModelErrors (InvocationFailures too on asynchronous endpoints) in AWS/SageMaker
    with both EndpointName and VariantName dimensions, directly or in metric math. FAIL
    otherwise (low for shadow variants); an alarm naming only the endpoint does not count, as
    SageMaker publishes these metrics per variant. UNKNOWN instead of FAIL when
    `alarm_account_ids` names a central monitoring account, whose alarms are not inventoried.
    Endpoints not serving are NOT_APPLICABLE.

    Without an error alarm a broken model answers 5XX until a user reports it.
    """
    yield from _variant_coverage(inv, ERROR_METRICS, ASYNC_ERROR_METRICS, "error",
                                 alarm_account_ids)


def _latency_units(ep: Resource, variant: str, alarms: list[AlarmInfo],
                   evidence: dict[str, Any]) -> Verdict | None:
    """FAIL (low) when every covering alarm is a plain latency alarm with a threshold that only
    makes sense in milliseconds; metric math and anomaly bands are given the benefit of doubt."""
    def plausible(a: AlarmInfo) -> bool:
        threshold = a.threshold()
        return not a.single_metric() or threshold is None or threshold >= _MICROSECOND_FLOOR

    if any(plausible(a) for a in alarms):
        return None
    evidence["thresholds"] = {a.name: a.threshold() for a in alarms}
    return failed(ep, "latency alarm thresholds are below 1000: ModelLatency is in "
                  "microseconds, so they were probably set in milliseconds and fire constantly",
                  sub=variant, severity=Severity.LOW, **evidence)


@check(
    title="SageMaker endpoint variant has no alarm on latency",
    severity=Severity.MEDIUM,
    effort="config",
    lens=("MLOPS05-BP01", "MLPERF05-BP02", "MLPERF06-BP04"),
    needs=(Kind.ENDPOINTS, Kind.ALARMS),
    remediation=(
        "Create a CloudWatch alarm per variant on AWS/SageMaker ModelLatency (ExtendedStatistic "
        "p90 or p99) with dimensions EndpointName and VariantName, a threshold in microseconds, "
        "and an SNS or incident-manager action."
    ),
)
def sagemaker_endpoint_no_latency_alarm(
    inv: Inventory, *, alarm_account_ids: tuple[str, ...] = ()
) -> Iterator[Verdict]:
    """Per production and shadow variant of a serving endpoint: PASS when an alarm with actions
    (or feeding a composite alarm with actions) watches ModelLatency or OverheadLatency
    (ModelLatency, TotalProcessingTime or TimeInBacklog on asynchronous endpoints, which do not
    publish OverheadLatency) in AWS/SageMaker with EndpointName and VariantName dimensions,
    directly or in metric math. FAIL otherwise (low for shadow variants), and FAIL (low) when
    every such alarm is a single-metric alarm with a threshold under 1000 (the metrics are in
    microseconds). UNKNOWN instead of FAIL when `alarm_account_ids` names a central monitoring
    account. Endpoints not serving are NOT_APPLICABLE.

    Latency regressions are the first sign of an overloaded or degraded model.
    """
    yield from _variant_coverage(inv, LATENCY_METRICS, ASYNC_LATENCY_METRICS, "latency",
                                 alarm_account_ids, _latency_units)


@check(
    title="Model Monitor results raise no alarm",
    severity=Severity.MEDIUM,
    effort="config",
    lens=("MLPERF06-BP04", "MLOPS06-BP02", "MLPERF06-BP05"),
    needs=(Kind.MONITORING_SCHEDULES, Kind.ALARMS),
    remediation=(
        "Keep publish_cloudwatch_metrics Enabled in the job definition's environment and create "
        "CloudWatch alarms with actions on the monitor's metrics (e.g. feature_baseline_drift_"
        "<feature> in /aws/sagemaker/Endpoints/data-metrics, dimensions Endpoint and "
        "MonitoringSchedule)."
    ),
)
def model_monitor_metrics_not_alarmed(
    inv: Inventory, *, alarm_account_ids: tuple[str, ...] = ()
) -> Iterator[Verdict]:
    """For Scheduled schedules: PASS when an alarm with actions (or feeding a composite alarm
    with actions) watches a Model Monitor metric (namespace matching
    `/aws/sagemaker/Endpoint(s)|ModelMonitoring/...-metric(s)`, any case) whose dimensions name
    the schedule's endpoint (Endpoint or EndpointName) or the schedule itself
    (MonitoringSchedule or ScheduleName). FAIL when the job definition sets
    publish_cloudwatch_metrics to Disabled, or when no such alarm exists. UNKNOWN instead of
    FAIL when `alarm_account_ids` names a central monitoring account. NOT_APPLICABLE for
    schedules that are not Scheduled.

    Violations nobody is told about are violations nobody acts on: the lens asks that drift be
    detected and handled.
    """
    index = AlarmIndex.of(inv)
    for s in inv.of(Kind.MONITORING_SCHEDULES):
        if s.get("MonitoringScheduleStatus") != "Scheduled":
            yield not_applicable(s, f"schedule is {s.get('MonitoringScheduleStatus')}")
            continue
        job = monitor_job(s)
        publish = job.environment.get("publish_cloudwatch_metrics") if job else None
        endpoint = monitor_target(s).endpoint

        def names_target(ref: MetricRef, schedule: str = s.name,
                         endpoint: str | None = endpoint) -> bool:
            if not MONITOR_NAMESPACE.match(ref.namespace):
                return False
            if ref.account_id not in (None, inv.account_id):
                return False
            d = ref.dimensions
            return (endpoint is not None and endpoint in (d.get("Endpoint"), d.get("EndpointName"))
                    ) or schedule in (d.get("MonitoringSchedule"), d.get("ScheduleName"))

        watching = index.matching(names_target)
        paging = [a for a in watching if a.effective]
        evidence: dict[str, Any] = {
            "publish_cloudwatch_metrics": publish, "EndpointName": endpoint,
            "alarms": _names(paging),
            "alarms_without_actions": _names([a for a in watching if not a.effective])}
        if publish == "Disabled":
            yield failed(s, "the monitor does not publish CloudWatch metrics, so nothing can "
                         "alarm on its results", **evidence)
        elif paging:
            yield passed(s, f"alarm {', '.join(evidence['alarms'])} watches the monitor's "
                         "metrics", **evidence)
        elif alarm_account_ids:
            yield unknown(s, "no alarm in this account; alarms may live in monitoring "
                          f"account(s) {', '.join(alarm_account_ids)}", **evidence)
        else:
            yield failed(s, "no alarm with actions watches the monitor's metrics", **evidence)


CHECKS = (
    sagemaker_endpoint_no_error_alarm,
    sagemaker_endpoint_no_latency_alarm,
    model_monitor_metrics_not_alarmed,
)
