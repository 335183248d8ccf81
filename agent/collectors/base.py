"""What every collector shares: its declaration, the inventory builder and bounded fan-out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from agent.aws.handle import CallFailed, RegionHandle
from agent.collectors.cache import RegionCache
from agent.domain import GapKind, Inventory, Kind, Resource, freeze

T = TypeVar("T")

# Describe calls are issued in chunks so a listing of 100,000 jobs never holds 100,000 pending
# coroutines; the handle's semaphores still decide how many are really in flight.
FAN_OUT_CHUNK = 256


@dataclass(frozen=True, slots=True)
class CollectOptions:
    training_lookback_days: int = 90
    # CloudWatch window for endpoint usage metrics (idle, under-used, consolidation).
    metrics_lookback_days: int = 14
    # How many of the newest runs to read per Glue job and per monitoring schedule.
    glue_job_runs: int = 10
    monitoring_executions: int = 10
    # Objectives as code: the days the objective metrics cover, and globs of the endpoint names
    # some objective may select. 0 and () when no objective is configured: nothing is read.
    # A scan derives both from its EvaluationOptions (ScanRequest.collect_options).
    objective_window_days: int = 0
    objective_endpoints: tuple[str, ...] = ()
    # Incremental inventory (agent.collectors.cache): `full` reuses no cached record; run
    # histories (Glue job runs, monitoring executions), which no listing can prove unchanged,
    # are read again once their cached copy is older than this.
    full: bool = False
    history_max_age_hours: float = 6.0


@dataclass
class Builder:
    """Accumulates one region's resources while collectors run; frozen into an Inventory."""

    account_id: str
    region: str
    resources: dict[Kind, list[Resource]] = field(default_factory=dict)
    cache: RegionCache = field(default_factory=RegionCache)

    def add(
        self,
        kind: Kind,
        arn: str,
        name: str,
        data: Mapping[str, Any],
        incomplete_reason: str | None = None,
        *,
        version: str | None = None,
    ) -> Resource:
        """Add a record; with `version`, a whole one is also kept for later scans to reuse."""
        if version is not None and incomplete_reason is None:
            self.cache.keep(kind, arn, name, version, data)
        res = Resource(
            kind=kind,
            arn=arn,
            name=name,
            account_id=self.account_id,
            region=self.region,
            data=freeze(data),
            incomplete_reason=incomplete_reason,
        )
        self.resources.setdefault(kind, []).append(res)
        return res

    def reuse(self, kind: Kind, arn: str, name: str, version: str, *,
              max_age: timedelta | None = None) -> Resource | None:
        """Add the cached record of `arn` if the listing's `version` proves it unchanged;
        None means the caller describes it."""
        data = self.cache.reuse(kind, arn, version, max_age=max_age)
        return None if data is None else self.add(kind, arn, name, data)

    def touch(self, kind: Kind) -> None:
        """Mark a kind as collected even when the region holds none of it."""
        self.resources.setdefault(kind, [])

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    def freeze(self, h: RegionHandle, collected_at: datetime) -> Inventory:
        return Inventory(
            account_id=self.account_id,
            region=self.region,
            collected_at=collected_at,
            resources={k: tuple(v) for k, v in self.resources.items()},
            gaps=tuple(h.gaps),
        )


CollectorFn = Callable[[RegionHandle, Builder, CollectOptions], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Collector:
    name: str
    kinds: tuple[Kind, ...]
    fn: CollectorFn
    # IAM actions this collector may call: the source of `mllens iam-policy`.
    actions: tuple[str, ...]
    # The service its kinds are read from, where that is not its first action's (which only
    # finds what to read): coverage reports the kinds under it (`mllens coverage`).
    service: str = ""


async def fan_out(
    items: Iterable[T], fn: Callable[[T], Awaitable[None]], chunk: int = FAN_OUT_CHUNK
) -> None:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= chunk:
            await asyncio.gather(*(fn(i) for i in batch))
            batch = []
    if batch:
        await asyncio.gather(*(fn(i) for i in batch))


async def listing(
    h: RegionHandle,
    kinds: tuple[Kind, ...],
    service: str,
    operation: str,
    result_key: str,
    *,
    token_in: str = "NextToken",
    token_out: str = "NextToken",
    **params: Any,
) -> AsyncIterator[dict[str, Any]]:
    """Yield every listed item; if the listing fails part-way, record the kinds as incomplete.

    What was listed before the failure is still yielded (and stored), but the gap makes every
    dependent check UNKNOWN: a partial list is never taken for the whole.
    """
    try:
        async for page in h.pages(service, operation, token_in, token_out, **params):
            for item in page.get(result_key) or ():
                yield item
    except CallFailed as failure:
        h.gap(failure, kinds=kinds)


async def describe(
    h: RegionHandle,
    service: str,
    operation: str,
    resource_arn: str,
    **params: Any,
) -> tuple[dict[str, Any] | None, str | None]:
    """Describe one resource. Returns (answer, None), or (None, reason) after recording a gap.

    A NOT_FOUND answer means the resource was deleted since it was listed (or, for a resource
    named by another, that the reference dangles); the caller decides what that means.
    """
    try:
        return await h.call(service, operation, **params), None
    except CallFailed as failure:
        h.gap(failure, resource_arn=resource_arn)
        if failure.kind is GapKind.NOT_FOUND:
            return None, "not_found"
        return None, f"{service}:{operation} {failure.kind.value}"


async def list_all(
    h: RegionHandle,
    kinds: tuple[Kind, ...],
    service: str,
    operation: str,
    result_key: str,
    **params: Any,
) -> list[Any] | None:
    """Every listed item, or None (after recording the gap on `kinds`) if the listing failed.

    For collectors that list a parent only to reach what they collect (names to ask for runs,
    tags, metrics): a partial parent list is useless to them, so they stop instead.
    """
    items: list[Any] = []
    try:
        async for page in h.pages(service, operation, "NextToken", "NextToken", **params):
            items.extend(page.get(result_key) or ())
    except CallFailed as failure:
        h.gap(failure, kinds=kinds)
        return None
    return items
