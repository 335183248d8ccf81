"""The adaptive bucket: a throttle cuts the rate once per overshoot, quiet time restores it,
and neither goes past the floor or the configured ceiling."""

from __future__ import annotations

import asyncio
import time

import pytest

from agent.aws import ratelimit
from agent.aws.ratelimit import RateLimiter, TokenBucket
from tests.test_emulator_pressure import Clock


def test_throttles_of_calls_sent_before_a_cut_do_not_cut_again() -> None:
    clock = Clock()
    bucket = TokenBucket(20.0, 20.0, clock=clock)
    sent = clock.t
    clock.t += 0.05
    assert bucket.throttled(sent) is True
    assert bucket.rate == pytest.approx(20.0 * ratelimit.CUT)
    clock.t += 0.05
    assert bucket.throttled(sent) is False  # in flight at the old rate: the same overshoot
    assert bucket.rate == pytest.approx(20.0 * ratelimit.CUT)
    resent = clock.t  # a retry sent after the cut and throttled again: a new signal
    clock.t += 0.05
    assert bucket.throttled(resent) is True
    assert bucket.rate == pytest.approx(20.0 * ratelimit.CUT**2)


def test_rate_never_falls_under_the_floor() -> None:
    clock = Clock()
    bucket = TokenBucket(1.0, 1.0, clock=clock)
    for _ in range(50):
        clock.t += 1.0
        bucket.throttled()
    assert bucket.rate == ratelimit.FLOOR


def test_quiet_time_restores_the_rate_up_to_the_ceiling() -> None:
    clock = Clock()
    bucket = TokenBucket(10.0, 10.0, clock=clock)
    bucket.throttled()
    cut = bucket.rate
    clock.t += 5.0
    bucket.succeeded()
    assert cut < bucket.rate < 10.0
    for _ in range(100):
        clock.t += 1.0
        bucket.succeeded()
    assert bucket.rate == 10.0


def test_a_cut_empties_the_bucket_so_the_next_call_waits() -> None:
    """After a throttle the server's bucket is empty; the client's saved burst is dropped."""

    async def go() -> float:
        bucket = TokenBucket(1000.0, 5.0)
        await bucket.acquire()
        bucket.throttled()
        return await bucket.acquire()

    assert asyncio.run(go()) > 0


def test_limiter_counts_throttles_per_operation_and_cuts() -> None:
    limiter = RateLimiter({"sagemaker": 10.0})
    sent = time.monotonic()  # three calls in flight together, all throttled
    for _ in range(3):
        limiter.throttled("1", "us-east-1", "sagemaker", "ListTrainingJobs", sent_at=sent)
    assert limiter.throttles == {"sagemaker:ListTrainingJobs": 3}
    assert limiter.cuts == 1
    assert limiter.bucket("1", "us-east-1", "sagemaker", "ListTrainingJobs").rate < 10.0
    assert limiter.bucket("1", "us-east-1", "sagemaker", "DescribeModel").rate == 10.0


def test_time_queued_behind_other_callers_counts_as_waiting() -> None:
    """Three callers at once on a bucket of one token at 20/s: the first takes the token, the
    others wait a token interval each, including the time queued behind the one sleeping."""

    async def go() -> list[float]:
        bucket = TokenBucket(20.0, 1.0)
        return list(await asyncio.gather(*(bucket.acquire() for _ in range(3))))

    waits = sorted(asyncio.run(go()))
    assert waits[0] == 0.0
    assert waits[1] == pytest.approx(0.05, abs=0.03)
    assert waits[2] == pytest.approx(0.10, abs=0.04)
