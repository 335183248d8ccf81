"""Every check in the catalog, proven: it can PASS and FAIL, and it says UNKNOWN and
NOT_APPLICABLE wherever it can (or declares why it cannot), through the real runner."""

from __future__ import annotations

import pytest

from agent.domain import Status
from checks import all_checks, by_id
from checks.runner import evaluate
from tests.contract_build import Case, Contract, result_key
from tests.contract_data import ALARMS, GLUE, INSTANCES, NOTEBOOKS, TAGS, TRAINING
from tests.contract_hosting import HOSTING, MONITOR
from tests.contract_objectives import OBJECTIVES

CONTRACTS: dict[str, Contract] = {
    **HOSTING, **MONITOR, **TRAINING, **NOTEBOOKS, **GLUE, **ALARMS, **INSTANCES, **TAGS,
    **OBJECTIVES,
}
CASES = [(check_id, status, case) for check_id, contract in sorted(CONTRACTS.items())
         for status, case in contract.items() if isinstance(case, Case)]


def test_contract_covers_every_check_in_the_catalog() -> None:
    """A check added to the catalog without contract cases fails here, and so does a case for
    a check that no longer exists."""
    listed = {c.id for c in all_checks()}
    assert sorted(listed - set(CONTRACTS)) == [], "checks without contract cases"
    assert sorted(set(CONTRACTS) - listed) == [], "contract cases for unknown checks"


def test_contract_states_every_status_for_every_check() -> None:
    """Each check proves PASS and FAIL, and UNKNOWN and NOT_APPLICABLE unless it declares why
    it cannot produce them."""
    for check_id, contract in CONTRACTS.items():
        assert set(contract) == set(Status), check_id
        assert isinstance(contract[Status.PASS], Case), check_id
        assert isinstance(contract[Status.FAIL], Case), check_id
        for status, case in contract.items():
            if isinstance(case, str):
                assert len(case) > 20, f"{check_id} {status}: say why it cannot"


@pytest.mark.parametrize(("check_id", "status", "case"), CASES,
                         ids=[f"{c}-{s.value}" for c, s, _ in CASES])
def test_contract_case_produces_its_status(check_id: str, status: Status, case: Case) -> None:
    """The case's inventory gives the target finding exactly the promised status."""
    check = by_id()[check_id]
    results = list(evaluate([check], case.inventory,
                            {check_id: dict(case.params)} if case.params else None,
                            case.options))
    got = {result_key(r.resource_arn, r.sub_resource): r.status for r in results}
    assert got.get(case.target) is status, (
        f"{check_id}: expected {status.value} on {case.target}, got {got} "
        f"({[r.reason for r in results]})")
    for r in results:
        assert r.reason and r.check_id == check_id and r.pillar is check.pillar
