"""Pure tests for alarm coverage (EP-12, EP-13, MM-10), alarm hygiene (CW-01 to CW-04) and the
alarm index they share (metric math, anomaly bands, composite parents)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from agent.domain import Kind, Resource, Severity, Status
from checks import alarm_coverage as cov
from checks import alarms as cw
from checks._alarm_index import AlarmIndex, composite_children
from tests.factories import ACCOUNT, NOW, gap, inv, res, run, statuses
from tests.samples import sample

TOPIC = "arn:aws:sns:us-east-1:111122223333:ml-oncall"


def from_sample(name: str) -> list[Resource]:
    """Alarms of a DescribeAlarms sample (all pages), typed as the collector types them."""
    raw = sample(name)
    pages = raw.get("pages") or [raw["response"]]
    out = []
    for page in pages:
        out += [res(Kind.ALARMS, a["AlarmName"], **a, AlarmType="MetricAlarm")
                for a in page.get("MetricAlarms", [])]
        out += [res(Kind.ALARMS, a["AlarmName"], **a, AlarmType="CompositeAlarm")
                for a in page.get("CompositeAlarms", [])]
    return out


def alarm(name: str, metric: str = "Invocation5XXErrors", namespace: str = "AWS/SageMaker",
          dims: dict[str, str] | None = None, actions: bool = True, **data: Any) -> Resource:
    dims = {"EndpointName": "ep", "VariantName": "AllTraffic"} if dims is None else dims
    data.setdefault("ActionsEnabled", True)
    return res(Kind.ALARMS, name, AlarmName=name, AlarmType="MetricAlarm", MetricName=metric,
               Namespace=namespace, Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
               AlarmActions=[TOPIC] if actions else [], **data)


def composite(name: str, rule: str, actions: bool = True) -> Resource:
    return res(Kind.ALARMS, name, AlarmName=name, AlarmType="CompositeAlarm", AlarmRule=rule,
               ActionsEnabled=True, AlarmActions=[TOPIC] if actions else [])


def endpoint(name: str = "ep", *variants: str, status: str = "InService",
             shadows: tuple[str, ...] = (), **data: Any) -> Resource:
    return res(Kind.ENDPOINTS, name, EndpointName=name, EndpointStatus=status,
               ProductionVariants=[{"VariantName": v} for v in variants or ("AllTraffic",)],
               ShadowProductionVariants=[{"VariantName": v} for v in shadows], **data)


def multivariant_sample() -> Resource:
    data = sample("sagemaker_describe_endpoint_inservice_multivariant")["response"]
    return res(Kind.ENDPOINTS, data["EndpointName"], **data)


# --- the alarm index ---------------------------------------------------------------------------

def test_index_composite_rule_parsing_and_nested_parents() -> None:
    """ALARM() references by name, quoted name or ARN are children; OK() ones are not."""
    assert composite_children(res(Kind.ALARMS, "c", AlarmRule=(
        'ALARM("a") OR ALARM(b) AND OK(c) OR '
        "ALARM('arn:aws:cloudwatch:us-east-1:1:alarm:d')"))) == ("a", "b", "d")
    index = AlarmIndex([alarm("leaf", actions=False),
                        composite("mid", "ALARM(leaf)", actions=False),
                        composite("top", 'ALARM("mid")')], ACCOUNT)
    assert index.alarms["leaf"].effective and not index.alarms["leaf"].actioned
    assert index.alarms["mid"].effective


def test_index_reads_metric_math_and_cross_account_queries() -> None:
    """Metric-math queries are indexed; another account's metrics do not cover ours."""
    index = AlarmIndex(from_sample("cloudwatch_describe_alarms_metric_math"), ACCOUNT)
    dims = {"EndpointName": "reco-api", "VariantName": "AllTraffic"}
    assert [a.name for a in index.covering("AWS/SageMaker", ["Invocation5XXErrors"], dims)] == [
        "reco-api-5xx-rate"]
    foreign = res(Kind.ALARMS, "x", AlarmType="MetricAlarm", Metrics=[{
        "Id": "m1", "AccountId": "444455556666", "MetricStat": {"Metric": {
            "Namespace": "AWS/SageMaker", "MetricName": "Invocation5XXErrors",
            "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]}}}])
    assert AlarmIndex([foreign], ACCOUNT).covering(
        "AWS/SageMaker", ["Invocation5XXErrors"], dims) == []


# --- EP-12 sagemaker_endpoint_no_error_alarm -------------------------------------------------

def test_error_alarm_metric_math_sample_covers_variant() -> None:
    """The 5XX-rate metric-math sample covers reco-api/AllTraffic."""
    results = run(cov.sagemaker_endpoint_no_error_alarm,
                  inv(endpoint("reco-api"), *from_sample("cloudwatch_describe_alarms_metric_math")))
    assert statuses(results) == {"reco-api/AllTraffic": Status.PASS}


def test_error_alarm_endpoint_only_alarm_does_not_cover_variant() -> None:
    """An alarm without the VariantName dimension receives no data and covers nothing."""
    results = run(cov.sagemaker_endpoint_no_error_alarm,
                  inv(endpoint(), alarm("ep-only", dims={"EndpointName": "ep"})))
    assert statuses(results) == {"ep/AllTraffic": Status.FAIL}
    assert results[0].evidence["endpoint_only_alarms"] == ["ep-only"]
    assert "VariantName" in results[0].reason


def test_error_alarm_per_variant_and_shadow() -> None:
    """Each variant needs its own alarm; an uncovered shadow variant fails low."""
    results = run(cov.sagemaker_endpoint_no_error_alarm, inv(
        endpoint("ep", "a", "b", shadows=("candidate",)),
        alarm("a-5xx", dims={"EndpointName": "ep", "VariantName": "a"}),
    ))
    assert statuses(results) == {"ep/a": Status.PASS, "ep/b": Status.FAIL,
                                 "ep/candidate": Status.FAIL}
    sev = {r.sub_resource: r.severity for r in results}
    assert sev["b"] is Severity.MEDIUM and sev["candidate"] is Severity.LOW


def test_error_alarm_actions_and_composite_parents() -> None:
    """A silent alarm counts only through a composite parent with actions."""
    silent = alarm("quiet", actions=False)
    alone = run(cov.sagemaker_endpoint_no_error_alarm, inv(endpoint(), silent))
    assert statuses(alone) == {"ep/AllTraffic": Status.FAIL}
    assert alone[0].evidence["alarms_without_actions"] == ["quiet"]
    parented = run(cov.sagemaker_endpoint_no_error_alarm,
                   inv(endpoint(), silent, composite("page", "ALARM(quiet)")))
    assert statuses(parented) == {"ep/AllTraffic": Status.PASS}
    disabled = run(cov.sagemaker_endpoint_no_error_alarm,
                   inv(endpoint(), alarm("muted", ActionsEnabled=False)))
    assert statuses(disabled) == {"ep/AllTraffic": Status.FAIL}


def test_error_alarm_async_metrics_scope_and_accounts() -> None:
    """InvocationFailures counts for async endpoints only; central accounts make it UNKNOWN."""
    failures = alarm("fails", metric="InvocationFailures")
    async_ep = endpoint(AsyncInferenceConfig={"OutputConfig": {}})
    assert statuses(run(cov.sagemaker_endpoint_no_error_alarm, inv(async_ep, failures))) == {
        "ep/AllTraffic": Status.PASS}
    assert statuses(run(cov.sagemaker_endpoint_no_error_alarm, inv(endpoint(), failures))) == {
        "ep/AllTraffic": Status.FAIL}
    central = run(cov.sagemaker_endpoint_no_error_alarm, inv(endpoint(), kinds=[Kind.ALARMS]),
                  alarm_account_ids=("444455556666",))
    assert statuses(central) == {"ep/AllTraffic": Status.UNKNOWN}
    assert statuses(run(cov.sagemaker_endpoint_no_error_alarm,
                        inv(endpoint(status="Failed"), kinds=[Kind.ALARMS]))) == {
        "ep": Status.NOT_APPLICABLE}
    assert statuses(run(cov.sagemaker_endpoint_no_error_alarm,
                        inv(endpoint(), gaps=[gap(Kind.ALARMS)]))) == {"ep": Status.UNKNOWN}


# --- EP-13 sagemaker_endpoint_no_latency_alarm -----------------------------------------------

def test_latency_alarm_sample_covers_one_variant() -> None:
    """The ModelLatency sample alarm covers variant-a of the sample endpoint, not variant-b."""
    results = run(cov.sagemaker_endpoint_no_latency_alarm, inv(
        multivariant_sample(), *from_sample("cloudwatch_describe_alarms_metric_endpoint_variant")))
    assert statuses(results) == {"Churn-Realtime-AB/variant-a": Status.PASS,
                                 "Churn-Realtime-AB/variant-b": Status.FAIL}


def test_latency_alarm_threshold_in_milliseconds_fails_low() -> None:
    """A 500 threshold on ModelLatency (microseconds) was set in milliseconds."""
    results = run(cov.sagemaker_endpoint_no_latency_alarm,
                  inv(endpoint(), alarm("lat", metric="ModelLatency", Threshold=500.0)))
    assert statuses(results) == {"ep/AllTraffic": Status.FAIL}
    assert results[0].severity is Severity.LOW


def test_latency_alarm_anomaly_band_passes() -> None:
    """An anomaly-detection alarm has no Threshold; its band metric still covers the variant."""
    band = res(Kind.ALARMS, "band", AlarmType="MetricAlarm", ActionsEnabled=True,
               AlarmActions=[TOPIC], ThresholdMetricId="ad1",
               ComparisonOperator="GreaterThanUpperThreshold", Metrics=[
                   {"Id": "m1", "ReturnData": True, "MetricStat": {"Metric": {
                       "Namespace": "AWS/SageMaker", "MetricName": "ModelLatency",
                       "Dimensions": [{"Name": "EndpointName", "Value": "ep"},
                                      {"Name": "VariantName", "Value": "AllTraffic"}]},
                       "Period": 300, "Stat": "p90"}},
                   {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 2)",
                    "ReturnData": True}])
    results = run(cov.sagemaker_endpoint_no_latency_alarm, inv(endpoint(), band))
    assert statuses(results) == {"ep/AllTraffic": Status.PASS}


def test_latency_alarm_async_endpoints_ignore_overhead_latency() -> None:
    """Async endpoints publish no OverheadLatency; TotalProcessingTime counts instead."""
    async_ep = endpoint(AsyncInferenceConfig={"OutputConfig": {}})
    overhead = alarm("overhead", metric="OverheadLatency", Threshold=100000.0)
    processing = alarm("processing", metric="TotalProcessingTime", Threshold=600000.0)
    assert statuses(run(cov.sagemaker_endpoint_no_latency_alarm, inv(async_ep, overhead))) == {
        "ep/AllTraffic": Status.FAIL}
    assert statuses(run(cov.sagemaker_endpoint_no_latency_alarm,
                        inv(async_ep, processing))) == {"ep/AllTraffic": Status.PASS}


# --- MM-10 model_monitor_metrics_not_alarmed -------------------------------------------------

def _schedule(name: str = "dq", status: str = "Scheduled", publish: str | None = None) -> Resource:
    env = {"publish_cloudwatch_metrics": publish} if publish else {}
    return res(Kind.MONITORING_SCHEDULES, name, MonitoringScheduleStatus=status,
               EndpointName="ep", MonitoringScheduleConfig={"MonitoringJobDefinition": {
                   "Environment": env}})


def test_monitor_metrics_alarmed_namespace_spellings() -> None:
    """Drift alarms in any spelling of the data-metrics namespace cover the monitor."""
    spellings = ("/aws/sagemaker/Endpoints/data-metrics", "aws/sagemaker/Endpoint/data-metric")
    for namespace in spellings:
        drift = alarm("drift", metric="feature_baseline_drift_age", namespace=namespace,
                      dims={"Endpoint": "ep", "MonitoringSchedule": "dq"})
        results = run(cov.model_monitor_metrics_not_alarmed, inv(_schedule(), drift))
        assert statuses(results) == {"dq": Status.PASS}, namespace


def test_monitor_metrics_not_alarmed_failures_and_scope() -> None:
    """No alarm or disabled metrics fail; stopped schedules are N/A; central accounts UNKNOWN."""
    other = alarm("other", metric="feature_baseline_drift_age",
                  namespace="/aws/sagemaker/Endpoints/data-metrics",
                  dims={"Endpoint": "other-ep", "MonitoringSchedule": "x"})
    results = run(cov.model_monitor_metrics_not_alarmed, inv(
        _schedule("none"), _schedule("muted", publish="Disabled"),
        _schedule("off", status="Stopped"), other))
    assert statuses(results) == {"none": Status.FAIL, "muted": Status.FAIL,
                                 "off": Status.NOT_APPLICABLE}
    central = run(cov.model_monitor_metrics_not_alarmed, inv(_schedule(), kinds=[Kind.ALARMS]),
                  alarm_account_ids=("444455556666",))
    assert statuses(central) == {"dq": Status.UNKNOWN}


# --- CW-01 cloudwatch_alarm_no_actions -------------------------------------------------------

def test_no_actions_paginated_sample_and_exemptions() -> None:
    """Sample alarms have actions; children of paging composites, rollback and step-scaling
    alarms pass; a bare SageMaker alarm fails high and a bare EC2 alarm medium."""
    deploy = {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "rollback"}]}}
    results = run(cw.cloudwatch_alarm_no_actions, inv(
        *from_sample("cloudwatch_describe_alarms_paginated_mixed"),
        alarm("child", actions=False), composite("parent", "ALARM(child)"),
        alarm("rollback", actions=False), endpoint(LastDeploymentConfig=deploy),
        alarm("stepped", actions=False),
        res(Kind.SCALING_POLICIES, "step", Alarms=[{"AlarmName": "stepped"}]),
        alarm("bare-ml", actions=False),
        alarm("bare-ec2", metric="CPUUtilization", namespace="AWS/EC2",
              dims={"InstanceId": "i-1"}, actions=False),
    ))
    expected = {name: Status.PASS for name in (
        "a-cpu", "b-disk", "z-any-endpoint-trouble", "child", "parent", "rollback", "stepped")}
    expected |= {"bare-ml": Status.FAIL, "bare-ec2": Status.FAIL}
    got = {r.resource_arn.rsplit("/", 1)[1]: r for r in results}
    assert {k: r.status for k, r in got.items()} == expected
    assert got["bare-ml"].severity is Severity.HIGH
    assert got["bare-ec2"].severity is Severity.MEDIUM


def test_no_actions_composite_without_actions_fails() -> None:
    """A composite alarm without actions of its own or a paging parent fails."""
    results = run(cw.cloudwatch_alarm_no_actions,
                  inv(alarm("a"), composite("c", "ALARM(a)", actions=False),
                      kinds=[Kind.ENDPOINTS, Kind.SCALING_POLICIES]))
    assert statuses(results) == {"a": Status.PASS, "c": Status.FAIL}


# --- CW-02 cloudwatch_alarm_actions_disabled -------------------------------------------------

def test_actions_disabled_states() -> None:
    """Enabled passes, disabled fails with its age, unreported is UNKNOWN."""
    results = run(cw.cloudwatch_alarm_actions_disabled, inv(
        alarm("on"),
        alarm("off", ActionsEnabled=False,
              AlarmConfigurationUpdatedTimestamp=NOW - timedelta(days=40)),
        res(Kind.ALARMS, "vague", AlarmType="MetricAlarm"),
    ))
    assert statuses(results) == {"on": Status.PASS, "off": Status.FAIL, "vague": Status.UNKNOWN}
    off = next(r for r in results if r.status is Status.FAIL)
    assert off.evidence["days_since_change"] == 40 and off.severity is Severity.HIGH


# --- CW-03 cloudwatch_alarm_stuck_insufficient_data ------------------------------------------

def test_insufficient_data_sample_is_stuck() -> None:
    """The sample latency alarm has lacked data since 2024: FAIL, citing TreatMissingData."""
    results = run(cw.cloudwatch_alarm_stuck_insufficient_data,
                  inv(*from_sample("cloudwatch_describe_alarms_metric_endpoint_variant")))
    assert statuses(results) == {"churn-ab-variant-a-latency": Status.FAIL}
    assert any("TreatMissingData" in c for c in results[0].evidence["likely_causes"])


def test_insufficient_data_states_and_causes() -> None:
    """Recent gaps pass; a missing VariantName is named; managed and composite alarms are N/A."""
    old = NOW - timedelta(days=30)
    results = run(cw.cloudwatch_alarm_stuck_insufficient_data, inv(
        alarm("ok", StateValue="OK"),
        alarm("recent", StateValue="INSUFFICIENT_DATA",
              StateTransitionedTimestamp=NOW - timedelta(days=2)),
        alarm("ep-only", dims={"EndpointName": "ep"}, StateValue="INSUFFICIENT_DATA",
              StateUpdatedTimestamp=old, TreatMissingData="notBreaching"),
        alarm("broken", StateValue="OK", EvaluationState="EVALUATION_ERROR"),
        alarm("TargetTracking-endpoint/ep-AlarmLow-1", StateValue="INSUFFICIENT_DATA",
              StateTransitionedTimestamp=old),
        composite("c", "ALARM(ok)"),
        alarm("stateless"),
    ))
    assert statuses(results) == {
        "ok": Status.PASS, "recent": Status.PASS, "ep-only": Status.FAIL,
        "broken": Status.FAIL, "ep-AlarmLow-1": Status.NOT_APPLICABLE,
        "c": Status.NOT_APPLICABLE, "stateless": Status.UNKNOWN}
    ep_only = next(r for r in results if r.resource_arn.endswith("/ep-only"))
    assert ep_only.evidence["likely_causes"] == [
        "Invocation5XXErrors has no VariantName dimension, so it never receives SageMaker data"]


def test_insufficient_data_days_param() -> None:
    """insufficient_data_days is honoured: two days fail a one-day limit."""
    inventory = inv(alarm("a", StateValue="INSUFFICIENT_DATA",
                          StateTransitionedTimestamp=NOW - timedelta(days=2)))
    assert statuses(run(cw.cloudwatch_alarm_stuck_insufficient_data, inventory)) == {
        "a": Status.PASS}
    assert statuses(run(cw.cloudwatch_alarm_stuck_insufficient_data, inventory,
                        insufficient_data_days=1)) == {"a": Status.FAIL}


# --- CW-04 cloudwatch_alarm_orphaned_ml_target -----------------------------------------------

def test_orphaned_ml_target_states() -> None:
    """Alarms on deleted endpoints, schedules or Glue jobs fail; live targets pass."""
    results = run(cw.cloudwatch_alarm_orphaned_ml_target, inv(
        endpoint("Live-EP"),
        res(Kind.MONITORING_SCHEDULES, "dq", MonitoringScheduleStatus="Scheduled"),
        res(Kind.GLUE_JOBS, "etl"),
        alarm("live", dims={"EndpointName": "live-ep", "VariantName": "AllTraffic"}),
        alarm("dead", dims={"EndpointName": "deleted", "VariantName": "AllTraffic"}),
        alarm("drift", metric="feature_baseline_drift_x",
              namespace="/aws/sagemaker/Endpoints/data-metrics",
              dims={"Endpoint": "Live-EP", "MonitoringSchedule": "gone-dq"}),
        alarm("glue-dead", metric="glue.driver.aggregate.numFailedTasks", namespace="Glue",
              dims={"JobName": "old-etl", "JobRunId": "ALL", "Type": "count"}),
        alarm("glue-live", metric="glue.driver.aggregate.numFailedTasks", namespace="Glue",
              dims={"JobName": "etl", "JobRunId": "ALL", "Type": "count"}),
        alarm("ec2", metric="CPUUtilization", namespace="AWS/EC2", dims={"InstanceId": "i"}),
        alarm("account-wide", dims={}),
        kinds=[Kind.INFERENCE_COMPONENTS],
    ))
    assert statuses(results) == {
        "live": Status.PASS, "dead": Status.FAIL, "drift": Status.FAIL,
        "glue-dead": Status.FAIL, "glue-live": Status.PASS, "ec2": Status.NOT_APPLICABLE,
        "account-wide": Status.NOT_APPLICABLE}
    drift = next(r for r in results if r.resource_arn.endswith("/drift"))
    assert drift.evidence["missing"] == ["MonitoringSchedule=gone-dq"]


def test_orphaned_ml_target_cross_account_unknown_and_gap() -> None:
    """Another account's metrics cannot be judged here; a denied listing is UNKNOWN."""
    foreign = res(Kind.ALARMS, "foreign", AlarmType="MetricAlarm", Metrics=[{
        "Id": "m1", "AccountId": "444455556666", "MetricStat": {"Metric": {
            "Namespace": "AWS/SageMaker", "MetricName": "Invocations",
            "Dimensions": [{"Name": "EndpointName", "Value": "x"}]}}}])
    kinds = [Kind.ENDPOINTS, Kind.MONITORING_SCHEDULES, Kind.INFERENCE_COMPONENTS,
             Kind.GLUE_JOBS]
    assert statuses(run(cw.cloudwatch_alarm_orphaned_ml_target, inv(foreign, kinds=kinds))) == {
        "foreign": Status.UNKNOWN}
    denied = run(cw.cloudwatch_alarm_orphaned_ml_target,
                 inv(alarm("a"), kinds=kinds, gaps=[gap(Kind.ENDPOINTS)]))
    assert statuses(denied) == {"a": Status.UNKNOWN}
