"""Pure tests for Model Monitor coverage and state: EP-10, EP-11, MM-01, MM-05, and the
execution checks MM-02, MM-03, MM-04."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from agent.domain import Kind, Resource, Severity, Status
from checks import monitoring as mon
from checks import monitoring_executions as ex
from tests.factories import NOW, gap, inv, res, run, statuses
from tests.samples import sample

KEY = "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555"


def inline_schedule(**overrides: Any) -> Resource:
    """The sample: Scheduled hourly DataQuality monitor on Churn-Realtime-AB, inline job."""
    data = {**sample("sagemaker_describe_monitoring_schedule_inline_violations")["response"],
            **overrides}
    return res(Kind.MONITORING_SCHEDULES, data["MonitoringScheduleName"], **data)


def bias_definition(endpoint: str = "pricing-live", **overrides: Any) -> dict[str, Any]:
    """A DescribeModelBiasJobDefinition answer, as the collector stores it in JobDefinition."""
    return {
        "JobDefinitionName": "pricing-bias-jobdef",
        "ModelBiasBaselineConfig": {"ConstraintsResource": {"S3Uri": "s3://b/analysis.json"}},
        "ModelBiasAppSpecification": {"ImageUri": "clarify", "ConfigUri": "s3://b/cfg.json",
                                      "Environment": {"publish_cloudwatch_metrics": "Enabled"}},
        "ModelBiasJobInput": {"EndpointInput": {"EndpointName": endpoint,
                                                "LocalPath": "/opt/ml/processing/input"}},
        "ModelBiasJobOutputConfig": {"KmsKeyId": KEY, "MonitoringOutputs": []},
        "JobResources": {"ClusterConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.xlarge",
                                           "VolumeSizeInGB": 20, "VolumeKmsKeyId": KEY}},
        "NetworkConfig": {"EnableInterContainerTrafficEncryption": True,
                          "EnableNetworkIsolation": True},
        **overrides,
    }


def named_schedule(status: str = "Scheduled", *, with_endpoint_field: bool = False,
                   **definition: Any) -> Resource:
    """The pending sample (named ModelBias job definition) with its definition attached."""
    data = dict(sample("sagemaker_describe_monitoring_schedule_pending_no_executions")["response"])
    if not with_endpoint_field:
        data.pop("EndpointName")
    data.update(MonitoringScheduleStatus=status, JobDefinition=bias_definition(**definition))
    return res(Kind.MONITORING_SCHEDULES, data["MonitoringScheduleName"], **data)


def endpoint(name: str, status: str = "InService", **data: Any) -> Resource:
    data.setdefault("CreationTime", NOW - timedelta(days=60))
    data.setdefault("ProductionVariants", [{"VariantName": "AllTraffic",
                                            "CurrentInstanceCount": 1}])
    return res(Kind.ENDPOINTS, name, EndpointName=name, EndpointStatus=status, **data)


CAPTURING = {"EnableCapture": True, "CaptureStatus": "Started", "CurrentSamplingPercentage": 20}


# --- EP-10 sagemaker_endpoint_no_model_monitor -----------------------------------------------

def test_no_model_monitor_inline_sample_covers_and_bare_endpoint_fails() -> None:
    """The sample schedule covers Churn-Realtime-AB; an old endpoint with none fails."""
    results = run(mon.sagemaker_endpoint_no_model_monitor,
                  inv(inline_schedule(), endpoint("Churn-Realtime-AB"), endpoint("bare")))
    assert statuses(results) == {"Churn-Realtime-AB": Status.PASS, "bare": Status.FAIL}
    assert results[0].evidence["active"] == {"churn-dq-hourly": "DataQuality"}


def test_no_model_monitor_named_definition_resolves_endpoint() -> None:
    """A schedule naming its endpoint only inside a named job definition still counts."""
    results = run(mon.sagemaker_endpoint_no_model_monitor,
                  inv(named_schedule(), endpoint("pricing-live")))
    assert statuses(results) == {"pricing-live": Status.PASS}


def test_no_model_monitor_inactive_schedule_does_not_count() -> None:
    """Only Scheduled counts: a Stopped monitor leaves the endpoint failing, listed as inactive."""
    results = run(mon.sagemaker_endpoint_no_model_monitor, inv(
        inline_schedule(MonitoringScheduleStatus="Stopped"), endpoint("Churn-Realtime-AB")))
    assert statuses(results) == {"Churn-Realtime-AB": Status.FAIL}
    assert results[0].evidence["inactive"] == {"churn-dq-hourly": "Stopped"}


def test_no_model_monitor_grace_serverless_and_scope() -> None:
    """Young endpoints pass, serverless is N/A, non-InService N/A, missing age UNKNOWN."""
    results = run(mon.sagemaker_endpoint_no_model_monitor, inv(
        endpoint("young", CreationTime=NOW - timedelta(days=2)),
        endpoint("sls", ProductionVariants=[{"VariantName": "AllTraffic",
                                             "CurrentServerlessConfig": {"MaxConcurrency": 5}}]),
        endpoint("booting", "Creating"),
        res(Kind.ENDPOINTS, "ageless", EndpointName="ageless", EndpointStatus="InService"),
        kinds=[Kind.MONITORING_SCHEDULES],
    ))
    assert statuses(results) == {"young": Status.PASS, "sls": Status.NOT_APPLICABLE,
                                 "booting": Status.NOT_APPLICABLE, "ageless": Status.UNKNOWN}
    grace = run(mon.sagemaker_endpoint_no_model_monitor,
                inv(endpoint("young", CreationTime=NOW - timedelta(days=2)),
                    kinds=[Kind.MONITORING_SCHEDULES]), monitor_grace_days=1)
    assert statuses(grace) == {"young": Status.FAIL}


def test_no_model_monitor_unknown_when_schedules_denied() -> None:
    """A denied ListMonitoringSchedules never turns into FAIL."""
    results = run(mon.sagemaker_endpoint_no_model_monitor,
                  inv(endpoint("ep"), gaps=[gap(Kind.MONITORING_SCHEDULES)]))
    assert statuses(results) == {"ep": Status.UNKNOWN}


# --- EP-11 sagemaker_endpoint_monitor_without_data_capture -----------------------------------

def test_monitor_without_capture_states() -> None:
    """Capture Started passes; no capture or Stopped capture fails high."""
    chk = mon.sagemaker_endpoint_monitor_without_data_capture
    ok = run(chk, inv(inline_schedule(), endpoint("Churn-Realtime-AB",
                                                  DataCaptureConfig=CAPTURING)))
    assert statuses(ok) == {"churn-dq-hourly": Status.PASS}
    blind = run(chk, inv(inline_schedule(), endpoint("Churn-Realtime-AB")))
    assert statuses(blind) == {"churn-dq-hourly": Status.FAIL}
    assert blind[0].severity is Severity.HIGH
    stopped = run(chk, inv(inline_schedule(), endpoint(
        "Churn-Realtime-AB", DataCaptureConfig={**CAPTURING, "CaptureStatus": "Stopped"})))
    assert statuses(stopped) == {"churn-dq-hourly": Status.FAIL}


def test_monitor_without_capture_scope() -> None:
    """Batch monitors, gone endpoints and stopped schedules are N/A; an undescribed endpoint
    leaves its capture state UNKNOWN."""
    chk = mon.sagemaker_endpoint_monitor_without_data_capture
    batch = res(Kind.MONITORING_SCHEDULES, "batch", MonitoringScheduleStatus="Scheduled",
                JobDefinition={"DataQualityJobInput": {"BatchTransformInput": {
                    "DataCapturedDestinationS3Uri": "s3://b/c"}}})
    results = run(chk, inv(
        batch,
        named_schedule(),
        inline_schedule(MonitoringScheduleStatus="Stopped", MonitoringScheduleName="off"),
        res(Kind.MONITORING_SCHEDULES, "x", MonitoringScheduleStatus="Scheduled",
            EndpointName="half"),
        res(Kind.ENDPOINTS, "half", incomplete="throttled", EndpointStatus="InService"),
    ))
    assert statuses(results) == {"batch": Status.NOT_APPLICABLE,
                                 "pricing-bias-weekly": Status.NOT_APPLICABLE,
                                 "off": Status.NOT_APPLICABLE,
                                 "x": Status.UNKNOWN}


# --- MM-01 model_monitor_schedule_not_active -------------------------------------------------

def test_schedule_not_active_list_sample() -> None:
    """List sample: Scheduled passes, Failed fails high; a Stopped summary that names no target
    (list rows carry no job inputs) is UNKNOWN."""
    rows = sample("sagemaker_list_monitoring_schedules")["response"]["MonitoringScheduleSummaries"]
    schedules = [res(Kind.MONITORING_SCHEDULES, r["MonitoringScheduleName"], **r) for r in rows]
    results = run(mon.model_monitor_schedule_not_active, inv(*schedules, kinds=[Kind.ENDPOINTS]))
    assert statuses(results) == {
        "churn-dq-hourly": Status.PASS, "reco-mq-daily": Status.PASS,
        "nightly-batch-dq": Status.UNKNOWN, "broken-explain": Status.FAIL}
    assert next(r for r in results if r.status is Status.FAIL).severity is Severity.HIGH


def test_schedule_not_active_stopped_and_pending() -> None:
    """Stopped on an InService endpoint fails medium; old Pending fails low; new Pending passes."""
    old = NOW - timedelta(hours=3)
    results = run(mon.model_monitor_schedule_not_active, inv(
        inline_schedule(MonitoringScheduleStatus="Stopped"),
        endpoint("Churn-Realtime-AB"),
        res(Kind.MONITORING_SCHEDULES, "gone", MonitoringScheduleStatus="Stopped",
            EndpointName="deleted-ep"),
        res(Kind.MONITORING_SCHEDULES, "stuck", MonitoringScheduleStatus="Pending",
            LastModifiedTime=old),
        res(Kind.MONITORING_SCHEDULES, "new", MonitoringScheduleStatus="Pending",
            LastModifiedTime=NOW - timedelta(minutes=5)),
    ))
    assert statuses(results) == {"churn-dq-hourly": Status.FAIL, "gone": Status.NOT_APPLICABLE,
                                 "stuck": Status.FAIL, "new": Status.PASS}
    sev = {r.resource_arn.rsplit("/", 1)[1]: r.severity for r in results}
    assert sev["churn-dq-hourly"] is Severity.MEDIUM and sev["stuck"] is Severity.LOW


# --- MM-05 model_monitor_schedule_orphaned ---------------------------------------------------

def test_schedule_orphaned_states() -> None:
    """Deleted or Failed endpoints make a running schedule an orphan; a live one passes."""
    results = run(mon.model_monitor_schedule_orphaned, inv(
        inline_schedule(), endpoint("churn-realtime-ab"),
        named_schedule(), endpoint("pricing-live", "Failed"),
        res(Kind.MONITORING_SCHEDULES, "lost", MonitoringScheduleStatus="Scheduled",
            EndpointName="deleted-ep"),
        res(Kind.MONITORING_SCHEDULES, "idle", MonitoringScheduleStatus="Stopped",
            EndpointName="deleted-ep"),
    ))
    assert statuses(results) == {"churn-dq-hourly": Status.PASS,
                                 "pricing-bias-weekly": Status.FAIL, "lost": Status.FAIL,
                                 "idle": Status.NOT_APPLICABLE}


def test_schedule_orphaned_unknown_target() -> None:
    """A schedule whose target cannot be determined is UNKNOWN, not an orphan."""
    results = run(mon.model_monitor_schedule_orphaned, inv(
        res(Kind.MONITORING_SCHEDULES, "blank", MonitoringScheduleStatus="Scheduled"),
        kinds=[Kind.ENDPOINTS]))
    assert statuses(results) == {"blank": Status.UNKNOWN}


# --- MM-02 / MM-03 last execution ------------------------------------------------------------

def _with_last(status: str, name: str) -> Resource:
    return res(Kind.MONITORING_SCHEDULES, name, MonitoringScheduleStatus="Scheduled",
               LastMonitoringExecutionSummary={"MonitoringExecutionStatus": status,
                                               "ScheduledTime": NOW - timedelta(hours=1),
                                               "FailureReason": "no captured data"
                                               if status == "Failed" else None})


def test_last_execution_failed_and_violations() -> None:
    """Each execution status maps to the failure check and the violations check."""
    schedules = [_with_last(s, s.lower()) for s in
                 ("Completed", "CompletedWithViolations", "Failed", "Stopped", "InProgress")]
    fresh = dict(sample("sagemaker_describe_monitoring_schedule_pending_no_executions")["response"])
    schedules.append(res(Kind.MONITORING_SCHEDULES, "fresh", **fresh))
    failed = run(ex.model_monitor_last_execution_failed, inv(*schedules))
    assert statuses(failed) == {
        "completed": Status.PASS, "completedwithviolations": Status.PASS,
        "failed": Status.FAIL, "stopped": Status.FAIL, "inprogress": Status.UNKNOWN,
        "fresh": Status.NOT_APPLICABLE}
    sev = {r.resource_arn.rsplit("/", 1)[1]: r.severity for r in failed}
    assert sev["failed"] is Severity.HIGH and sev["stopped"] is Severity.MEDIUM
    violations = run(ex.model_monitor_violations_detected, inv(*schedules))
    assert statuses(violations) == {
        "completed": Status.PASS, "completedwithviolations": Status.FAIL,
        "failed": Status.NOT_APPLICABLE, "stopped": Status.NOT_APPLICABLE,
        "inprogress": Status.UNKNOWN, "fresh": Status.NOT_APPLICABLE}


def test_violations_detected_inline_sample() -> None:
    """The inline sample's last execution CompletedWithViolations: FAIL medium."""
    results = run(ex.model_monitor_violations_detected, inv(inline_schedule()))
    assert statuses(results) == {"churn-dq-hourly": Status.FAIL}
    assert results[0].severity is Severity.MEDIUM


