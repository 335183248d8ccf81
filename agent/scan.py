"""One scan: identify the account, collect each region, evaluate checks, persist per account.

The flow follows the architecture: collect into a frozen Inventory per (account, region), evaluate
pure checks over it, then write the whole account in one transaction before moving on, so a
broken account cannot sink the scan and memory follows the largest account.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import structlog

from agent.aws.handle import CallFailed, Limits, RegionHandle, ScanContext
from agent.collectors import Builder, CollectOptions, Collector, collectors_for
from agent.domain import Gap, GapKind, Inventory, Kind, Resource, Result, Status, utcnow
from checks.base import Check
from checks.runner import evaluate

log = structlog.get_logger(__name__)


class ScanError(Exception):
    """The scan as a whole could not run (no credentials, no account identity): exit code 1."""


class Progress(Protocol):
    def region_started(self, account_id: str, region: str, collectors: int) -> None: ...
    def collector_done(self, account_id: str, region: str, collector: str, count: int) -> None: ...
    def region_done(self, account_id: str, region: str) -> None: ...


class NoProgress:
    def region_started(self, account_id: str, region: str, collectors: int) -> None:
        pass

    def collector_done(self, account_id: str, region: str, collector: str, count: int) -> None:
        pass

    def region_done(self, account_id: str, region: str) -> None:
        pass


@dataclass(frozen=True)
class ScanRequest:
    regions: tuple[str, ...]
    checks: tuple[Check, ...]
    profile: str | None = None
    endpoint_url: str | None = None
    limits: Limits = field(default_factory=Limits)
    collect: CollectOptions = field(default_factory=CollectOptions)
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def scope(self) -> dict[str, Any]:
        return {
            "regions": list(self.regions),
            "checks": [c.id for c in self.checks],
            "endpoint_url": self.endpoint_url,
            "profile": self.profile,
        }


@dataclass
class AccountOutcome:
    account_id: str
    results: list[Result]
    gaps: list[Gap]
    resources: int


@dataclass
class ScanOutcome:
    uid: str
    scan_id: int | None
    status: str
    started_at: datetime
    finished_at: datetime
    accounts: list[AccountOutcome]
    api_calls: int
    calls_by_operation: Counter[str]

    @property
    def results(self) -> list[Result]:
        return [r for a in self.accounts for r in a.results]

    @property
    def gaps(self) -> list[Gap]:
        return [g for a in self.accounts for g in a.gaps]


class Sink(Protocol):
    """Where finished accounts go: the store in production, a list in some tests."""

    def start_scan(self, scope: dict[str, Any]) -> int: ...

    def write_account(
        self,
        scan_id: int,
        account_id: str,
        results: Sequence[Result],
        gaps: Sequence[Gap],
        resources: Sequence[Resource],
        coverage: Sequence[tuple[str, str, str, str]],
        complete_scopes: set[tuple[str, str]],
    ) -> None: ...

    def finish_scan(
        self,
        scan_id: int,
        status: str,
        api_calls: int,
        summary: dict[str, Any],
        error: str | None = None,
    ) -> None: ...


def needed_kinds(checks: Iterable[Check]) -> set[Kind]:
    return {k for c in checks for k in c.needs}


async def collect_region(
    h: RegionHandle,
    collectors: Sequence[Collector],
    opts: CollectOptions,
    progress: Progress,
) -> Inventory:
    out = Builder(h.account_id, h.region)
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
    progress.region_done(h.account_id, h.region)
    return out.freeze(h, utcnow())


def coverage_rows(
    inventory: Inventory, kinds: Iterable[Kind]
) -> list[tuple[str, str, str, str]]:
    rows = []
    for kind in sorted(kinds):
        missing = inventory.missing([kind])
        if missing:
            reason = "; ".join(sorted({f"{g.operation}: {g.kind.value}" for g in missing}))
            state = "partial" if inventory.of(kind) else "failed"
            rows.append((inventory.region, kind.value, state, reason))
        else:
            rows.append((inventory.region, kind.value, "complete", ""))
    return rows


async def identify_account(ctx: ScanContext, session: Any, region: str) -> str:
    async with RegionHandle(ctx, session, "unknown", region) as h:
        try:
            ident = await h.call("sts", "GetCallerIdentity")
        except CallFailed as failure:
            raise ScanError(
                f"cannot identify the AWS account ({failure.kind.value}): "
                f"{failure.classified.message}"
            ) from failure
    return str(ident["Account"])


async def scan_account(
    ctx: ScanContext,
    session: Any,
    account_id: str,
    req: ScanRequest,
    progress: Progress,
) -> tuple[list[Inventory], list[Result]]:
    kinds = needed_kinds(req.checks)
    collectors = collectors_for(kinds)
    structlog.contextvars.bind_contextvars(account=account_id)

    async def region(r: str) -> Inventory:
        structlog.contextvars.bind_contextvars(region=r)
        async with RegionHandle(ctx, session, account_id, r) as h:
            return await collect_region(h, collectors, req.collect, progress)

    inventories = await asyncio.gather(*(region(r) for r in req.regions))
    results: list[Result] = []
    for inv in inventories:
        results.extend(evaluate(req.checks, inv, req.params))
    return list(inventories), results


def summarise(results: Sequence[Result], gaps: Sequence[Gap]) -> dict[str, Any]:
    by_pillar: dict[str, Counter[str]] = {}
    failed_by_severity: Counter[str] = Counter()
    for r in results:
        by_pillar.setdefault(r.pillar.value, Counter())[r.status.value] += 1
        if r.status is Status.FAIL:
            failed_by_severity[r.severity.value] += 1
    return {
        "by_pillar": {p: dict(c) for p, c in by_pillar.items()},
        "failed_by_severity": dict(failed_by_severity),
        "status": dict(Counter(r.status.value for r in results)),
        "gaps": len(gaps),
    }


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


async def run_scan(
    req: ScanRequest,
    sink: Sink,
    session_factory: Callable[[], Any],
    progress: Progress | None = None,
) -> ScanOutcome:
    progress = progress or NoProgress()
    ctx = ScanContext(limits=req.limits, endpoint_url=req.endpoint_url)
    uid = str(uuid.uuid4())
    structlog.contextvars.bind_contextvars(scan_id=uid)
    started = utcnow()
    session = session_factory()
    account_id = await identify_account(ctx, session, req.regions[0])
    scan_id = sink.start_scan({**req.scope(), "uid": uid, "accounts": [account_id]})
    accounts: list[AccountOutcome] = []
    status = "complete"
    error: str | None = None
    try:
        inventories, results = await scan_account(ctx, session, account_id, req, progress)
        gaps = [g for inv in inventories for g in inv.gaps]
        resources = [r for inv in inventories for kind_res in inv.resources.values()
                     for r in kind_res]
        kinds = needed_kinds(req.checks)
        coverage = [row for inv in inventories for row in coverage_rows(inv, kinds)]
        sink.write_account(
            scan_id,
            account_id,
            results,
            gaps,
            resources,
            coverage,
            complete_scopes(req.checks, inventories),
        )
        accounts.append(AccountOutcome(account_id, results, gaps, len(resources)))
        if any(g.kinds for g in gaps):
            status = "partial"
    except BaseException as exc:
        status = "interrupted" if isinstance(exc, (KeyboardInterrupt, asyncio.CancelledError)) \
            else "failed"
        error = f"{type(exc).__name__}: {exc}"
        sink.finish_scan(scan_id, status, ctx.stats.total(), {}, error)
        raise
    all_results = [r for a in accounts for r in a.results]
    all_gaps = [g for a in accounts for g in a.gaps]
    sink.finish_scan(scan_id, status, ctx.stats.total(), summarise(all_results, all_gaps), error)
    return ScanOutcome(
        uid=uid,
        scan_id=scan_id,
        status=status,
        started_at=started,
        finished_at=utcnow(),
        accounts=accounts,
        api_calls=ctx.stats.total(),
        calls_by_operation=ctx.stats.calls,
    )
