"""Optional inputs (`check(optional=...)`): not asked for, a check judges without them; asked
for and not collected, every verdict they could change is UNKNOWN and names what failed."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

import pytest

from agent.domain import Gap, GapKind, Inventory, Kind, Result, Severity, Status
from checks import all_checks, by_id, endpoint_models, endpoint_usage, glue
from checks import monitoring_executions as mm
from checks._helpers import Coverage, optional_kind, optional_record
from checks.base import Check
from checks.options import EvaluationOptions
from checks.runner import evaluate
from tests.contract_build import (
    DROP,
    cfg,
    ep,
    glue_job,
    glue_runs,
    hourly,
    metrics,
    model,
    schedule,
    series,
    tags_of,
    target,
)
from tests.contract_objectives import COST, ERRORS, FLOOR, LATENCY, goal, options, record, traffic
from tests.factories import ACCOUNT, NOW, REGION, inv, res, run, statuses
from tests.test_check_contract import CASES

BOOKMARKS = glue.glue_job_bookmarks_disabled
TIMEOUT = glue.glue_job_timeout_unset_or_excessive
CONSOLIDATE = endpoint_models.sagemaker_endpoint_consolidation_candidate
UNDER = endpoint_usage.sagemaker_endpoint_underutilized
MM02 = mm.model_monitor_last_execution_failed
MM03 = mm.model_monitor_violations_detected


# The listing each optional kind's collector starts with.
_LISTING = {
    Kind.GLUE_JOB_RUNS: ("glue", "ListJobs"),
    Kind.MONITORING_EXECUTIONS: ("sagemaker", "ListMonitoringSchedules"),
    Kind.ENDPOINT_METRICS: ("cloudwatch", "ListMetrics"),
    Kind.MODELS: ("sagemaker", "ListModels"),
    Kind.SCALABLE_TARGETS: ("application-autoscaling", "DescribeScalableTargets"),
    Kind.ENDPOINTS: ("sagemaker", "ListEndpoints"),
    Kind.TAGS: ("tag", "GetResources"),
}


def failed_gap(kind: Kind) -> Gap:
    service, operation = _LISTING[kind]
    return Gap(ACCOUNT, REGION, service, operation, GapKind.THROTTLED, "Rate exceeded",
               kinds=(kind,))


def throttled(inventory: Inventory, kind: Kind, *, keep: bool = False) -> Inventory:
    """`inventory` as a scan sees it when `kind` was asked for and its listing was throttled:
    the kind touched (empty, or holding what was listed before the failure) plus the gap."""
    resources = dict(inventory.resources)
    resources[kind] = resources.get(kind, ()) if keep else ()
    return dataclasses.replace(inventory, resources=resources,
                               gaps=(*inventory.gaps, failed_gap(kind)))


def asked(inventory: Inventory, kind: Kind) -> Inventory:
    """`inventory` with `kind` asked for and collected (touched when it holds no record)."""
    return dataclasses.replace(inventory, resources={kind: (), **inventory.resources})


def _key(r: Result) -> tuple[str, str]:
    return r.resource_arn, r.sub_resource


def _by_key(results: Iterable[Result]) -> dict[tuple[str, str], Result]:
    return {_key(r): r for r in results}


def _eval(check: Check, inventory: Inventory, params: Mapping[str, Any],
          opts: EvaluationOptions | None) -> list[Result]:
    return list(evaluate([check], inventory, {check.id: dict(params)} if params else None,
                         opts))


# --- the helper -------------------------------------------------------------------------------


def test_optional_kind_tells_collected_not_asked_and_failed_apart() -> None:
    """Collected (even empty), absent without a gap (not asked), and gapped (failed, even
    with records listed before the failure) are three answers; FAILED names the calls."""
    runs = glue_runs("j", "SUCCEEDED")
    assert optional_kind(inv(runs), Kind.GLUE_JOB_RUNS).coverage is Coverage.COLLECTED
    assert optional_kind(inv(kinds=(Kind.GLUE_JOB_RUNS,)), Kind.GLUE_JOB_RUNS).collected
    assert optional_kind(inv(), Kind.GLUE_JOB_RUNS).coverage is Coverage.NOT_ASKED
    for state in (throttled(inv(runs), Kind.GLUE_JOB_RUNS, keep=True),
                  inv(gaps=[failed_gap(Kind.GLUE_JOB_RUNS)])):
        answer = optional_kind(state, Kind.GLUE_JOB_RUNS)
        assert answer.failed and answer.record is None
        assert answer.why == "glue_job_runs not collected: glue:ListJobs throttled"


def test_optional_record_fails_for_one_parent_without_failing_the_kind() -> None:
    """A parent's record is collected, missing (not known when the kind was collected) or
    unread; the kind's own state comes first."""
    good = glue_runs("a", "SUCCEEDED")
    unread = res(Kind.GLUE_JOB_RUNS, "b", incomplete="glue:GetJobRuns throttled", JobName="b")
    state = inv(good, unread)
    assert optional_record(state, Kind.GLUE_JOB_RUNS, "A").record is good  # names ignore case
    b = optional_record(state, Kind.GLUE_JOB_RUNS, "b")
    assert b.failed and "glue:GetJobRuns throttled" in b.why
    c = optional_record(state, Kind.GLUE_JOB_RUNS, "c")
    assert c.failed and "no glue_job_runs record for c" in c.why
    assert optional_record(inv(), Kind.GLUE_JOB_RUNS, "a").not_asked
    gapped = optional_record(throttled(state, Kind.GLUE_JOB_RUNS, keep=True),
                             Kind.GLUE_JOB_RUNS, "a")
    assert gapped.failed and gapped.record is None


