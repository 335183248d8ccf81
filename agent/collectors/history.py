"""Run history: the newest Glue job runs per job and Model Monitor executions per schedule.

One record per parent (job or schedule) holding its newest N runs, so a parent that never ran
has a record with an empty list (data), a parent whose history call failed has a record with
`incomplete_reason` (UNKNOWN for it alone), and a parent with no record was not known here.
The parents are listed by name here (ListJobs, ListMonitoringSchedules: one call per 1000 or
100) because collectors run concurrently and cannot wait for the Glue jobs or schedules
collectors. Each history call asks only for the newest N, so the cost is one call per parent.
A history whose runs have all finished is kept (`agent.collectors.cache`) and reused until it
is `history_max_age_hours` old: no API answers "which runs are new", so this is the one kind
reused on age rather than on a listing's proof.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from agent.aws.handle import RegionHandle
from agent.collectors.base import Builder, CollectOptions, describe, fan_out, list_all
from agent.collectors.cache import stamp
from agent.domain import Kind

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A history holding a run in one of these states is read again next scan, whatever its age.
_GLUE_RUNNING = frozenset({"STARTING", "RUNNING", "STOPPING", "WAITING"})
_EXECUTION_RUNNING = frozenset({"Pending", "InProgress", "Stopping"})


def _max_age(opts: CollectOptions) -> timedelta | None:
    """How old a cached history may be: no API lists the runs started since a time, so a
    history is proven current only by reading it; between reads it may miss new runs."""
    hours = opts.history_max_age_hours
    return timedelta(hours=hours) if hours > 0 else None


def _newest_first(runs: list[Mapping[str, Any]], key: str) -> list[Mapping[str, Any]]:
    # AWS answers newest first; sorting here keeps that true whatever answered.
    return sorted(runs, key=lambda r: r.get(key) or _EPOCH, reverse=True)


async def glue_job_runs(h: RegionHandle, out: Builder, opts: CollectOptions) -> None:
    """GetJobRuns(JobName, MaxResults=N) per Glue job: the newest N runs, newest first."""
    kinds = (Kind.GLUE_JOB_RUNS,)
    out.touch(Kind.GLUE_JOB_RUNS)
    names = await list_all(h, kinds, "glue", "ListJobs", "JobNames", MaxResults=1000)
    if names is None:
        return
    limit = max(1, min(opts.glue_job_runs, 200))  # the API accepts 1..200

    version = f"runs:{limit}"
    max_age = _max_age(opts)

    async def one(name: str) -> None:
        arn = out.arn("glue", f"job/{name}")
        if max_age and out.reuse(Kind.GLUE_JOB_RUNS, arn, name, version, max_age=max_age):
            return
        data, problem = await describe(h, "glue", "GetJobRuns", arn, JobName=name,
                                       MaxResults=limit)
        if problem == "not_found":
            return  # deleted since it was listed
        if data is None:
            out.add(Kind.GLUE_JOB_RUNS, arn, name, {"JobName": name, "JobRuns": []}, problem)
            return
        runs = _newest_first(list(data.get("JobRuns") or ()), "StartedOn")[:limit]
        finished = all(r.get("JobRunState") not in _GLUE_RUNNING for r in runs)
        out.add(Kind.GLUE_JOB_RUNS, arn, name,
                {"JobName": name, "JobRuns": runs, "MaxRuns": limit},
                version=version if finished else None)

    await fan_out(sorted(names), one)


async def monitoring_executions(h: RegionHandle, out: Builder, opts: CollectOptions) -> None:
    """ListMonitoringExecutions per schedule, newest N by ScheduledTime."""
    kinds = (Kind.MONITORING_EXECUTIONS,)
    out.touch(Kind.MONITORING_EXECUTIONS)
    schedules = await list_all(h, kinds, "sagemaker", "ListMonitoringSchedules",
                               "MonitoringScheduleSummaries", MaxResults=100)
    if schedules is None:
        return
    limit = max(1, min(opts.monitoring_executions, 100))

    version = f"executions:{limit}"
    max_age = _max_age(opts)

    async def one(summary: Mapping[str, Any]) -> None:
        name = summary["MonitoringScheduleName"]
        arn = summary.get("MonitoringScheduleArn") or out.arn(
            "sagemaker", f"monitoring-schedule/{name.lower()}"
        )
        # A schedule made again under the same name starts a new history.
        kept = f"{version}|{stamp(summary.get('CreationTime'))}"
        if max_age and out.reuse(Kind.MONITORING_EXECUTIONS, arn, name, kept, max_age=max_age):
            return
        data, problem = await describe(
            h, "sagemaker", "ListMonitoringExecutions", arn,
            MonitoringScheduleName=name, SortBy="ScheduledTime", SortOrder="Descending",
            MaxResults=limit,
        )
        if problem == "not_found":
            return
        record: dict[str, Any] = {"MonitoringScheduleName": name, "MaxExecutions": limit}
        if data is None:
            out.add(Kind.MONITORING_EXECUTIONS, arn, name,
                    {**record, "MonitoringExecutionSummaries": []}, problem)
            return
        runs = _newest_first(list(data.get("MonitoringExecutionSummaries") or ()),
                             "ScheduledTime")[:limit]
        finished = all(r.get("MonitoringExecutionStatus") not in _EXECUTION_RUNNING
                       for r in runs)
        out.add(Kind.MONITORING_EXECUTIONS, arn, name,
                {**record, "MonitoringExecutionSummaries": runs},
                version=kept if finished else None)

    await fan_out(schedules, one)
