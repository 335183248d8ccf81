"""What every collector shares: its declaration, the inventory builder and bounded fan-out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from agent.aws.handle import CallFailed, RegionHandle
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


@dataclass
class Builder:
    """Accumulates one region's resources while collectors run; frozen into an Inventory."""

    account_id: str
    region: str
    resources: dict[Kind, list[Resource]] = field(default_factory=dict)

    def add(
        self,
        kind: Kind,
        arn: str,
        name: str,
        data: dict[str, Any],
        incomplete_reason: str | None = None,
    ) -> Resource:
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