# --- every check with optional inputs: a failed one changes no verdict ------------------------

# Inventories where the optional inputs hold data that decides verdicts; the contract cases
# (tests/test_check_contract.py) are added to them below.
_TEN_MINUTE_RUNS = glue_runs("j", *["SUCCEEDED"] * 4)
_QUIET = [metrics(f"q{i}") for i in range(3)]
_STREAK = res(Kind.MONITORING_EXECUTIONS, "dq", MonitoringScheduleName="dq",
              MonitoringExecutionSummaries=[
                  {"MonitoringExecutionStatus": s, "ScheduledTime": NOW - timedelta(hours=i + 1)}
                  for i, s in enumerate(["CompletedWithViolations"] * 3 + ["Failed"])])
_TWO_FAILED = res(Kind.MONITORING_EXECUTIONS, "dq", MonitoringScheduleName="dq",
                  MonitoringExecutionSummaries=[
                      {"MonitoringExecutionStatus": s,
                       "ScheduledTime": NOW - timedelta(hours=i + 1)}
                      for i, s in enumerate(["InProgress", "Failed", "Failed", "Completed"])])
_MME = model(PrimaryContainer={"Image": "img", "Mode": "MultiModel"})
_BY_TAG = options(goal("gold", endpoint=None, tags={"tier": "gold"}, p99_latency_ms=100.0,
                       max_5xx_rate_pct=1.0, min_invocations_per_day=100,
                       max_monthly_cost_usd=50.0))
_TAGGED = inv(ep(), cfg(), record("ep", *traffic(latency_ms=150.0)),
              tags_of(ep(), tier="gold"))
SCENARIOS: list[tuple[Check, Inventory, dict[str, Any], EvaluationOptions | None]] = [
    (BOOKMARKS, inv(glue_job(DefaultArguments={}), glue_runs("j", "SUCCEEDED")), {}, None),
    (BOOKMARKS, inv(glue_job(DefaultArguments={}), glue_runs("j", "SUCCEEDED", "FAILED")), {},
     None),
    (BOOKMARKS, inv(glue_job(), glue_runs("j", "SUCCEEDED", "SUCCEEDED")), {}, None),
    (BOOKMARKS, inv(glue_job(kind="gluestreaming"), glue_runs("j", "SUCCEEDED")), {}, None),
    *[(TIMEOUT, inv(glue_job(Timeout=t), _TEN_MINUTE_RUNS), {}, None)
      for t in (45, 60, 600, 2880)],
    (TIMEOUT, inv(glue_job(Timeout=4000), glue_runs("j", "FAILED")), {}, None),
    (MM02, inv(schedule(last="InProgress"), _TWO_FAILED), {"consecutive_failures": 2}, None),
    (MM02, inv(schedule(last="Failed"), _TWO_FAILED), {"consecutive_failures": 3}, None),
    (MM03, inv(schedule(last="CompletedWithViolations"), _STREAK, ep()), {}, None),
    (MM03, inv(schedule(last="InProgress"), _STREAK, ep()), {}, None),
    (CONSOLIDATE, inv(*[ep(f"q{i}", config="c") for i in range(3)], cfg("c"), model(),
                      *_QUIET, ep("young", config="c", age_days=2), metrics("young")), {}, None),
    (CONSOLIDATE, inv(*[ep(f"q{i}", config="c") for i in range(3)], cfg("c"), model(),
                      _QUIET[0],
                      metrics("q1", series("Invocations", [30000.0] * 14, period=86400))),
     {}, None),
    (UNDER, inv(ep(), cfg(), _MME, metrics("ep", hourly("CPUUtilization", 2.0),
                                           hourly("MemoryUtilization", 70.0))), {}, None),
    (UNDER, inv(ep(), cfg(), _MME, metrics("ep", hourly("CPUUtilization", 2.0))), {}, None),
    (UNDER, inv(ep(), cfg(), model(), metrics("ep", hourly("CPUUtilization", 2.0))), {}, None),
    (UNDER, inv(ep(count=3), cfg(count=3), model(), target(MinCapacity=3),
                metrics("ep", hourly("CPUUtilization", 2.0),
                        hourly("MemoryUtilization", 1.0))), {}, None),
    *[(by_id()[c], _TAGGED, {}, _BY_TAG) for c in (LATENCY, ERRORS, FLOOR, COST)],
]
_CONTRACT = [(by_id()[c], case.inventory, dict(case.params), case.options)
             for c, _status, case in CASES if by_id()[c].optional]
