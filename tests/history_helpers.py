"""Building small, hand-checkable histories for the store's history tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from agent.domain import Pillar, Result, Severity, Status
from agent.mutes import MuteRule, MuteSet
from agent.store import AccountWrite, Store

A = "111111111111"
B = "222222222222"
REGION = "us-east-1"
C1 = "sagemaker_notebook_root_access_enabled"  # security, high
C2 = "sagemaker_endpoint_config_initial_instance_count_le_1"  # reliability, medium
D1 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
D2 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
D2_LATE = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
D3 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
MUTE_B = MuteRule("accepted while B is decommissioned", account=B, check=C1,
                  owner="ml-platform", expires=datetime(2026, 12, 5, tzinfo=UTC))
F, P, U = Status.FAIL, Status.PASS, Status.UNKNOWN
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


def build_history(store: Store, clock: Clock, mute: MuteRule = MUTE_B) -> list[int]:
    """The hand-computed history the trend, diff, summary and CLI tests check.

    f1 = C1/r1 in A, f2 = C2/r1 in A, f3 = C1/r2 in A, f4 = C1/r3 in B, f5 = C2/r4 in B.
    Scan 1 (D1): f1, f2, f4 FAIL, f3 PASS. Scan 2 (D2): f1 PASS, f3 FAIL, f4 FAIL critical.
    Scan 3 (D2 16:00, only A): f1 FAIL again, f2 not reported (GONE). Scan 4 (D3, with
    `mute` applied): f3 PASS, f4 UNKNOWN (muted), f5 FAIL.
    """
    s1, _ = write_scan(store, clock, D1, {
        A: [finding(C1, A, "r1", F, D1), finding(C2, A, "r1", F, D1),
            finding(C1, A, "r2", P, D1)],
        B: [finding(C1, B, "r3", F, D1)],
    })
    s2, _ = write_scan(store, clock, D2, {
        A: [finding(C1, A, "r1", P, D2), finding(C2, A, "r1", F, D2),
            finding(C1, A, "r2", F, D2)],
        B: [finding(C1, B, "r3", F, D2, severity=Severity.CRITICAL)],
    })
    s3, _ = write_scan(store, clock, D2_LATE, {
        A: [finding(C1, A, "r1", F, D2_LATE), finding(C1, A, "r2", F, D2_LATE)],
    })
    s4, _ = write_scan(store, clock, D3, {
        A: [finding(C1, A, "r1", F, D3), finding(C1, A, "r2", P, D3)],
        B: [finding(C1, B, "r3", U, D3, reason="inventory not collected"),
            finding(C2, B, "r4", F, D3)],
    }, mutes=MuteSet((mute,), "mutes.yaml"))
    return [s1, s2, s3, s4]
