"""A scan whose requested regions are all off has nothing to scan, which is not a failure; a
scan that could not read what was there is one."""

from __future__ import annotations

from agent.scan import NOTHING_TO_SCAN, AccountOutcome, nothing_to_scan

OFF = "has no region to scan: ap-east-1 not enabled in this account (opt-in status: not-opted-in)"


def _idle(account: str) -> AccountOutcome:
    return AccountOutcome(account, [], [], 0, state="skipped", reason=OFF, nothing_to_scan=OFF)


def test_nothing_to_scan_when_every_targeted_account_has_its_regions_off() -> None:
    """Every account idle, or left out by the plan (suspended): nothing to scan, said why."""
    suspended = AccountOutcome("222222222222", [], [], 0, state="skipped", reason="SUSPENDED")
    note = nothing_to_scan([_idle("111111111111"), suspended])
    assert note.startswith(NOTHING_TO_SCAN) and "111111111111 " + OFF in note
    assert "222222222222" not in note


def test_nothing_to_scan_is_not_claimed_over_a_failure() -> None:
    """An account that failed (a refused role) or was only left out by the plan keeps the scan
    a failure: nothing is said to have been merely skipped."""
    refused = AccountOutcome("333333333333", [], [], 0, state="failed", reason="assume")
    suspended = AccountOutcome("222222222222", [], [], 0, state="skipped", reason="SUSPENDED")
    assert nothing_to_scan([_idle("111111111111"), refused]) == ""
    assert nothing_to_scan([suspended]) == ""
    assert nothing_to_scan([]) == ""