_ALL = [(chk, state, params, opts, kind) for chk, state, params, opts in
        [*SCENARIOS, *_CONTRACT] for kind in chk.optional]


def test_scenarios_cover_every_check_with_optional_inputs() -> None:
    """A check declared with optional kinds and no scenario here fails this test."""
    assert {c.id for c in all_checks() if c.optional} == {s[0].id for s in SCENARIOS}


@pytest.mark.parametrize(("chk", "state", "params", "opts", "kind"), _ALL,
                         ids=[f"{a[0].id}-{a[4].value}-{i}" for i, a in enumerate(_ALL)])
def test_failed_optional_input_changes_no_verdict(
    chk: Check, state: Inventory, params: dict[str, Any], opts: EvaluationOptions | None,
    kind: Kind,
) -> None:
    """With the input asked for and throttled (none or part of it listed), every verdict is
    UNKNOWN or the very status the check gives with the input collected: a transient gap
    never turns into a PASS, FAIL or NOT_APPLICABLE that a clean scan would reverse."""
    baseline = _by_key(_eval(chk, asked(state, kind), params, opts))
    for keep in (False, True):
        for r in _eval(chk, throttled(state, kind, keep=keep), params, opts):
            if r.status is Status.UNKNOWN:
                continue
            before = baseline.get(_key(r))
            assert before is not None and before.status is r.status, (
                f"{chk.id} with {kind.value} throttled: {r.status.value} ({r.reason}), "
                f"collected: {before.status.value if before else None}")


# --- each check: failed is UNKNOWN where it matters, not asked is still judged -----------------


def _one(results: list[Result]) -> Result:
    [result] = results
    return result


def test_bookmarks_unknown_when_run_history_failed_judged_when_not_asked() -> None:
    """A Spark job whose history failed (whole kind or its own record) is UNKNOWN naming the
    failed call; without history asked for it is judged on its option; a streaming job is
    NOT_APPLICABLE whatever the history."""
    off = glue_job(DefaultArguments={})
    gapped = _one(run(BOOKMARKS, throttled(inv(off), Kind.GLUE_JOB_RUNS)))
    assert gapped.status is Status.UNKNOWN
    assert "glue_job_runs not collected: glue:ListJobs throttled" in gapped.reason
    unread = res(Kind.GLUE_JOB_RUNS, "j", incomplete="glue:GetJobRuns throttled", JobName="j")
    assert statuses(run(BOOKMARKS, inv(off, unread))) == {"j": Status.UNKNOWN}
    assert statuses(run(BOOKMARKS, inv(off, kinds=(Kind.GLUE_JOB_RUNS,)))) == {
        "j": Status.UNKNOWN}  # no record: the job was not known when runs were listed
    judged = _one(run(BOOKMARKS, inv(off)))
    assert judged.status is Status.FAIL and "not judged" in judged.evidence["runs"]
    assert statuses(run(BOOKMARKS, inv(glue_job(), kinds=()))) == {"j": Status.PASS}
    streaming = throttled(inv(glue_job(kind="gluestreaming")), Kind.GLUE_JOB_RUNS)
    assert statuses(run(BOOKMARKS, streaming)) == {"j": Status.NOT_APPLICABLE}


