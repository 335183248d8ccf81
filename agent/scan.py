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
from collections.abc import Callable, Iterable, Sequence
from contextlib import AsyncExitStack
from typing import Any

import structlog

from agent.aws.assume import (
    shared_loader,
)
from agent.aws.handle import CallFailed, RegionHandle, ScanContext
from agent.domain import Gap, GapKind, Result, utcnow
from agent.scan_account import (
    Collected,
    collect_region,
    complete_scopes,
    coverage_rows,
    failed_account,
    internal_failure,
    needed_kinds,
    scan_target,
    service_of,
)
from agent.scan_types import (
    ACCOUNT_ROW,
    ALL_REGIONS,
    NOTHING_READ,
    NOTHING_TO_SCAN,
    PSEUDO_KINDS,
    REGION_LIST_ROW,
    REGION_ROW,
    AccountOutcome,
    AlreadyScanned,
    CoverageItem,
    Env,
    NoProgress,
    Progress,
    ScanError,
    ScanOutcome,
    ScanRequest,
    Sink,
    Tally,
)
from agent.targets import (
    AccountPlan,
    Caller,
    Target,
    TargetSpec,
    discover_members,
    organizations_region,
    partition_of,
    plan_accounts,
    run_key,
)

log = structlog.get_logger(__name__)

# uuid5 namespace of sharded runs: every shard derives the same scan uid from the run key.
_RUN_NAMESPACE = uuid.UUID("5b0b8a44-51d3-4a31-9c55-7a4f3f0e5a17")


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


def summarise(
    results: Sequence[Result], gaps: Sequence[Gap], accounts: Sequence[AccountOutcome] = ()
) -> dict[str, Any]:
    return summary_of(Tally.of(results), gaps, accounts)


def summary_of(
    tally: Tally, gaps: Sequence[Gap], accounts: Sequence[AccountOutcome] = ()
) -> dict[str, Any]:
    return {
        "by_pillar": {p: dict(c) for p, c in tally.by_pillar.items()},
        "failed_by_severity": dict(tally.failed_by_severity),
        "status": dict(tally.status),
        "gaps": len(gaps),
        "accounts": dict(Counter(a.state for a in accounts)),
    }


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


class _Runner:
    """Runs the accounts of one scan, a bounded number at a time, each written when done."""

    def __init__(self, env: Env, scan_id: int) -> None:
        self.env = env
        self.scan_id = scan_id
        self.outcomes: list[AccountOutcome] = []
        self.writes: set[asyncio.Future[Any]] = set()
        self.bound = asyncio.Semaphore(env.ctx.limits.accounts_in_parallel)

    async def _write(self, c: Collected) -> None:
        o = c.outcome
        fut = asyncio.ensure_future(asyncio.to_thread(
            self.env.sink.write_account, self.scan_id, o.account_id, o.results, o.gaps,
            c.resources, o.coverage, c.scopes, cache=c.cache,
        ))
        self.writes.add(fut)
        # Shielded: a cancelled scan still lets a write that began finish (or fail) whole.
        await asyncio.shield(fut)

    async def skipped(self, account_id: str, name: str, reason: str) -> None:
        outcome = AccountOutcome(account_id, [], [], 0, name=name, state="skipped",
                                 reason=reason,
                                 coverage=[(ALL_REGIONS, ACCOUNT_ROW, "skipped", reason)])
        await self._write(Collected(outcome, [], set()))
        self.outcomes.append(outcome)
        self.env.progress.account_done(account_id, "skipped", reason)

    async def account(self, target: Target) -> None:
        async with self.bound:
            self.env.progress.account_started(target.account_id, target.name)
            try:
                collected = await scan_target(self.env, target)
            except Exception as exc:  # boundary: one broken account cannot sink the scan
                log.exception("account_crashed", account=target.account_id)
                failure = CallFailed("mllens", "scan", internal_failure(exc))
                collected = Collected(await failed_account(self.env, target, failure), [],
                                       set())
            await self._write(collected)
            del collected.resources[:]  # the inventory goes once the account is durable
            collected.cache = None
            o = collected.outcome
            o.tally = Tally.of(o.results)
            if not self.env.req.keep_results:
                o.results = []  # durable in the store; only the counts stay
            self.outcomes.append(o)
            log.info("account_done", account=o.account_id, state=o.state,
                     results=o.tally.results, gaps=len(o.gaps), resources=o.resources)
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

        env = Env(ctx, req, spec, base, caller, caller_handle, home, progress, sink,
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
    all_gaps = [g for a in accounts for g in a.gaps]
    status = "partial" if any(a.state in ("partial", "failed") for a in accounts) else "complete"
    failure: str | None = None
    tally = Tally()
    for a in accounts:
        tally.add(a.counted())
    summary = summary_of(tally, all_gaps, accounts)
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


# The scan's public names, wherever they are defined (`agent.scan_types`, `agent.scan_account`).
__all__ = [
    "ACCOUNT_ROW",
    "ALL_REGIONS",
    "NOTHING_READ",
    "NOTHING_TO_SCAN",
    "PSEUDO_KINDS",
    "REGION_LIST_ROW",
    "REGION_ROW",
    "AccountOutcome",
    "AlreadyScanned",
    "CoverageItem",
    "NoProgress",
    "Progress",
    "ScanError",
    "ScanOutcome",
    "ScanRequest",
    "Sink",
    "Tally",
    "collect_region",
    "complete_scopes",
    "coverage_rows",
    "home_region",
    "identify_caller",
    "needed_kinds",
    "nothing_to_scan",
    "plan_targets",
    "read_anything",
    "run_scan",
    "service_of",
    "summarise",
    "summary_of",
]