# --- MM-04 model_monitor_execution_stale -----------------------------------------------------

def test_schedule_interval_parsing() -> None:
    """Hourly, daily, every-N-hours, weekly and NOW parse; other shapes are not understood."""
    assert ex.schedule_interval("cron(0 * ? * * *)") == timedelta(hours=1)
    assert ex.schedule_interval("cron(0 6 ? * * *)") == timedelta(hours=24)
    assert ex.schedule_interval("cron(0 */6 ? * * *)") == timedelta(hours=6)
    assert ex.schedule_interval("cron(0 8,20 ? * * *)") == timedelta(hours=12)
    assert ex.schedule_interval("cron(0 6 ? * MON *)") == timedelta(days=7)
    assert ex.schedule_interval("cron(0 6 ? * MON-FRI *)") == timedelta(days=3)
    assert ex.schedule_interval("NOW") == ex.ONE_OFF
    assert ex.schedule_interval("rate(1 hour)") is None
    assert ex.schedule_interval("cron(0 25 ? * * *)") is None


def test_execution_stale_inline_sample_is_years_old() -> None:
    """The sample's last hourly execution (2024) is long past twice its interval."""
    results = run(ex.model_monitor_execution_stale, inv(inline_schedule()))
    assert statuses(results) == {"churn-dq-hourly": Status.FAIL}