def test_timeout_unknown_when_run_history_failed_except_where_runtime_cannot_matter() -> None:
    """With history failed: an absent Timeout still FAILs, one within the floor still
    PASSes, any other is UNKNOWN naming the failed call. Not asked: the fixed rule."""
    def status(timeout: Any, state: Any) -> Status:
        return _one(run(TIMEOUT, state(inv(glue_job(Timeout=timeout))))).status

    def gapped(i: Inventory) -> Inventory:
        return throttled(i, Kind.GLUE_JOB_RUNS)

    assert [status(t, gapped) for t in (45, 60, 61, 600, 2880)] == [
        Status.PASS, Status.PASS, Status.UNKNOWN, Status.UNKNOWN, Status.UNKNOWN]
    unknown = _one(run(TIMEOUT, gapped(inv(glue_job(Timeout=600)))))
    assert "glue:ListJobs throttled" in unknown.reason
    assert status(DROP, gapped) is Status.FAIL
    assert [status(t, lambda i: i) for t in (600, 2880)] == [Status.PASS, Status.FAIL]
    assert statuses(run(TIMEOUT, gapped(inv(glue_job(Timeout=30))),
                        glue_timeout_max_min=20)) == {"j": Status.UNKNOWN}


def test_last_execution_failed_unknown_only_where_history_decides() -> None:
    """History failed: a running last execution and a failure count above one are UNKNOWN
    naming the failed call; Completed, Stopped and a single failure stand. Not asked: the
    same verdicts, with the reason saying history was not asked for."""
    def gapped(i: Inventory) -> Inventory:
        return throttled(i, Kind.MONITORING_EXECUTIONS)

    for state in (gapped, lambda i: i):
        running = _one(run(MM02, state(inv(schedule(last="InProgress")))))
        assert running.status is Status.UNKNOWN
        counted = _one(run(MM02, state(inv(schedule(last="Failed"))), consecutive_failures=2))
        assert counted.status is Status.UNKNOWN
        assert statuses(run(MM02, state(inv(schedule(last="Failed"))))) == {"dq": Status.FAIL}
        assert statuses(run(MM02, state(inv(schedule(last="Stopped"))))) == {"dq": Status.FAIL}
        assert statuses(run(MM02, state(inv(schedule(last="Completed"))))) == {
            "dq": Status.PASS}
        assert statuses(run(MM02, state(inv(schedule())))) == {"dq": Status.NOT_APPLICABLE}
    running = _one(run(MM02, gapped(inv(schedule(last="InProgress")))))
    counted = _one(run(MM02, gapped(inv(schedule(last="Failed"))), consecutive_failures=2))
    for r in (running, counted):
        assert ("monitoring_executions not collected: sagemaker:ListMonitoringSchedules "
                "throttled") in r.reason


def test_violations_streak_not_judged_when_history_or_endpoints_failed() -> None:
    """History failed: violations still FAIL (medium, the streak not judged, evidence says
    why) and a running last execution is UNKNOWN naming the call; endpoints failed: the
    streak is found but the FAIL stays medium."""
    last = schedule(last="CompletedWithViolations")
    full = inv(last, _STREAK, ep())
    assert _one(run(MM03, full)).severity is Severity.HIGH
    no_history = _one(run(MM03, throttled(full, Kind.MONITORING_EXECUTIONS)))
    assert (no_history.status, no_history.severity) == (Status.FAIL, Severity.MEDIUM)
    assert "sagemaker:ListMonitoringSchedules throttled" in no_history.evidence["streak"]
    running = _one(run(MM03, throttled(inv(schedule(last="InProgress"), _STREAK, ep()),
                                       Kind.MONITORING_EXECUTIONS)))
    assert running.status is Status.UNKNOWN
    assert "sagemaker:ListMonitoringSchedules throttled" in running.reason
    no_endpoint = _one(run(MM03, throttled(full, Kind.ENDPOINTS)))
    assert (no_endpoint.status, no_endpoint.severity) == (Status.FAIL, Severity.MEDIUM)
    assert "endpoints not collected" in no_endpoint.evidence["endpoint"]
    alone = _one(run(MM03, inv(last)))  # neither asked for: judged on the last execution
    assert (alone.status, alone.severity) == (Status.FAIL, Severity.MEDIUM)


