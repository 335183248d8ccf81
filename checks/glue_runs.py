"""Glue job run history: GL-09 (last run failed), and the run facts GL-05 and GL-07 use.

The collector keeps each job's newest N runs (GetJobRuns, newest first). A retry is its own
run with Attempt > 0 and PreviousRunId naming the run it retries; a logical run's outcome is
that of its last attempt, so a failure a retry recovered from is not a failure. STOPPED is a
person's decision, not a failure, and is left out of the verdicts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from agent.domain import Inventory, Kind, Resource, Severity
from checks._helpers import OptionalInput, as_datetime, items, optional_record
from checks.base import (
    AT_LEAST_1,
    FRACTION,
    Verdict,
    check,
    failed,
    not_applicable,
    passed,
    unknown,
)

FAILED_STATES = frozenset({"FAILED", "TIMEOUT", "ERROR"})
FINISHED_STATES = FAILED_STATES | {"SUCCEEDED", "STOPPED", "EXPIRED"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Run:
    """One logical run: its first attempt's start, its last attempt's outcome."""

    id: str
    started: datetime
    state: str
    attempts: int
    execution_seconds: int | None
    error: str | None


def logical_runs(raw: list[Mapping[str, Any]]) -> list[Run]:
    """Runs with their retries folded in, newest first."""
    by_id: dict[str, Run] = {}
    origin: dict[str, str] = {}  # attempt run ID -> logical run ID
    ordered = sorted(raw, key=lambda r: (as_datetime(r.get("StartedOn")) or _EPOCH,
                                         r.get("Attempt") or 0))
    for r in ordered:
        rid, started = str(r.get("Id") or ""), as_datetime(r.get("StartedOn"))
        if not rid or started is None:
            continue
        previous = r.get("PreviousRunId")
        root = origin.get(str(previous)) if previous else None
        if (r.get("Attempt") or 0) > 0 and root in by_id:
            first = by_id[root]
            by_id[root] = Run(root, first.started, str(r.get("JobRunState")), first.attempts + 1,
                              r.get("ExecutionTime"), r.get("ErrorMessage"))
            origin[rid] = root
            continue
        by_id[rid] = Run(rid, started, str(r.get("JobRunState")), 1, r.get("ExecutionTime"),
                         r.get("ErrorMessage"))
        origin[rid] = rid
    return sorted(by_id.values(), key=lambda run: run.started, reverse=True)


def job_runs(inv: Inventory, job: Resource) -> tuple[list[Run] | None, OptionalInput]:
    """The job's logical runs, or None with whether its history was not asked for or failed.

    GL-05 and GL-07 read the history as an optional input: they judge without it only when
    it was not asked for (`history.not_asked`), never when it failed.
    """
    history = optional_record(inv, Kind.GLUE_JOB_RUNS, job.name)
    if history.record is None:
        return None, history
    runs = logical_runs(items(history.record.get("JobRuns")))
    # Runs that started before the job was created belong to a deleted job of the same name
    # (a kept history read before it was made again): they say nothing about this one.
    created = as_datetime(job.get("CreatedOn"))
    if created is not None:
        runs = [r for r in runs if r.started >= created]
    return runs, history


def in_window(runs: list[Run], now: datetime, days: int) -> list[Run]:
    return [r for r in runs if now - r.started <= timedelta(days=days)]


@check(
    title="Glue job's latest run failed, or it fails often",
    severity=Severity.HIGH,
    effort="redeploy",
    lens=("MLREL02-BP02",),
    needs=(Kind.GLUE_JOBS, Kind.GLUE_JOB_RUNS),
    remediation=(
        "Read the run's ErrorMessage and its CloudWatch logs (/aws-glue/jobs), fix the cause "
        "and rerun; alarm on failures with an EventBridge rule on Glue Job State Change "
        "(FAILED, TIMEOUT, ERROR) so the next one is seen the day it happens."
    ),
)
def glue_job_last_run_failed(
    inv: Inventory,
    *,
    glue_lookback_days: Annotated[int, AT_LEAST_1] = 30,
    glue_last_runs: Annotated[int, AT_LEAST_1] = 10,
    glue_failure_ratio: Annotated[float, FRACTION] = 0.3,
) -> Iterator[Verdict]:
    """Over the job's runs started in the last `glue_lookback_days` (at most the newest
    `glue_last_runs`, retries folded into the run they retry, STOPPED runs left out): FAIL
    (high) when the latest finished run FAILED, TIMEOUT or ERROR; FAIL (medium) when it
    EXPIRED, or when at least `glue_failure_ratio` of the finished runs failed. PASS when the
    latest finished run SUCCEEDED and failures stay under the ratio. NOT_APPLICABLE when the
    job has no finished run in the window. UNKNOWN when its run history was not read.

    A failing feature or training-data pipeline leaves models training on stale or partial
    data: the lens asks for data pipelines that are automated and fault tolerant.
    """
    now = inv.collected_at
    for job in inv.of(Kind.GLUE_JOBS):
        runs, history = job_runs(inv, job)
        if runs is None:
            yield unknown(job, history.why)
            continue
        recent = in_window(runs, now, glue_lookback_days)[:glue_last_runs]
        judged = [r for r in recent if r.state in FINISHED_STATES and r.state != "STOPPED"]
        evidence: dict[str, Any] = {
            "runs": [{"Id": r.id, "JobRunState": r.state, "StartedOn": r.started.isoformat(),
                      "attempts": r.attempts} for r in recent],
        }
        if not judged:
            yield not_applicable(job, f"no finished run in the last {glue_lookback_days} days",
                                 **evidence)
            continue
        latest = judged[0]
        failures = [r for r in judged if r.state in FAILED_STATES]
        ratio = len(failures) / len(judged)
        evidence.update(failed=len(failures), finished=len(judged),
                        failure_ratio=round(ratio, 2), ErrorMessage=latest.error)
        if latest.state in FAILED_STATES:
            yield failed(job, f"latest run {latest.state} on {latest.started:%Y-%m-%d %H:%M}"
                         + (f": {latest.error}" if latest.error else ""), **evidence)
        elif latest.state == "EXPIRED":
            yield failed(job, "latest run EXPIRED before it could start",
                         severity=Severity.MEDIUM, **evidence)
        elif ratio >= glue_failure_ratio:
            yield failed(job, f"{len(failures)} of the last {len(judged)} finished runs failed",
                         severity=Severity.MEDIUM, **evidence)
        else:
            yield passed(job, f"latest run SUCCEEDED; {len(failures)} of {len(judged)} "
                         "finished runs failed", **evidence)


CHECKS = (glue_job_last_run_failed,)