def test_execution_stale_recent_young_and_unparseable() -> None:
    """Recent runs pass, a young schedule passes, an odd expression is UNKNOWN, NOW is N/A."""
    def sched(name: str, expr: str, **data: Any) -> Resource:
        return res(Kind.MONITORING_SCHEDULES, name, MonitoringScheduleStatus="Scheduled",
                   MonitoringScheduleConfig={"ScheduleConfig": {"ScheduleExpression": expr}},
                   **data)

    results = run(ex.model_monitor_execution_stale, inv(
        sched("recent", "cron(0 * ? * * *)",
              LastMonitoringExecutionSummary={"ScheduledTime": NOW - timedelta(minutes=90)}),
        sched("young", "cron(0 6 ? * * *)", CreationTime=NOW - timedelta(hours=30)),
        sched("silent", "cron(0 6 ? * * *)", CreationTime=NOW - timedelta(days=3)),
        sched("odd", "rate(5 minutes)"),
        sched("once", "NOW"),
        res(Kind.MONITORING_SCHEDULES, "off", MonitoringScheduleStatus="Stopped"),
    ))
    assert statuses(results) == {"recent": Status.PASS, "young": Status.PASS,
                                 "silent": Status.FAIL, "odd": Status.UNKNOWN,
                                 "once": Status.NOT_APPLICABLE, "off": Status.NOT_APPLICABLE}
