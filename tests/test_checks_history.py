"""Checks that read run history: Glue runs (GL-05, GL-07, GL-09) and Model Monitor
executions (MM-02, MM-03), with and without the history collected."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from agent.domain import Kind, Severity, Status
from checks import glue, glue_runs, monitoring_executions
from tests.contract_build import ep, glue_job, schedule
from tests.contract_build import glue_runs as runs
from tests.factories import NOW, gap, inv, res, run, statuses

LAST_RUN = glue_runs.glue_job_last_run_failed
MM02 = monitoring_executions.model_monitor_last_execution_failed
MM03 = monitoring_executions.model_monitor_violations_detected


def _run(rid: str, state: str, hours_ago: int, **data: Any) -> dict[str, Any]:
    return {"Id": rid, "JobRunState": state, "StartedOn": NOW - timedelta(hours=hours_ago),
            "Attempt": 0, **data}


def test_last_run_retry_that_succeeded_is_not_a_failure() -> None:
    """A failed attempt whose retry succeeded counts as one successful run."""
    history = res(Kind.GLUE_JOB_RUNS, "j", JobName="j", JobRuns=[
        _run("r1", "FAILED", 5), _run("r2", "SUCCEEDED", 4, Attempt=1, PreviousRunId="r1")])
    [result] = run(LAST_RUN, inv(glue_job(), history))
    assert result.status is Status.PASS
    assert result.evidence["runs"][0]["attempts"] == 2


def test_runs_from_before_the_job_was_created_are_not_its_own() -> None:
    """A job made again under the same name is judged only on runs since its creation (a kept
    history can still hold its predecessor's)."""
    history = res(Kind.GLUE_JOB_RUNS, "j", JobName="j", JobRuns=[_run("r1", "FAILED", 5)])
    [old] = run(LAST_RUN, inv(glue_job(CreatedOn=NOW - timedelta(days=30)), history))
    assert old.status is Status.FAIL
    [remade] = run(LAST_RUN, inv(glue_job(CreatedOn=NOW - timedelta(hours=1)), history))
    assert remade.status is Status.NOT_APPLICABLE


def test_last_run_ratio_expired_stopped_and_window() -> None:
    """Failures at or above the ratio fail at medium; EXPIRED fails at medium; STOPPED runs
    and runs older than the window are left out."""
    flaky = runs("j", "SUCCEEDED", "FAILED", "SUCCEEDED")
    [ratio] = run(LAST_RUN, inv(glue_job(), flaky))
    assert (ratio.status, ratio.severity) == (Status.FAIL, Severity.MEDIUM)
    assert statuses(run(LAST_RUN, inv(glue_job(), flaky), glue_failure_ratio=0.5)) == {
        "j": Status.PASS}
    [expired] = run(LAST_RUN, inv(glue_job(), runs("j", "EXPIRED", "SUCCEEDED")))
    assert (expired.status, expired.severity) == (Status.FAIL, Severity.MEDIUM)
    stopped = runs("j", "STOPPED", "SUCCEEDED")
    assert statuses(run(LAST_RUN, inv(glue_job(), stopped))) == {"j": Status.PASS}
    old = runs("j", "FAILED", days_apart=40)
    assert statuses(run(LAST_RUN, inv(glue_job(), old), glue_lookback_days=0)) == {
        "j": Status.NOT_APPLICABLE}
    unread = res(Kind.GLUE_JOB_RUNS, "j", incomplete="glue:GetJobRuns throttled", JobName="j")
    assert statuses(run(LAST_RUN, inv(glue_job(), unread))) == {"j": Status.UNKNOWN}


def test_bookmarks_judge_only_recurring_jobs_when_runs_are_known() -> None:
    """With runs collected, a job run once is N/A; with runs not asked for every Spark job is
    judged; with runs asked for and not collected it is UNKNOWN, never judged without them."""
    off = glue_job(DefaultArguments={})
    check = glue.glue_job_bookmarks_disabled
    assert statuses(run(check, inv(off, runs("j", "SUCCEEDED")))) == {"j": Status.NOT_APPLICABLE}
    assert statuses(run(check, inv(off, runs("j", "SUCCEEDED", "SUCCEEDED")))) == {
        "j": Status.FAIL}
    [fallback] = run(check, inv(off))
    assert fallback.status is Status.FAIL and "not judged" in fallback.evidence["runs"]
    assert statuses(run(check, inv(off, gaps=[gap(Kind.GLUE_JOB_RUNS)]))) == {
        "j": Status.UNKNOWN}


def test_timeout_compared_with_p95_runtime() -> None:
    """Timeout above 3 x the p95 runtime fails low; the 48-hour default on short runs fails
    medium; within bounds passes; without runs only the fixed rule applies."""
    check = glue.glue_job_timeout_unset_or_excessive
    ten_minute_runs = runs("j", *["SUCCEEDED"] * 4)  # ExecutionTime 600 s
    assert statuses(run(check, inv(glue_job(Timeout=45), ten_minute_runs))) == {
        "j": Status.PASS}  # floor of 60 minutes
    [loose] = run(check, inv(glue_job(Timeout=600), ten_minute_runs))
    assert (loose.status, loose.severity) == (Status.FAIL, Severity.LOW)
    [default] = run(check, inv(glue_job(Timeout=2880), ten_minute_runs))
    assert (default.status, default.severity) == (Status.FAIL, Severity.MEDIUM)
    assert statuses(run(check, inv(glue_job(Timeout=600)))) == {"j": Status.PASS}
    assert statuses(run(check, inv(glue_job(Timeout=600), ten_minute_runs),
                        glue_timeout_floor_min=700)) == {"j": Status.PASS}


def _history(*states: str) -> Any:
    return res(Kind.MONITORING_EXECUTIONS, "dq", MonitoringScheduleName="dq",
               MonitoringExecutionSummaries=[
                   {"MonitoringExecutionStatus": s, "ScheduledTime": NOW - timedelta(hours=i + 1)}
                   for i, s in enumerate(states)])


def test_last_execution_consecutive_failures_with_history() -> None:
    """One failure below consecutive_failures passes; two in a row fail; without history a
    count above one is UNKNOWN; a running execution is judged by the newest finished one."""
    failed_once = inv(schedule(last="Failed"), _history("Failed", "Completed"))
    assert statuses(run(MM02, failed_once, consecutive_failures=2)) == {"dq": Status.PASS}
    twice = inv(schedule(last="Failed"), _history("Failed", "Failed", "Completed"))
    assert statuses(run(MM02, twice, consecutive_failures=2)) == {"dq": Status.FAIL}
    assert statuses(run(MM02, inv(schedule(last="Failed")), consecutive_failures=2)) == {
        "dq": Status.UNKNOWN}
    running = inv(schedule(last="InProgress"), _history("InProgress", "Failed"))
    assert statuses(run(MM02, running)) == {"dq": Status.FAIL}


def test_violation_streak_without_redeploy_is_high() -> None:
    """Three violating runs in a row on an endpoint untouched since then fail high; a redeploy
    after the streak began keeps it medium; history missing keeps it medium."""
    streak = _history("CompletedWithViolations", "CompletedWithViolations",
                      "CompletedWithViolations")
    last = schedule(last="CompletedWithViolations")
    [high] = run(MM03, inv(last, streak, ep(age_days=30)))
    assert (high.status, high.severity) == (Status.FAIL, Severity.HIGH)
    [redeployed] = run(MM03, inv(last, streak, ep(age_days=30, modified_days=0)))
    assert (redeployed.status, redeployed.severity) == (Status.FAIL, Severity.MEDIUM)
    assert redeployed.evidence["endpoint_updated_since_streak"] is True
    [alone] = run(MM03, inv(last, ep()))
    assert alone.severity is Severity.MEDIUM and alone.evidence["violating_in_a_row"] is None
    assert statuses(run(MM03, inv(last, streak, ep()), violation_streak=4)) == {
        "dq": Status.FAIL}
