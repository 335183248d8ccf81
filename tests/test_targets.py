"""Planning accounts and regions, the rate limiter and the coverage matrix: pure, no AWS."""

from __future__ import annotations

import asyncio

import pytest

from agent.aws.ratelimit import RateLimiter, TokenBucket
from agent.cli.coverage_cmd import build, reasons
from agent.targets import Caller, Member, TargetSpec, plan_accounts, plan_regions

CALLER = Caller("111111111111", "arn:aws:iam::111111111111:user/auditor", "aws")
MEMBERS = [
    Member("111111111111", "management", "ACTIVE"),
    Member("222222222222", "ml-prod", "ACTIVE"),
    Member("333333333333", "ml-dev", "ACTIVE"),
    Member("444444444444", "old-sandbox", "SUSPENDED"),
    Member("555555555555", "closing", "PENDING_CLOSURE"),
]


def test_plan_accounts_scans_active_members_through_the_role() -> None:
    """Only ACTIVE members are targets, each with the role ARN; others are skipped with why."""
    plan = plan_accounts(TargetSpec(organization=True, role_name="Audit"), CALLER, MEMBERS)
    assert [t.account_id for t in plan.targets] == ["111111111111", "222222222222",
                                                    "333333333333"]
    assert plan.targets[1].role_arn == "arn:aws:iam::222222222222:role/Audit"
    assert {s.account_id: s.reason for s in plan.skipped} == {
        "444444444444": "account is SUSPENDED, not ACTIVE",
        "555555555555": "account is PENDING_CLOSURE, not ACTIVE",
    }


def test_plan_accounts_filters_by_id_or_name_globs() -> None:
    """include/exclude globs match the account ID or the name, case-insensitively."""
    spec = TargetSpec(organization=True, role_name="Audit", include=("ML-*",),
                      exclude=("333*",))
    plan = plan_accounts(spec, CALLER, MEMBERS)
    assert [t.name for t in plan.targets] == ["ml-prod"]
    reasons_by_id = {s.account_id: s.reason for s in plan.skipped}
    assert reasons_by_id["333333333333"] == "matches exclude pattern '333*'"
    assert "include" in reasons_by_id["111111111111"]


def test_plan_accounts_explicit_list_inside_an_organisation() -> None:
    """Explicit accounts limit discovery; one not in the organisation is skipped, not guessed."""
    spec = TargetSpec(organization=True, role_name="Audit",
                      accounts=("222222222222", "999999999999"))
    plan = plan_accounts(spec, CALLER, MEMBERS)
    assert [t.account_id for t in plan.targets] == ["222222222222"]
    assert [s.account_id for s in plan.skipped] == ["999999999999"]


def test_plan_accounts_default_is_the_callers_own_account() -> None:
    """No organisation, no list: the caller's account, with its own credentials."""
    plan = plan_accounts(TargetSpec(), CALLER, None)
    assert [(t.account_id, t.role_arn) for t in plan.targets] == [("111111111111", None)]
    with pytest.raises(ValueError, match="give a role name"):
        plan_accounts(TargetSpec(accounts=("222222222222",)), CALLER, None)


@pytest.mark.parametrize("kwargs, message", [
    ({"organization": True}, "needs a role name"),
    ({"accounts": ("12345",)}, "not an AWS account ID"),
    ({"ou_ids": ("ou-bad",), "role_name": "A"}, "organizational unit"),
    ({"session_name": "x"}, "session name"),
    ({"external_id": "abc"}, "needs a role name"),
    ({"regions": ("us east",)}, "not a region"),
])
def test_target_spec_refuses_bad_input(kwargs: dict[str, object], message: str) -> None:
    """Malformed IDs, names and combinations are refused with a message saying which."""
    with pytest.raises(ValueError, match=message):
        TargetSpec(**kwargs)  # type: ignore[arg-type]


BY_SERVICE = {"sagemaker": {"us-east-1", "eu-west-1", "ap-east-1"},
              "glue": {"us-east-1", "ap-east-1"}}


