"""Building small, hand-checkable histories for the store's history tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from agent.domain import Pillar, Result, Severity, Status
from agent.mutes import MuteSet
from agent.store import AccountWrite, Store

A = "111111111111"
B = "222222222222"
REGION = "us-east-1"
C1 = "sagemaker_notebook_root_access_disabled"  # security, high
C2 = "sagemaker_endpoint_instance_count_redundant"  # reliability, medium
_PILLAR = {C1: Pillar.SECURITY, C2: Pillar.RELIABILITY}
_SEVERITY = {C1: Severity.HIGH, C2: Severity.MEDIUM}


class Clock:
    """The store's clock, set by the test."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 12, 1, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def arn(account: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{account}:endpoint/{name}"


def finding(
    check: str,
    account: str,
    resource: str,
    status: Status,
    at: datetime,
    *,
    severity: Severity | None = None,
    reason: str | None = None,
    evidence: dict[str, object] | None = None,
) -> Result:
    return Result(
        check_id=check,
        status=status,
        resource_arn=arn(account, resource),
        reason=reason or f"{check} is {status.value.lower()}",
        account_id=account,
        region=REGION,
        severity=severity or _SEVERITY[check],
        pillar=_PILLAR[check],
        resource_kind="endpoints",
        evidence=evidence if evidence is not None else {"EndpointName": resource},
        observed_at=at,
    )


def write_scan(
    store: Store,
    clock: Clock,
    at: datetime,
    accounts: dict[str, Sequence[Result]],
    *,
    complete: bool = True,
    mutes: MuteSet | None = None,
    status: str = "complete",
) -> tuple[int, dict[str, AccountWrite]]:
    """One finished scan at `at` over `accounts`; `complete` says whether C1 and C2 were
    evaluated completely in REGION (so unreported findings become GONE)."""
    clock.now = at
    sid = store.start_scan({"accounts": sorted(accounts)})
    scopes = {(REGION, C1), (REGION, C2)} if complete else set()
    state = "complete" if complete else "failed"
    written = {}
    for account, results in accounts.items():
        written[account] = store.write_account(
            sid, account, list(results), [], [],
            [(REGION, "endpoints", state, None if complete else "DescribeEndpoint: denied")],
            scopes, mutes=mutes,
        )
    store.finish_scan(sid, status, 0, {})
    return sid, written


def by_resource(rows: Iterable[object]) -> dict[tuple[str, str], object]:
    """Rows keyed by (check, resource name)."""
    return {(r.check_id, r.resource_arn.rsplit("/", 1)[-1]): r for r in rows}  # type: ignore[attr-defined]
