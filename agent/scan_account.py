"""One account of a scan: assume its role, plan its regions, collect each region (reusing what
the inventory cache proves unchanged), evaluate the checks, and hand back what to write."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import structlog

from agent.aws.assume import (
    AssumeRoleFailed,
    RoleCredentials,
    assume_with,
    session_with,
)
from agent.aws.handle import CallFailed, RegionHandle
from agent.collectors import Builder, CollectOptions, Collector, collectors_for
from agent.collectors.cache import CACHED_KINDS, RegionCache
from agent.domain import Gap, GapKind, Inventory, Kind, Resource, Result, Status, utcnow
from agent.iam import client_name
from agent.scan_types import (
    ACCOUNT_ROW,
    ALL_REGIONS,
    REGION_LIST_ROW,
    REGION_ROW,
    AccountOutcome,
    CoverageItem,
    Env,
    Progress,
)
from agent.store.inventory import CacheWrite
from agent.targets import (
    RegionPlan,
    Target,
    enabled_regions,
    plan_regions,
    service_regions,
)
from checks.base import Check
from checks.runner import evaluate

log = structlog.get_logger(__name__)


def needed_kinds(checks: Iterable[Check]) -> set[Kind]:
    return {k for c in checks for k in c.needs}


def service_of(c: Collector) -> str:
    """The AWS service a collector reads (its IAM actions' prefix, as botocore names it)."""
    prefix = c.actions[0].split(":", 1)[0] if c.actions else c.name
    return client_name(prefix)


async def collect_region(
    h: RegionHandle,
    collectors: Sequence[Collector],
    opts: CollectOptions,
    progress: Progress,
    absent: Iterable[Kind] = (),
    cache: RegionCache | None = None,
) -> Inventory:
    """Run the collectors for one region. `absent` kinds are known empty (service not offered);
    `cache` holds the records an earlier scan kept, and gathers what this one keeps."""
    out = Builder(h.account_id, h.region, cache=cache or RegionCache(h.region))
    for kind in absent:
        out.touch(kind)
    progress.region_started(h.account_id, h.region, len(collectors))

    async def run(c: Collector) -> None:
        structlog.contextvars.bind_contextvars(collector=c.name)
        try:
            await c.fn(h, out, opts)
        except CallFailed as failure:
            # A collector that did not catch its own failure loses all its kinds.
            h.gap(failure, kinds=c.kinds)
        except Exception as exc:  # boundary: a collector bug becomes a recorded gap, not a crash
            log.exception("collector_crashed", collector=c.name)
            h.gaps.append(
                Gap(h.account_id, h.region, c.name, "collect", GapKind.INTERNAL,
                    f"{type(exc).__name__}: {exc}"[:1000], kinds=c.kinds)
            )
        count = sum(len(out.resources.get(k, ())) for k in c.kinds)
        log.info("collector_done", collector=c.name, count=count)
        progress.collector_done(h.account_id, h.region, c.name, count)

    await asyncio.gather(*(run(c) for c in collectors))
    out.cache.known.clear()  # what was not reused is stale: free it before evaluation
    h.ctx.stats.reused.update(out.cache.reused)
    h.ctx.stats.described.update(out.cache.described)
    progress.region_done(h.account_id, h.region)
    return out.freeze(h, utcnow())


def coverage_rows(inventory: Inventory, kinds: Iterable[Kind]) -> list[CoverageItem]:
    rows = []
    for kind in sorted(kinds):
        missing = inventory.missing([kind])
        # Resources listed but not described: the kind is read, its records are not all whole.
        undescribed = [r for r in inventory.of(kind) if r.incomplete_reason]
        if missing:
            reason = "; ".join(sorted({f"{g.operation}: {g.kind.value}" for g in missing}))
            state = "partial" if inventory.of(kind) else "failed"
            rows.append((inventory.region, kind.value, state, reason))
        elif undescribed:
            why = sorted({r.incomplete_reason or "" for r in undescribed})
            reason = (f"{len(undescribed)} of {len(inventory.of(kind))} not fully described: "
                      + "; ".join(why))
            rows.append((inventory.region, kind.value, "partial", reason[:1000]))
        else:
            rows.append((inventory.region, kind.value, "complete", ""))
    return rows


def complete_scopes(checks: Sequence[Check], inventories: Sequence[Inventory]) -> set[
    tuple[str, str]
]:
    """(region, check) pairs whose inputs were fully collected: only these may resolve findings."""
    return {
        (inv.region, c.id)
        for inv in inventories
        for c in checks
        if not inv.missing(c.needs)
    }


async def previous_unverified(env: Env, account_id: str, reason: str) -> list[Result]:
    """UNKNOWN observations for the account's known findings: open ones stay open, marked
    unverified since this scan, instead of silently aging."""
    wanted = {c.id for c in env.req.checks}
    rows = await asyncio.to_thread(env.sink.findings, account_id=account_id)
    now = utcnow()
    return [
        Result(
            check_id=f.check_id, status=Status.UNKNOWN, resource_arn=f.resource_arn,
            reason=reason, account_id=account_id, region=f.region, severity=f.severity,
            pillar=f.pillar, resource_kind=f.resource_kind, sub_resource=f.sub_resource,
            observed_at=now,
        )
        for f in rows
        if f.check_id in wanted and str(f.status) != "GONE"
    ]


async def failed_account(env: Env, target: Target, failure: CallFailed) -> AccountOutcome:
    kinds = tuple(sorted(needed_kinds(env.req.checks)))
    gap = Gap(target.account_id, ALL_REGIONS, failure.service, failure.operation, failure.kind,
              failure.classified.message[:1000], kinds=kinds)
    reason = f"account not scanned: {failure.kind.value}: {failure.classified.message}"[:1000]
    results = await previous_unverified(env, target.account_id, reason)
    return AccountOutcome(
        target.account_id, results, [gap], 0, name=target.name, state="failed",
        reason=reason, coverage=[(ALL_REGIONS, ACCOUNT_ROW, "failed", reason)],
    )


@dataclass
class Collected:
    outcome: AccountOutcome
    resources: list[Resource]
    scopes: set[tuple[str, str]]
    cache: CacheWrite | None = None


async def scan_target(env: Env, target: Target) -> Collected:
    """Collect and evaluate one account; every failure inside is recorded, none raised."""
    structlog.contextvars.bind_contextvars(account=target.account_id)
    req = env.req
    kinds = needed_kinds(req.checks) - req.evaluation.unneeded
    collectors = collectors_for(kinds | req.evaluation.needs)
    async with AsyncExitStack() as stack:
        creds: RoleCredentials | None = None
        session = env.base
        if target.role_arn:
            creds = RoleCredentials(assume_with(env.caller_handle, target.role_arn,
                                                env.spec.session_name, env.spec.external_id,
                                                env.caller.arn or None))
            try:
                await creds.start()
            except AssumeRoleFailed as failure:
                log.warning("assume_role_failed", role=target.role_arn, kind=failure.cause.kind)
                return Collected(await failed_account(env, target, failure), [], set())
            session = session_with(creds, env.home, env.loader)
        home = await stack.enter_async_context(
            RegionHandle(env.ctx, session, target.account_id, env.home, creds)
        )
        account_gaps: list[Gap] = []
        coverage: list[CoverageItem] = []
        status: dict[str, str] | None
        try:
            status = await enabled_regions(home)
        except CallFailed as failure:
            status = None
            account_gaps.append(home.gap(failure))
        requested = env.spec.regions or (() if status is not None else (env.home,))
        by_service = service_regions(env.caller.partition, {service_of(c) for c in collectors})
        plans = plan_regions(requested, status, by_service)
        if status is None:
            coverage.append((ALL_REGIONS, REGION_LIST_ROW, "failed" if not env.spec.regions
                             else "partial",
                             f"region list unreadable ({account_gaps[0].kind.value}); scanned "
                             f"only {', '.join(requested)}"))
        for p in plans:
            if p.skipped:
                coverage.append((p.region, REGION_ROW, "skipped", p.skipped))

        caches: dict[str, RegionCache] = {}

        async def region(p: RegionPlan) -> Inventory:
            structlog.contextvars.bind_contextvars(region=p.region)
            chosen = [c for c in collectors if service_of(c) in p.services]
            absent = [k for c in collectors if c not in chosen for k in c.kinds if k in kinds]
            caches[p.region] = cache = await _region_cache(env, target.account_id, p.region,
                                                           kinds)
            async with RegionHandle(env.ctx, session, target.account_id, p.region, creds) as h:
                return await collect_region(h, chosen, req.collect_options, env.progress,
                                            absent, cache)

        scanned = [p for p in plans if not p.skipped]
        inventories = await asyncio.gather(*(region(p) for p in scanned))

    results: list[Result] = []
    for inv in inventories:
        results.extend(evaluate(req.checks, inv, req.params, req.evaluation))
    gaps = account_gaps + [g for inv in inventories for g in inv.gaps]
    for p, inv in zip(scanned, inventories, strict=True):
        rows = coverage_rows(inv, kinds)
        skipped_kinds = {k.value: reason for c in collectors for k in c.kinds
                         for s, reason in p.unavailable.items() if service_of(c) == s}
        for r, k, st, why in rows:
            coverage.append((r, k, "skipped", skipped_kinds[k]) if k in skipped_kinds
                            else (r, k, st, why))
    # Any gap leaves the account partial: a record not described is as unread as a listing.
    partial = (status is None and not env.spec.regions) or bool(gaps)
    reasons = sorted({f"{g.service}:{g.operation} {g.kind.value}" for g in gaps})
    state = "partial" if partial else "complete"
    reason = "; ".join(reasons)[:1000] if partial else ""
    idle = ""
    if plans and not scanned and not gaps:
        # Every requested region skipped (not enabled, not offered): nothing to read here.
        idle = ("has no region to scan: " + "; ".join(
            f"{p.region} {p.skipped}" for p in plans))[:1000]
        state, reason = "skipped", idle
    coverage.append((ALL_REGIONS, ACCOUNT_ROW, state, reason or f"{len(scanned)} regions"))
    resources = [r for inv in inventories for rs in inv.resources.values() for r in rs]
    outcome = AccountOutcome(target.account_id, results, gaps, len(resources), name=target.name,
                             state=state, reason=reason, coverage=coverage,
                             nothing_to_scan=idle)
    return Collected(outcome, resources, complete_scopes(req.checks, inventories),
                      cache_write(inventories, caches))


async def _region_cache(env: Env, account_id: str, region: str,
                        kinds: Iterable[Kind]) -> RegionCache:
    """What earlier scans kept for this account and region (nothing under --full)."""
    cache = RegionCache(region, use=not env.req.collect.full)
    wanted = sorted(k.value for k in CACHED_KINDS.intersection(kinds))
    if cache.use and wanted:
        cache.known = dict(await asyncio.to_thread(env.sink.cached_inventory, account_id,
                                                   region, wanted))
    return cache


def cache_write(inventories: Sequence[Inventory],
                caches: Mapping[str, RegionCache]) -> CacheWrite:
    """The account's cache update: what was described, and for each cached kind read in full,
    the ARNs still there (the rest of its rows go)."""
    entries = [e for inv in inventories for e in caches[inv.region].fresh]
    listed = {
        (inv.region, kind.value): frozenset(r.arn for r in inv.of(kind))
        for inv in inventories
        for kind in CACHED_KINDS.intersection(inv.resources)
        if not inv.missing([kind])
    }
    return CacheWrite(entries, listed)


def internal_failure(exc: BaseException) -> Any:
    from agent.aws.errors import Classified

    return Classified(GapKind.INTERNAL, type(exc).__name__, f"{type(exc).__name__}: {exc}")

