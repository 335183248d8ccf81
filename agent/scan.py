"""One scan: identify the caller, plan accounts and regions, collect, evaluate, persist per account.

The flow follows the architecture: each target account is collected into frozen Inventories (one
per region), evaluated by pure checks, and written in one transaction of its own before its
inventory is dropped, so memory follows the largest account times `accounts_in_parallel`, and a
broken account (a role that cannot be assumed, a crash) becomes a recorded account-level gap
instead of sinking the scan. Accounts and regions left out are written as coverage rows too:

- (region, kind)            how completely one inventory kind was read (the collectors' view);
- (region, "region")        a region not scanned at all, with the reason (not enabled, ...);
- ("*", "account")          the account as a whole: complete, partial, failed or skipped;
- ("*", "regions")          the account's region list could not be read (what was scanned).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

import structlog

from agent.aws.assume import (
    AssumeRoleFailed,
    RoleCredentials,
    assume_with,
    session_with,
    shared_loader,
)
from agent.aws.handle import CallFailed, Limits, RegionHandle, ScanContext
from agent.collectors import Builder, CollectOptions, Collector, collectors_for
from agent.collectors.cache import CACHED_KINDS, RegionCache
from agent.domain import Gap, GapKind, Inventory, Kind, Resource, Result, Status, utcnow
from agent.iam import client_name
from agent.store.inventory import CacheWrite
from agent.targets import (
    AccountPlan,
    Caller,
    RegionPlan,
    Target,
    TargetSpec,
    discover_members,
    enabled_regions,
    organizations_region,
    partition_of,
    plan_accounts,
    plan_regions,
    run_key,
    service_regions,
)
from checks.base import Check
from checks.options import EvaluationOptions
from checks.runner import evaluate

log = structlog.get_logger(__name__)

ALL_REGIONS = "*"  # the region of account-level coverage rows and gaps
ACCOUNT_ROW = "account"
REGION_ROW = "region"
NOTHING_READ = "the scan read nothing: every account, region or API it needed was skipped or failed"
NOTHING_TO_SCAN = "nothing to scan: every requested region was skipped"
REGION_LIST_ROW = "regions"
PSEUDO_KINDS = frozenset({ACCOUNT_ROW, REGION_ROW, REGION_LIST_ROW})

CoverageItem = tuple[str, str, str, str]


class ScanError(Exception):
    """The scan as a whole could not run (no credentials, no account identity): exit code 1."""


class AlreadyScanned(Exception):
    """The targets were scanned since `ScanRequest.fresh_since`; nothing was started."""

    def __init__(self, scan: Any) -> None:
        super().__init__(f"scan {scan.id} ({scan.uid[:8]}) already covered these targets")
        self.scan = scan


# uuid5 namespace of sharded runs: every shard derives the same scan uid from the run key.
_RUN_NAMESPACE = uuid.UUID("5b0b8a44-51d3-4a31-9c55-7a4f3f0e5a17")


class Progress(Protocol):
    def account_started(self, account_id: str, name: str) -> None: ...
    def region_started(self, account_id: str, region: str, collectors: int) -> None: ...
    def collector_done(self, account_id: str, region: str, collector: str, count: int) -> None: ...
    def region_done(self, account_id: str, region: str) -> None: ...
    def account_done(self, account_id: str, state: str, reason: str) -> None: ...


class NoProgress:
    def account_started(self, account_id: str, name: str) -> None:
        pass

    def region_started(self, account_id: str, region: str, collectors: int) -> None:
        pass

    def collector_done(self, account_id: str, region: str, collector: str, count: int) -> None:
        pass

    def region_done(self, account_id: str, region: str) -> None:
        pass

    def account_done(self, account_id: str, state: str, reason: str) -> None:
        pass


@dataclass(frozen=True)
class ScanRequest:
    checks: tuple[Check, ...]
    # Shorthand kept for callers that only pick regions; `targets.regions` wins when both are set.
    regions: tuple[str, ...] = ()
    targets: TargetSpec = field(default_factory=TargetSpec)
    profile: str | None = None
    endpoint_url: str | None = None
    limits: Limits = field(default_factory=Limits)
    collect: CollectOptions = field(default_factory=CollectOptions)
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    evaluation: EvaluationOptions = field(default_factory=EvaluationOptions)
    # With `targets.shard`: the run every shard of one sharded scan names (a schedule time,
    # a Step Functions execution name ...); the shards join one scan under it.
    run_id: str | None = None
    # Skip the scan (AlreadyScanned) when a complete or partial scan of the same targets
    # started at or after this time: another agent has done this run's work.
    fresh_since: datetime | None = None

    @property
    def collect_options(self) -> CollectOptions:
        """`collect`, with what the objectives need read (window, endpoint globs) taken from
        `evaluation`: the objectives are given once, so collection and checks cannot differ."""
        objectives = self.evaluation.objectives
        if not objectives.configured:
            return self.collect
        return replace(self.collect, objective_window_days=objectives.window_days,
                       objective_endpoints=objectives.endpoint_globs())

    @property
    def spec(self) -> TargetSpec:
        if self.targets.regions or not self.regions:
            return self.targets
        return replace(self.targets, regions=tuple(self.regions))

    def scope(self) -> dict[str, Any]:
        spec = self.spec
        return {
            "regions": list(spec.regions),
            "checks": [c.id for c in self.checks],
            "endpoint_url": self.endpoint_url,
            "profile": self.profile,
            "organization": spec.discovers,
            "ou_ids": list(spec.ou_ids),
            "include": list(spec.include),
            "exclude": list(spec.exclude),
            "role_name": spec.role_name,
            "session_name": spec.session_name,
            **({"shard": str(spec.shard), "run_id": self.run_id} if spec.shard else {}),
        }


@dataclass
class AccountOutcome:
    account_id: str
    results: list[Result]
    gaps: list[Gap]
    resources: int
    name: str = ""
    # complete | partial | failed | skipped: the account's coverage row state.
    state: str = "complete"
    reason: str = ""
    coverage: list[CoverageItem] = field(default_factory=list)
    # Set when no requested region could be scanned here because none is enabled or offered
    # (not a failure: there is nothing to read); says which and why.
    nothing_to_scan: str = ""


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
    # Sharded scans: this shard, and the whole scan's status after it (running until the
    # last shard finishes). `status` is the shard's own.
    shard: str | None = None
    run_status: str | None = None
    # Why a scan that read nothing is not a failure (`nothing_to_scan`), else empty.
    note: str = ""

    @property
    def results(self) -> list[Result]:
        return [r for a in self.accounts for r in a.results]

    @property
    def gaps(self) -> list[Gap]:
        return [g for a in self.accounts for g in a.gaps]

    def coverage(self) -> list[tuple[str, str, str, str, str]]:
        """(account, region, kind, state, reason) rows, as written to the store."""
        return [(a.account_id, *row) for a in self.accounts for row in a.coverage]


class Sink(Protocol):
    """Where finished accounts go: the store in production."""

    def start_scan(
        self, scope: dict[str, Any], *, uid: str | None = None, target_key: str | None = None
    ) -> int: ...

    def join_run(
        self, run_key: str, shard: int, count: int, scope: dict[str, Any], *, uid: str,
        target_key: str,
    ) -> int: ...

    def finish_shard(
        self, scan_id: int, shard: int, status: str, api_calls: int, summary: dict[str, Any],
        error: str | None = None, *, scope: dict[str, Any] | None = None,
    ) -> Any: ...

    def latest_of_targets(self, target_key: str, since: datetime) -> Any: ...

    def write_account(
        self,
        scan_id: int,
        account_id: str,
        results: Sequence[Result],
        gaps: Sequence[Gap],
        resources: Sequence[Resource],
        coverage: Sequence[CoverageItem],
        complete_scopes: set[tuple[str, str]],
    ) -> Any: ...

    def finish_scan(
        self,
        scan_id: int,
        status: str,
        api_calls: int,
        summary: dict[str, Any],
        error: str | None = None,
    ) -> None: ...

    def findings(self, scan_id: int | None = None, *, account_id: str | None = None) -> Any: ...


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


def nothing_to_scan(accounts: Sequence[AccountOutcome]) -> str:
    """Why the scan had nothing to read, if that is all that happened: every account it
    targeted had each requested region skipped (not enabled, not offered), and the others were
    left out by the plan. Empty when anything else (a failure, a refusal) stands in the way."""
    idle = [a for a in accounts if a.nothing_to_scan]
    if not idle or any(not a.nothing_to_scan and a.state != "skipped" for a in accounts):
        return ""
    why = "; ".join(f"{a.account_id} {a.nothing_to_scan}" for a in idle)
    return f"{NOTHING_TO_SCAN} ({why})"[:1000]


def read_anything(accounts: Iterable[AccountOutcome]) -> bool:
    """Whether any inventory kind was read at all, completely or in part, in any account."""
    return any(
        state in ("complete", "partial")
        for a in accounts
        for _region, kind, state, _why in a.coverage
        if kind not in PSEUDO_KINDS
    )


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


def summarise(
    results: Sequence[Result], gaps: Sequence[Gap], accounts: Sequence[AccountOutcome] = ()
) -> dict[str, Any]:
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
        "accounts": dict(Counter(a.state for a in accounts)),
    }


@dataclass
class _Env:
    """What every account of one scan shares."""

    ctx: ScanContext
    req: ScanRequest
    spec: TargetSpec
    base: Any
    caller: Caller
    caller_handle: RegionHandle
    home: str
    progress: Progress
    sink: Sink
    loader: Any = None  # botocore's model loader, shared by every account's session


def home_region(session: Any, spec: TargetSpec) -> str:
    """Where STS is called and region lists are read: the session's region, else the first
    requested one, else us-east-1."""
    configured = getattr(session, "region_name", None)
    return str(configured or (spec.regions[0] if spec.regions else "us-east-1"))


async def identify_caller(h: RegionHandle) -> Caller:
    try:
        ident = await h.call("sts", "GetCallerIdentity")
    except CallFailed as failure:
        if failure.kind in (GapKind.INTERNAL, GapKind.UNSUPPORTED):
            # Not an answer STS would give (an HTML page, a proxy's error): say so, in one line.
            where = h.ctx.endpoint_url or "the STS endpoint"
            raise ScanError(
                f"cannot identify the AWS account: {where} did not answer like AWS STS "
                f"({failure.classified.code}); is it an AWS API endpoint?"
            ) from failure
        message = " ".join(failure.classified.message.split())[:300]
        raise ScanError(
            f"cannot identify the AWS account ({failure.kind.value}): {message}"
        ) from failure
    account = ident.get("Account")
    if not account:
        raise ScanError("cannot identify the AWS account: STS answered without an Account")
    arn = str(ident.get("Arn", ""))
    return Caller(str(account), arn, partition_of(arn))


async def plan_targets(
    ctx: ScanContext, stack: AsyncExitStack, base: Any, caller: Caller, spec: TargetSpec
) -> AccountPlan:
    members = None
    if spec.discovers:
        org = await stack.enter_async_context(
            RegionHandle(ctx, base, caller.account_id, organizations_region(caller.partition))
        )
        try:
            members = await discover_members(org, spec.ou_ids)
        except CallFailed as failure:
            raise ScanError(
                f"cannot list the organisation's accounts ({failure.kind.value}): "
                f"{failure.classified.message}"
            ) from failure
    try:
        return plan_accounts(spec, caller, members)
    except ValueError as exc:
        raise ScanError(str(exc)) from exc


async def _previous_unverified(env: _Env, account_id: str, reason: str) -> list[Result]:
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


async def _failed_account(env: _Env, target: Target, failure: CallFailed) -> AccountOutcome:
    kinds = tuple(sorted(needed_kinds(env.req.checks)))
    gap = Gap(target.account_id, ALL_REGIONS, failure.service, failure.operation, failure.kind,
              failure.classified.message[:1000], kinds=kinds)
    reason = f"account not scanned: {failure.kind.value}: {failure.classified.message}"[:1000]
    results = await _previous_unverified(env, target.account_id, reason)
    return AccountOutcome(
        target.account_id, results, [gap], 0, name=target.name, state="failed",
        reason=reason, coverage=[(ALL_REGIONS, ACCOUNT_ROW, "failed", reason)],
    )


@dataclass
class _Collected:
    outcome: AccountOutcome
    resources: list[Resource]
    scopes: set[tuple[str, str]]
    cache: CacheWrite | None = None


async def scan_target(env: _Env, target: Target) -> _Collected:
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
                return _Collected(await _failed_account(env, target, failure), [], set())
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
    return _Collected(outcome, resources, complete_scopes(req.checks, inventories),
                      cache_write(inventories, caches))


async def _region_cache(env: _Env, account_id: str, region: str,
                        kinds: Iterable[Kind]) -> RegionCache:
    """What earlier scans kept for this account and region (nothing under --full)."""
    cache = RegionCache(region, use=not env.req.collect.full)
    wanted = sorted(k.value for k in CACHED_KINDS.intersection(kinds))
    loader = getattr(env.sink, "cached_inventory", None)
    if cache.use and wanted and loader is not None:
        cache.known = await asyncio.to_thread(loader, account_id, region, wanted)
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


class _Runner:
    """Runs the accounts of one scan, a bounded number at a time, each written when done."""

    def __init__(self, env: _Env, scan_id: int) -> None:
        self.env = env
        self.scan_id = scan_id
        self.outcomes: list[AccountOutcome] = []
        self.writes: set[asyncio.Future[Any]] = set()
        self.bound = asyncio.Semaphore(env.ctx.limits.accounts_in_parallel)

    async def _write(self, c: _Collected) -> None:
        o = c.outcome
        extra = {"cache": c.cache} if c.cache is not None else {}
        fut = asyncio.ensure_future(asyncio.to_thread(
            self.env.sink.write_account, self.scan_id, o.account_id, o.results, o.gaps,
            c.resources, o.coverage, c.scopes, **extra,
        ))
        self.writes.add(fut)
        # Shielded: a cancelled scan still lets a write that began finish (or fail) whole.
        await asyncio.shield(fut)

    async def skipped(self, account_id: str, name: str, reason: str) -> None:
        outcome = AccountOutcome(account_id, [], [], 0, name=name, state="skipped",
                                 reason=reason,
                                 coverage=[(ALL_REGIONS, ACCOUNT_ROW, "skipped", reason)])
        await self._write(_Collected(outcome, [], set()))
        self.outcomes.append(outcome)
        self.env.progress.account_done(account_id, "skipped", reason)

    async def account(self, target: Target) -> None:
        async with self.bound:
            self.env.progress.account_started(target.account_id, target.name)
            try:
                collected = await scan_target(self.env, target)
            except Exception as exc:  # boundary: one broken account cannot sink the scan
                log.exception("account_crashed", account=target.account_id)
                failure = CallFailed("mllens", "scan", _internal(exc))
                collected = _Collected(await _failed_account(self.env, target, failure), [],
                                       set())
            await self._write(collected)
            del collected.resources[:]  # the inventory goes once the account is durable
            collected.cache = None
            self.outcomes.append(collected.outcome)
            o = collected.outcome
            log.info("account_done", account=o.account_id, state=o.state,
                     results=len(o.results), gaps=len(o.gaps), resources=o.resources)
            self.env.progress.account_done(o.account_id, o.state, o.reason)

    async def run(self, plan: AccountPlan) -> None:
        for s in plan.skipped:
            await self.skipped(s.account_id, s.name, s.reason)
        try:
            async with asyncio.TaskGroup() as tg:
                for t in plan.targets:
                    tg.create_task(self.account(t))
        except BaseExceptionGroup as group:
            # Only the store can fail an account task (everything else is recorded inside).
            raise group.exceptions[0] from None

    async def settle(self) -> None:
        if self.writes:
            await asyncio.gather(*self.writes, return_exceptions=True)


def _internal(exc: BaseException) -> Any:
    from agent.aws.errors import Classified

    return Classified(GapKind.INTERNAL, type(exc).__name__, f"{type(exc).__name__}: {exc}")


async def run_scan(
    req: ScanRequest,
    sink: Sink,
    session_factory: Callable[[], Any],
    progress: Progress | None = None,
) -> ScanOutcome:
    progress = progress or NoProgress()
    spec = req.spec
    ctx = ScanContext(limits=req.limits, endpoint_url=req.endpoint_url)
    uid = str(uuid.uuid4())
    structlog.contextvars.bind_contextvars(scan_id=uid)
    started = utcnow()
    base = session_factory()
    home = home_region(base, spec)
    async with AsyncExitStack() as stack:
        caller_handle = await stack.enter_async_context(RegionHandle(ctx, base, "caller", home))
        caller = await identify_caller(caller_handle)
        caller_handle.account_id = caller.account_id
        plan = await plan_targets(ctx, stack, base, caller, spec)
        scope = {
            **req.scope(),
            "uid": uid,
            "caller": caller.account_id,
            "accounts": [t.account_id for t in plan.targets],
            "account_names": {
                **{t.account_id: t.name for t in plan.targets if t.name},
                **{s.account_id: s.name for s in plan.skipped if s.name},
            },
            "skipped_accounts": [s.account_id for s in plan.skipped],
        }
        target_key = spec.key()
        if req.fresh_since is not None:
            prior = sink.latest_of_targets(target_key, req.fresh_since)
            if prior is not None and prior.scope.get("caller") == caller.account_id:
                raise AlreadyScanned(prior)
        shard = spec.shard
        if shard is not None:
            if not req.run_id:
                raise ScanError("a sharded scan needs a run ID shared by all its shards")
            key = run_key(req.run_id, target_key)
            uid = str(uuid.uuid5(_RUN_NAMESPACE, key))
            structlog.contextvars.bind_contextvars(scan_id=uid, shard=str(shard))
            scope["uid"] = uid
            scan_id = sink.join_run(key, shard.index, shard.count, scope, uid=uid,
                                    target_key=target_key)
        else:
            scan_id = sink.start_scan(scope, uid=uid, target_key=target_key)

        def finish(status: str, summary: dict[str, Any], error: str | None) -> str:
            if shard is None:
                sink.finish_scan(scan_id, status, ctx.stats.total(), summary, error)
                return status
            return str(sink.finish_shard(scan_id, shard.index, status, ctx.stats.total(),
                                         summary, error, scope=scope))

        env = _Env(ctx, req, spec, base, caller, caller_handle, home, progress, sink,
                   shared_loader(base))
        runner = _Runner(env, scan_id)
        try:
            await runner.run(plan)
        except BaseException as exc:
            await runner.settle()
            # Stopped before it finished, by a signal or a failure (the store going away):
            # recorded as interrupted, which takes back what it changed in the findings.
            signalled = isinstance(exc, KeyboardInterrupt | asyncio.CancelledError)
            status = "interrupted"
            error = "interrupted by a signal" if signalled else f"{type(exc).__name__}: {exc}"
            try:
                finish(status, {}, error[:2000])
            except Exception:  # boundary: already failing; the next start closes the scan
                log.warning("finish_scan_failed", status=status, exc_info=True)
            raise
    accounts = runner.outcomes
    all_results = [r for a in accounts for r in a.results]
    all_gaps = [g for a in accounts for g in a.gaps]
    status = "partial" if any(a.state in ("partial", "failed") for a in accounts) else "complete"
    failure: str | None = None
    summary = summarise(all_results, all_gaps, accounts)
    limiter = ctx.limiter()
    # What AWS's quotas cost this scan: throttling answers seen (botocore retried them) and
    # seconds calls waited on the client-side buckets, summed over calls.
    summary["throttled"] = dict(limiter.throttles)
    summary["rate_waited_s"] = round(limiter.waited, 1)
    summary["inventory"] = {"reused": dict(ctx.stats.reused),
                            "described": dict(ctx.stats.described)}
    note = nothing_to_scan(accounts) if not read_anything(accounts) else ""
    if shard is not None and not accounts:
        # More shards than accounts: this one had nothing to do, which is not a failure.
        summary["empty_shard"] = True
    elif note:
        # Only regions that are not enabled (or offered) were asked for: skipped, as the
        # docs promise, not an error; the scan is complete with nothing to read, and says so.
        summary["nothing_to_scan"] = note
    elif not read_anything(accounts):
        # Every account skipped or failed, or every API denied: a scan that saw nothing must
        # not pass for a clean one (CI jobs gate on the exit code).
        status = "failed"
        failure = NOTHING_READ
    run_status = finish(status, summary, failure)
    return ScanOutcome(
        uid=uid,
        scan_id=scan_id,
        status=status,
        started_at=started,
        finished_at=utcnow(),
        accounts=sorted(accounts, key=lambda a: a.account_id),
        api_calls=ctx.stats.total(),
        calls_by_operation=ctx.stats.calls,
        shard=str(shard) if shard is not None else None,
        run_status=run_status,
        note=note,
    )
