"""Client-side rate limits: an adaptive token bucket per (account, region, service, operation).

AWS throttles per account, region and API: DescribeModel and DescribeEndpoint each have their
own quota. A bucket per operation keeps every quota busy at once, where one per service would
make a scan wait on the sum of its calls to that service. Most quotas are not published, so
each bucket starts at a configured ceiling and adapts like TCP's congestion control: a
throttling answer cuts its rate (once per burst of throttles, since one overshoot throttles
every call in flight) and throttle-free time raises it again, never above the ceiling. Staying
just under the real quota costs less than riding botocore's retries, which sleep seconds and,
after too many, turn a listing into a recorded gap.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping
from types import MappingProxyType

# Ceilings in requests per second per (account, region, operation), by service; a key may
# also name one operation (`sagemaker:ListTrainingJobs`), which wins over its service. Where
# AWS publishes a rate it is used (CloudWatch DescribeAlarms: 9/s); elsewhere a figure the
# service is seen to sustain for Describe/List calls, which adaptation lowers when AWS says
# so. Global services (STS, Organizations) are shared by the whole organisation: the lowest.
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
# The ceilings a user may set: slower than one call a minute never finishes a scan, and NaN or
# infinity is not a rate.
MIN_RATE = 0.01
MAX_RATE = 1_000_000.0


def rate_problem(rate: float) -> str | None:
    """Why `rate` cannot be a ceiling (None when it can); false comparisons catch NaN too."""
    if MIN_RATE <= rate <= MAX_RATE:
        return None
    return f"must be from {MIN_RATE:g} to {MAX_RATE:g} calls a second, got {rate:g}"
DEFAULT_BURST_SECONDS = 1.0  # a bucket holds this many seconds' worth of tokens

# Adaptation: a throttle halves the rate, unless the throttled call was sent before the last
# cut (one overshoot throttles every call then in flight: one signal, not many). Throttle-free
# seconds add GROWTH x the rate, so after a cut the bucket is back at the rate that was
# throttled in ln(1 / CUT) / GROWTH seconds (~23 s): the quota stays ~75% busy or more, and a
# sequential pager throttled at 2/s from a ceiling of 20/s is paced in three or four retries.
CUT = 0.5
GROWTH = 0.03
FLOOR = 0.2  # never slower than one call per five seconds


class TokenBucket:
    """`rate` tokens per second, at most `capacity` saved up; `acquire` waits for one.

    `throttled` and `succeeded` adapt the rate between `floor` and `ceiling`.
    """

    def __init__(self, rate: float, capacity: float, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("a rate must be positive")
        self.ceiling = rate
        self.rate = rate
        self.burst_seconds = max(1.0, capacity) / rate
        self._clock = clock
        self._tokens = max(1.0, capacity)
        self._stamp: float | None = None
        self._cut_at: float | None = None
        self._grown_at: float | None = None
        self._lock = asyncio.Lock()

    @property
    def capacity(self) -> float:
        return max(1.0, self.rate * self.burst_seconds)

    def _refill(self, now: float) -> None:
        if self._stamp is not None:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> float:
        """Take one token, sleeping until there is one; the seconds waited."""
        entered = self._clock()
        # The lock makes waiters queue in order instead of all waking for the same token; the
        # time queued behind other callers is waiting for a token too.
        waited = self._lock.locked()
        async with self._lock:
            self._refill(self._clock())
            while self._tokens < 1.0:
                waited = True
                await asyncio.sleep((1.0 - self._tokens) / self.rate)
                self._refill(self._clock())
            self._tokens -= 1.0
        return self._clock() - entered if waited else 0.0

    def throttled(self, sent_at: float | None = None) -> bool:
        """AWS throttled a call sent at `sent_at` (this bucket's clock; default now): cut the
        rate, once per overshoot. True when it was cut."""
        now = self._clock()
        sent = now if sent_at is None else sent_at
        if self._cut_at is not None and sent < self._cut_at:
            return False  # sent at the old rate: the cut already answered this overshoot
        self._refill(now)
        self.rate = max(FLOOR, self.rate * CUT)
        self._tokens = min(self._tokens, 0.0)  # the server's bucket is empty too
        self._cut_at = self._grown_at = now
        return True

    def succeeded(self) -> None:
        """A call went through: grow back towards the ceiling with throttle-free time."""
        if self.rate >= self.ceiling:
            return
        now = self._clock()
        since = now - (self._grown_at if self._grown_at is not None else now)
        self._grown_at = now
        self._refill(now)
        self.rate = min(self.ceiling, self.rate * (1.0 + GROWTH * since))


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
        self._buckets: dict[tuple[str, str, str, str], TokenBucket] = {}
        self.waited = 0.0  # seconds calls spent waiting, summed: what the summary reports
        self.throttles: Counter[str] = Counter()  # throttling answers per service:Operation
        self.cuts = 0  # how often some bucket slowed down

    def rate_for(self, service: str, operation: str = "") -> float:
        rate = self.rates.get(f"{service}:{operation}") if operation else None
        return rate if rate is not None else self.rates.get(service, self.default_rate)

    def bucket(self, account_id: str, region: str, service: str,
               operation: str = "") -> TokenBucket:
        key = (account_id, region, service, operation)
        if key not in self._buckets:
            rate = self.rate_for(service, operation)
            self._buckets[key] = TokenBucket(rate, rate * self.burst_seconds)
        return self._buckets[key]

    async def acquire(self, account_id: str, region: str, service: str,
                      operation: str = "") -> None:
        self.waited += await self.bucket(account_id, region, service, operation).acquire()

    def throttled(self, account_id: str, region: str, service: str, operation: str,
                  sent_at: float | None = None) -> None:
        """A throttling answer to a call sent at `sent_at` (time.monotonic())."""
        self.throttles[f"{service}:{operation}"] += 1
        if self.bucket(account_id, region, service, operation).throttled(sent_at):
            self.cuts += 1

    def succeeded(self, account_id: str, region: str, service: str, operation: str) -> None:
        self.bucket(account_id, region, service, operation).succeeded()
