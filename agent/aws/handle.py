"""One handle per (account, region): clients, paging, bounds, timeouts and error classification.

Collectors never touch aioboto3 directly. They ask the handle for a call or a page stream, and a
failure comes back as `CallFailed` carrying its classification, which the collector turns into
a recorded gap with the inventory kinds it leaves incomplete.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from aiobotocore.config import AioConfig
from botocore import xform_name

from agent.aws.errors import Classified, classify
from agent.aws.ratelimit import DEFAULT_BURST_SECONDS, DEFAULT_RATE, DEFAULT_RATES, RateLimiter
from agent.domain import Gap, GapKind, Kind

log = structlog.get_logger(__name__)


DEFAULT_MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Limits:
    """Concurrency, rate and time bounds. Defaults suit AWS's default API quotas."""

    max_in_flight: int = 64  # calls in flight across the whole scan
    per_service: int = 16  # calls in flight per (account, region, service)
    call_timeout: float = 60.0  # seconds for one logical call, botocore retries included
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    # botocore retry attempts, first try included. The rate limiter keeps throttling rare, so
    # more attempts mostly prolong a call that keeps failing (a 5xx, a denied API).
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    # Requests per second per (account, region, service); services not named get default_rate.
    rates: Mapping[str, float] = field(default_factory=lambda: DEFAULT_RATES)
    default_rate: float = DEFAULT_RATE
    burst_seconds: float = DEFAULT_BURST_SECONDS  # a bucket saves up this many seconds of rate
    accounts_in_parallel: int = 4  # accounts collected at once (each holds its inventory)

    def __post_init__(self) -> None:
        for name in ("max_in_flight", "per_service", "max_attempts", "accounts_in_parallel"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("call_timeout", "connect_timeout", "read_timeout", "default_rate",
                     "burst_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        for service, rate in self.rates.items():
            if rate <= 0:
                raise ValueError(f"the rate for {service} must be positive")


# STS answers first (who am I, assume the role): a wrong endpoint or a dead network must fail
# in seconds, not after the full retry schedule.
STS_ATTEMPTS = 3
# Worth another attempt: a throttle (paced by the limiter), a 5xx, a dropped connection or a
# read timeout. Not the call's own deadline (call_timeout), which ends it.
RETRYABLE = frozenset({GapKind.THROTTLED, GapKind.SERVICE_ERROR, GapKind.NETWORK,
                       GapKind.TIMEOUT})
BACKOFF_BASE = 0.5
BACKOFF_CAP = 20.0


def backoff(attempt: int) -> float:
    """Seconds before retrying a failed (not throttled) call: exponential, full jitter."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt))


@dataclass
class CallStats:
    """API call accounting for one scan: what the summary and the benchmark report."""

    calls: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    # Incremental inventory: records reused from the store and records described (and kept
    # for the next scan), per kind.
    reused: Counter[str] = field(default_factory=Counter)
    described: Counter[str] = field(default_factory=Counter)

    def total(self) -> int:
        return sum(self.calls.values())


class Reassumable(Protocol):
    """Credentials a handle can renew after AWS said they expired (`agent.aws.assume`)."""

    generation: int

    async def reassume(self, seen_generation: int) -> None: ...


class CallFailed(Exception):
    def __init__(self, service: str, operation: str, classified: Classified, *,
                 final: bool = False) -> None:
        super().__init__(f"{service}:{operation} {classified.kind.value}: {classified.message}")
        # Not worth retrying whatever its kind: the call's own deadline passed.
        self.final = final
        self.service = service
        self.operation = operation
        self.classified = classified

    @property
    def kind(self) -> GapKind:
        return self.classified.kind


def to_utc(value: Any) -> Any:
    """Make every datetime in an API answer aware UTC (botocore parses into local time)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, dict):
        return {k: to_utc(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [to_utc(v) for v in value]
    return value


@dataclass
class ScanContext:
    """What every handle of one scan shares: the global bound and the call accounting."""

    limits: Limits = field(default_factory=Limits)
    endpoint_url: str | None = None
    stats: CallStats = field(default_factory=CallStats)
    _global: asyncio.Semaphore | None = None
    _limiter: RateLimiter | None = None

    def global_bound(self) -> asyncio.Semaphore:
        # Created lazily so the semaphore binds to the running loop, not to import time.
        if self._global is None:
            self._global = asyncio.Semaphore(self.limits.max_in_flight)
        return self._global

    def limiter(self) -> RateLimiter:
        if self._limiter is None:
            self._limiter = RateLimiter(
                self.limits.rates, self.limits.default_rate, self.limits.burst_seconds
            )
        return self._limiter

    def client_config(self) -> AioConfig:
        return AioConfig(
            # One attempt: RegionHandle._call retries, through the rate limiter (botocore's
            # adaptive mode would also slow every operation of a client after one throttle).
            retries={"mode": "standard", "total_max_attempts": 1},
            connect_timeout=self.limits.connect_timeout,
            read_timeout=self.limits.read_timeout,
            max_pool_connections=max(self.limits.per_service, 10),
            user_agent_extra="mllens",
        )


class RegionHandle:
    """Clients and bounded calls for one account in one region. Use as an async context manager."""

    def __init__(
        self,
        ctx: ScanContext,
        session: Any,
        account_id: str,
        region: str,
        credentials: Reassumable | None = None,
    ) -> None:
        self.ctx = ctx
        self.session = session
        self.account_id = account_id
        self.region = region
        # Set for assumed-role sessions: what an ExpiredToken answer may renew, once per call.
        self.credentials = credentials
        self.gaps: list[Gap] = []
        self._stack = AsyncExitStack()
        self._clients: dict[str, Any] = {}
        self._bounds: dict[str, asyncio.Semaphore] = {}
        self._client_lock = asyncio.Lock()

    async def __aenter__(self) -> RegionHandle:
        await self._stack.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._stack.__aexit__(*exc)

    async def client(self, service: str) -> Any:
        async with self._client_lock:
            if service not in self._clients:
                kwargs: dict[str, Any] = {
                    "region_name": self.region,
                    "config": self.ctx.client_config(),
                }
                if self.ctx.endpoint_url:
                    kwargs["endpoint_url"] = self.ctx.endpoint_url
                elif service == "sts":
                    kwargs["endpoint_url"] = regional_sts_endpoint(self.region)
                cm = self.session.client(service, **kwargs)
                self._clients[service] = await self._stack.enter_async_context(cm)
                self._bounds[service] = asyncio.Semaphore(self.ctx.limits.per_service)
            return self._clients[service]

    def _log(self, **kw: Any) -> Any:
        return log.bind(account=self.account_id, region=self.region, **kw)

    async def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """One API call: rate-limited, bounded, timed out, retried by botocore, answer in UTC.

        An ExpiredToken answer on assumed-role credentials re-assumes the role once (shared
        with every call that saw the same keys fail) and retries the call once.
        """
        seen = self.credentials.generation if self.credentials is not None else 0
        try:
            return await self._call(service, operation, params)
        except CallFailed as failure:
            if failure.kind is not GapKind.EXPIRED_CREDENTIALS or self.credentials is None:
                raise
            self._log(service=service, operation=operation).info("credentials_expired_reassume")
            await self.credentials.reassume(seen)
            return await self._call(service, operation, params)

    async def _call(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """One logical call and its retries. botocore makes a single attempt; retrying here
        sends a throttled call back through its operation's bucket, which was just slowed, so
        a retry never competes with the calls the limiter is pacing (botocore's own backoff
        would add them on top of a quota that is already full)."""
        client = await self.client(service)
        method = getattr(client, xform_name(operation))
        limiter = self.ctx.limiter()
        attempts = (min(STS_ATTEMPTS, self.ctx.limits.max_attempts) if service == "sts"
                    else self.ctx.limits.max_attempts)
        # call_timeout bounds the attempts and the pauses between them, not the time spent
        # queueing for a token (that is the rate, not the call, being slow).
        left = self.ctx.limits.call_timeout
        for attempt in range(1, attempts + 1):
            # The token is taken before a slot, so a call waiting on its rate holds no slot of
            # the global bound that other accounts' calls could use.
            await limiter.acquire(self.account_id, self.region, service, operation)
            started = time.monotonic()
            try:
                resp = await self._attempt(service, operation, method, params, left)
            except CallFailed as failure:
                if failure.kind is GapKind.THROTTLED:
                    limiter.throttled(self.account_id, self.region, service, operation,
                                      sent_at=started)
                if attempt == attempts or failure.final or failure.kind not in RETRYABLE:
                    raise
                self.ctx.stats.retries += 1
                if failure.kind is not GapKind.THROTTLED:
                    await asyncio.sleep(min(backoff(attempt), left))
                left -= time.monotonic() - started
                if left <= 0:
                    raise
                continue
            limiter.succeeded(self.account_id, self.region, service, operation)
            return resp
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _attempt(self, service: str, operation: str, method: Any,
                       params: dict[str, Any], deadline: float) -> dict[str, Any]:
        async with self.ctx.global_bound(), self._bounds[service]:
            self.ctx.stats.calls[f"{service}:{operation}"] += 1
            started = time.monotonic()
            try:
                async with asyncio.timeout(deadline):
                    resp = await method(**params)
            except CallFailed:
                raise  # refreshing assumed-role credentials failed: already classified
            except TimeoutError as exc:  # the deadline above, not botocore's read timeout
                self.ctx.stats.errors[GapKind.TIMEOUT.value] += 1
                limit = self.ctx.limits.call_timeout
                raise CallFailed(service, operation, Classified(
                    GapKind.TIMEOUT, "CallTimeout", f"no answer within {limit:g} s"
                ), final=True) from exc
            except Exception as exc:  # boundary: every failure is classified, none escapes raw
                c = classify(exc)
                self.ctx.stats.errors[c.kind.value] += 1
                self._log(service=service, operation=operation).debug(
                    "api_call_failed", kind=c.kind.value, code=c.code
                )
                raise CallFailed(service, operation, c) from exc
        self._log(service=service, operation=operation).debug(
            "api_call", ms=round((time.monotonic() - started) * 1000, 1)
        )
        return to_utc(resp)  # type: ignore[no-any-return]

    async def pages(
        self, service: str, operation: str, token_in: str, token_out: str, **params: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield every page of a listing. A failure mid-way raises CallFailed after the pages
        already yielded, so the caller can keep what it got and still record the listing as
        partial (never as complete)."""
        token: str | None = None
        while True:
            call_params = dict(params)
            if token:
                call_params[token_in] = token
            page = await self.call(service, operation, **call_params)
            yield page
            token = page.get(token_out)
            if not token:
                return

    def gap(
        self,
        failure: CallFailed,
        kinds: tuple[Kind, ...] = (),
        resource_arn: str | None = None,
    ) -> Gap:
        g = Gap(
            account_id=self.account_id,
            region=self.region,
            service=failure.service,
            operation=failure.operation,
            kind=failure.kind,
            message=failure.classified.message[:1000],
            kinds=kinds,
            resource_arn=resource_arn,
        )
        self.gaps.append(g)
        self._log(service=failure.service, operation=failure.operation).warning(
            "collection_gap",
            kind=g.kind.value,
            kinds=[k.value for k in kinds],
            resource=resource_arn,
        )
        return g


def regional_sts_endpoint(region: str) -> str | None:
    """STS in the region itself, not the global endpoint: lower latency, no dependency on
    us-east-1, and session tokens valid in every region. None leaves it to botocore."""
    if region.startswith("cn-"):
        return f"https://sts.{region}.amazonaws.com.cn"
    if region.split("-")[0] in ("us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"):
        return None if "-iso" in region else f"https://sts.{region}.amazonaws.com"
    return None