def test_consolidation_unknown_when_traffic_is_not_known() -> None:
    """Metrics failed: every candidate is UNKNOWN naming the failed call, a young endpoint
    stays NOT_APPLICABLE; not asked: the instance-count heuristic groups them. One endpoint
    whose metrics failed keeps two quiet ones from a PASS they might not deserve, and
    cannot undo a group already large enough."""
    three = [ep(f"q{i}", config="c") for i in range(3)]
    young = ep("young", config="c", age_days=2)
    base = inv(*three, young, cfg("c"), model())
    gapped = run(CONSOLIDATE, throttled(base, Kind.ENDPOINT_METRICS))
    assert statuses(gapped) == {"q0": Status.UNKNOWN, "q1": Status.UNKNOWN,
                                "q2": Status.UNKNOWN, "young": Status.NOT_APPLICABLE}
    assert all("endpoint_metrics not collected: cloudwatch:ListMetrics throttled" in r.reason
               for r in gapped if r.status is Status.UNKNOWN)
    assert statuses(run(CONSOLIDATE, base)) == {n: Status.FAIL for n in
                                                ("q0", "q1", "q2", "young")}
    unread = res(Kind.ENDPOINT_METRICS, "q2", incomplete="cloudwatch:GetMetricData throttled")
    partly = run(CONSOLIDATE, inv(*three, cfg("c"), model(), *_QUIET[:2], unread))
    assert statuses(partly) == {n: Status.UNKNOWN for n in ("q0", "q1", "q2")}
    four = [*three, ep("q3", config="c")]
    assert statuses(run(CONSOLIDATE, inv(*four, cfg("c"), model(), *_QUIET,
                                         res(Kind.ENDPOINT_METRICS, "q3", incomplete="x")))) == {
        "q0": Status.FAIL, "q1": Status.FAIL, "q2": Status.FAIL, "q3": Status.UNKNOWN}


def test_underutilized_unknown_when_models_failed_and_memory_could_matter() -> None:
    """Models failed (whole kind or the variant's model): an idle variant is UNKNOWN unless
    its memory is known to be low too; a busy CPU passes regardless. Not asked: judged as
    single-model. Scalable targets failed: the FAIL stands, evidence says why."""
    idle_cpu = metrics("ep", hourly("CPUUtilization", 2.0))
    gapped = _one(run(UNDER, throttled(inv(ep(), cfg(), idle_cpu), Kind.MODELS)))
    assert gapped.status is Status.UNKNOWN and "models not collected" in gapped.reason
    unread = res(Kind.MODELS, "m", incomplete="sagemaker:DescribeModel throttled")
    assert statuses(run(UNDER, inv(ep(), cfg(), unread, idle_cpu))) == {
        "ep/AllTraffic": Status.UNKNOWN}
    low_memory = metrics("ep", hourly("CPUUtilization", 2.0), hourly("MemoryUtilization", 1.0))
    assert statuses(run(UNDER, throttled(inv(ep(), cfg(), low_memory), Kind.MODELS))) == {
        "ep/AllTraffic": Status.FAIL}
    busy = metrics("ep", hourly("CPUUtilization", 80.0))
    assert statuses(run(UNDER, throttled(inv(ep(), cfg(), busy), Kind.MODELS))) == {
        "ep/AllTraffic": Status.PASS}
    judged = _one(run(UNDER, inv(ep(), cfg(), idle_cpu)))
    assert judged.status is Status.FAIL and "not asked for" in judged.evidence["note"]
    held = inv(ep(count=3), cfg(count=3), model(), target(MinCapacity=3), low_memory)
    assert "MinCapacity" in _one(run(UNDER, held)).reason
    no_targets = _one(run(UNDER, throttled(held, Kind.SCALABLE_TARGETS)))
    assert no_targets.status is Status.FAIL
    assert "scalable_targets not collected" in no_targets.evidence["note_min_capacity"]


@pytest.mark.parametrize("check_id", [LATENCY, ERRORS, FLOOR, COST])
def test_objectives_unknown_when_tags_failed_judged_by_name_without_them(
    check_id: str,
) -> None:
    """Tags failed: an objective selecting by tag cannot be decided (UNKNOWN naming the
    failed call); an objective selecting by name is judged whether tags were collected, not
    asked for, or failed."""
    chk = by_id()[check_id]
    untagged = inv(ep(), cfg(), record("ep", *traffic(latency_ms=150.0)))
    gapped = _eval(chk, throttled(untagged, Kind.TAGS), {}, _BY_TAG)
    assert [r.status for r in gapped] == [Status.UNKNOWN]
    assert "tags not collected: tag:GetResources throttled" in gapped[0].reason
    by_name = options(goal("svc", p99_latency_ms=100.0, max_5xx_rate_pct=1.0,
                           min_invocations_per_day=100, max_monthly_cost_usd=50.0))
    judged = {r.status for state in (untagged, throttled(untagged, Kind.TAGS))
              for r in _eval(chk, state, {}, by_name)}
    assert len(judged) == 1 and judged <= {Status.PASS, Status.FAIL}
