"""Pure tests for Model Monitor job-definition checks (MM-06 to MM-09), inline and named."""

from __future__ import annotations

from agent.domain import Kind, Severity, Status
from checks import monitoring_jobs as jobs
from tests.factories import inv, res, run, statuses
from tests.test_checks_monitoring import KEY, inline_schedule, named_schedule

# The inline sample has a baseline, isolation off, no inter-container flag, one instance and no
# KMS keys; the named sample (ModelBias) has everything on.


def test_no_baseline_inline_named_and_missing() -> None:
    """Inline and named baselines pass; a definition without one fails by monitor type."""
    results = run(jobs.model_monitor_no_baseline, inv(
        inline_schedule(),
        named_schedule(),
    ))
    assert statuses(results) == {"churn-dq-hourly": Status.PASS,
                                 "pricing-bias-weekly": Status.PASS}
    bare = run(jobs.model_monitor_no_baseline, inv(
        named_schedule(ModelBiasBaselineConfig={}),
        inline_schedule(MonitoringScheduleName="dq", MonitoringScheduleConfig={
            "MonitoringJobDefinition": {"MonitoringInputs": []}}),
    ))
    assert statuses(bare) == {"pricing-bias-weekly": Status.FAIL, "dq": Status.FAIL}
    sev = {r.resource_arn.rsplit("/", 1)[1]: r.severity for r in bare}
    assert sev["pricing-bias-weekly"] is Severity.LOW and sev["dq"] is Severity.MEDIUM


def test_definition_not_collected_is_unknown() -> None:
    """A named definition that was not collected is never judged from its absence."""
    summary = res(Kind.MONITORING_SCHEDULES, "s", MonitoringScheduleStatus="Scheduled",
                  MonitoringScheduleConfig={"MonitoringJobDefinitionName": "d"})
    for chk in jobs.CHECKS:
        assert statuses(run(chk, inv(summary))) == {"s": Status.UNKNOWN}, chk.id


def test_network_isolation() -> None:
    """Named definition isolated passes; inline false fails; absent fails high for quality."""
    results = run(jobs.model_monitor_network_isolation_disabled, inv(
        inline_schedule(),
        named_schedule(),
        res(Kind.MONITORING_SCHEDULES, "mq", MonitoringType="ModelQuality",
            JobDefinition={"ModelQualityJobInput": {}}),
    ))
    assert statuses(results) == {"churn-dq-hourly": Status.FAIL,
                                 "pricing-bias-weekly": Status.PASS, "mq": Status.FAIL}
    sev = {r.resource_arn.rsplit("/", 1)[1]: r.severity for r in results}
    assert sev["churn-dq-hourly"] is Severity.MEDIUM and sev["mq"] is Severity.HIGH


def test_intercontainer_encryption_by_cluster_size() -> None:
    """Encrypted passes; off with one instance is low, off with two is medium."""
    off_two = named_schedule(NetworkConfig={"EnableNetworkIsolation": True})
    results = run(jobs.model_monitor_intercontainer_encryption_disabled,
                  inv(inline_schedule(), named_schedule()))
    assert statuses(results) == {"churn-dq-hourly": Status.FAIL,
                                 "pricing-bias-weekly": Status.PASS}
    assert results[0].severity is Severity.LOW
    two = run(jobs.model_monitor_intercontainer_encryption_disabled, inv(off_two))
    assert statuses(two) == {"pricing-bias-weekly": Status.FAIL}
    assert two[0].severity is Severity.MEDIUM


def test_encryption_at_rest() -> None:
    """Keys on output and volume pass; the inline sample without keys fails; NVMe needs no
    volume key; an unknown instance type with only the output key is UNKNOWN."""
    nvme = named_schedule(JobResources={"ClusterConfig": {"InstanceCount": 1,
                                                          "InstanceType": "ml.m5d.xlarge"}})
    results = run(jobs.model_monitor_encryption_at_rest_missing,
                  inv(inline_schedule(), named_schedule()))
    assert statuses(results) == {"churn-dq-hourly": Status.FAIL,
                                 "pricing-bias-weekly": Status.PASS}
    assert statuses(run(jobs.model_monitor_encryption_at_rest_missing, inv(nvme))) == {
        "pricing-bias-weekly": Status.PASS}
    vague = named_schedule(JobResources={"ClusterConfig": {"InstanceCount": 1}})
    assert statuses(run(jobs.model_monitor_encryption_at_rest_missing, inv(vague))) == {
        "pricing-bias-weekly": Status.UNKNOWN}


def test_encryption_at_rest_allow_list() -> None:
    """A key outside allowed_kms_key_arns fails even when both keys are set."""
    results = run(jobs.model_monitor_encryption_at_rest_missing, inv(named_schedule()),
                  allowed_kms_key_arns=("arn:aws:kms:us-east-1:111122223333:key/other",))
    assert statuses(results) == {"pricing-bias-weekly": Status.FAIL}
    assert KEY in results[0].evidence.values()
