"""Client-side rate limits: a token bucket per (account, region, service), shared by every call.

AWS throttles per account and region, per API or per service. Staying under that rate costs less
than riding botocore's retries (which sleep exponentially and, after too many, turn a listing
into a recorded gap). The defaults sit at or under AWS's published or commonly observed
steady-state rates; `Limits.rates` overrides them per service.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import MappingProxyType

# Requests per second per (account, region, service). Where AWS publishes a rate it is used
# (CloudWatch DescribeAlarms: 9/s); elsewhere a conservative figure under what the service is
# seen to sustain for Describe/List calls. Global services (STS, Organizations) are shared by
# the whole organisation, so they get the lowest.
DEFAULT_RATES: Mapping[str, float] = MappingProxyType({
    "sagemaker": 20.0,
    "cloudwatch": 9.0,
    "glue": 20.0,
    "application-autoscaling": 20.0,
    "ec2": 20.0,
    "sts": 20.0,
    "organizations": 5.0,
})
DEFAULT_RATE = 10.0  # any other service
DEFAULT_BURST_SECONDS = 2.0  # a bucket holds this many seconds' worth of tokens


class TokenBucket:
    """`rate` tokens per second, at most `capacity` saved up; `acquire` waits for one."""

    def __init__(self, rate: float, capacity: float) -> None:
        if rate <= 0:
            raise ValueError("a rate must be positive")
        self.rate = rate
        self.capacity = max(1.0, capacity)
        self._tokens = self.capacity
        self._stamp: float | None = None
        self._lock = asyncio.Lock()

    def _refill(self, now: float) -> None:
        if self._stamp is not None:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> float:
        """Take one token, sleeping until there is one; the seconds waited."""
        loop = asyncio.get_running_loop()
        waited = 0.0
        # The lock makes waiters queue in order instead of all waking for the same token.
        async with self._lock:
            self._refill(loop.time())
            if self._tokens < 1.0:
                delay = (1.0 - self._tokens) / self.rate
                await asyncio.sleep(delay)
                waited = delay
                self._refill(loop.time())
            self._tokens -= 1.0
        return waited


class RateLimiter:
    """The buckets of one scan, created on first use."""

    def __init__(
        self,
        rates: Mapping[str, float] | None = None,
        default_rate: float = DEFAULT_RATE,
        burst_seconds: float = DEFAULT_BURST_SECONDS,
    ) -> None:
        self.rates = dict(DEFAULT_RATES if rates is None else rates)
        self.default_rate = default_rate
        self.burst_seconds = burst_seconds
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}
        self.waited = 0.0  # seconds calls spent waiting, summed: what the summary reports

    def rate_for(self, service: str) -> float:
        return self.rates.get(service, self.default_rate)

    def bucket(self, account_id: str, region: str, service: str) -> TokenBucket:
        key = (account_id, region, service)
        if key not in self._buckets:
            rate = self.rate_for(service)
            self._buckets[key] = TokenBucket(rate, rate * self.burst_seconds)
        return self._buckets[key]

    async def acquire(self, account_id: str, region: str, service: str) -> None:
        self.waited += await self.bucket(account_id, region, service).acquire()