def test_plan_regions_enabled_and_offered() -> None:
    """All enabled regions by default; services not offered in a region are left out there."""
    status = {"us-east-1": "opt-in-not-required", "eu-west-1": "opted-in",
              "ap-east-1": "not-opted-in"}
    plans = {p.region: p for p in plan_regions((), status, BY_SERVICE)}
    assert set(plans) == {"us-east-1", "eu-west-1"}
    assert plans["eu-west-1"].services == {"sagemaker"}
    assert plans["eu-west-1"].unavailable == {"glue": "glue is not offered in eu-west-1"}


def test_plan_regions_requested_but_disabled_is_skipped() -> None:
    """A requested region the account has not enabled is skipped with its opt-in status."""
    status = {"us-east-1": "opt-in-not-required", "ap-east-1": "not-opted-in"}
    [east, hk] = plan_regions(("us-east-1", "ap-east-1"), status, BY_SERVICE)
    assert east.skipped is None and hk.skipped == (
        "not enabled in this account (opt-in status: not-opted-in)")
    [unread] = plan_regions(("ap-east-1",), None, BY_SERVICE)
    assert unread.skipped is None  # region list unreadable: scanned as asked


def test_token_bucket_spends_its_burst_then_waits() -> None:
    """A bucket answers its capacity at once and makes the next call wait for a token."""

    async def go() -> list[float]:
        bucket = TokenBucket(rate=1000.0, capacity=2)
        return [await bucket.acquire() for _ in range(3)]

    waits = asyncio.run(go())
    assert waits[:2] == [0.0, 0.0] and waits[2] > 0


def test_rate_limiter_keys_by_account_region_operation() -> None:
    """Each (account, region, operation) has its own bucket at its service's rate, or at the
    rate given for that operation."""
    limiter = RateLimiter({"sagemaker": 5.0, "sagemaker:ListTrainingJobs": 2.0},
                          default_rate=2.0, burst_seconds=2.0)
    a = limiter.bucket("1", "us-east-1", "sagemaker", "DescribeModel")
    assert limiter.bucket("1", "us-east-1", "sagemaker", "DescribeModel") is a
    assert limiter.bucket("2", "us-east-1", "sagemaker", "DescribeModel") is not a
    assert limiter.bucket("1", "us-east-1", "sagemaker", "DescribeEndpoint") is not a
    assert (a.rate, a.capacity) == (5.0, 10.0)
    assert limiter.bucket("1", "us-east-1", "sagemaker", "ListTrainingJobs").rate == 2.0
    assert limiter.bucket("1", "us-east-1", "glue", "GetJobs").rate == 2.0


def test_coverage_matrix_folds_kinds_into_services() -> None:
    """Kinds fold into their service (partial when some were read and some not); account and
    region skips fill rows."""
    rows = [
        ("1", "us-east-1", "endpoints", "complete", ""),
        ("1", "us-east-1", "models", "failed", "ListModels: throttled"),
        ("1", "us-east-1", "glue_jobs", "complete", ""),
        ("1", "eu-west-1", "region", "skipped", "not enabled"),
        ("1", "*", "account", "partial", "sagemaker:ListModels throttled"),
        ("2", "*", "account", "failed", "assume_role_failed"),
    ]
    m = build(rows, {"endpoints": "sagemaker", "models": "sagemaker", "glue_jobs": "glue"})
    assert m.services == ["glue", "sagemaker"]
    assert m.cells["1"]["us-east-1"]["sagemaker"].label == "partial"
    assert m.cells["1"]["us-east-1"]["glue"].label == "scanned"
    assert {c.label for c in m.cells["1"]["eu-west-1"].values()} == {"skipped"}
    assert m.accounts["2"].label == "failed" and "2" not in m.cells
    lines = reasons(m, {"2": "no-role"})
    assert "2 (no-role): account failed: assume_role_failed" in lines
    assert "1 us-east-1 sagemaker: partial: models failed: ListModels: throttled" in lines
