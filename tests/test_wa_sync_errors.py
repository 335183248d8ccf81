"""wa-sync failures and scope against a stubbed Well-Architected Tool: one-line errors that say
what was written, the lens hint, the evidence scope."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.stub import Stubber

from agent.store import Store
from agent.wa.sync import SyncFailed
from tests.test_wa_fakes import (
    ACCOUNT,
    LEGACY_QUESTIONS,
    OTHER,
    SCALING,
    WA_REGION,
    WID,
    Review,
    choice_plan,
    seed,
    sync,
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path_factory.mktemp('wa') / 'mllens.db'}") as s:
        seed(s)
        yield s


def test_sync_workload_without_ml_lens_fails_with_hint(store: Store) -> None:
    """No ML Lens review on the workload: one message saying how to associate the lens."""
    review = Review(LEGACY_QUESTIONS)

    def setup(stub: Stubber) -> None:
        review.workload(stub)
        stub.add_response("list_lens_reviews", {"WorkloadId": WID, "LensReviewSummaries": [
            {"LensAlias": "wellarchitected", "LensStatus": "CURRENT"}]},
            {"WorkloadId": WID, "MaxResults": 50})

    with pytest.raises(SyncFailed) as err:
        sync(store, setup)
    msg = str(err.value)
    assert "no machinelearning lens review" in msg and "wellarchitected" in msg
    assert f"associate-lenses --workload-id {WID} --lens-aliases machinelearning" in msg


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("AccessDeniedException", 403, "access denied: wellarchitected:GetWorkload"),
        ("ResourceNotFoundException", 404, f"workload {WID} not found in {WA_REGION}"),
        ("ThrottlingException", 400, "throttled by the Well-Architected Tool on GetWorkload"),
    ],
)
def test_sync_read_errors_are_one_line(store: Store, code: str, status: int, expected: str) -> None:
    """Denied, missing and throttled workloads give one line naming the cause; nothing written."""

    def setup(stub: Stubber) -> None:
        stub.add_client_error("get_workload", code, "message from AWS", status,
                              expected_params={"WorkloadId": WID})

    with pytest.raises(SyncFailed) as err:
        sync(store, setup, apply=True)
    msg = str(err.value)
    assert expected in msg and "\n" not in msg
    assert msg.endswith("; nothing was written")


def test_sync_throttled_write_says_what_was_written(store: Store) -> None:
    """A write throttled after another succeeded stops the run and names the written answer."""
    review = Review(LEGACY_QUESTIONS)

    def setup(stub: Stubber) -> None:
        review.reads(stub)
        review.get_answer(stub, "OPS4")
        stub.add_response("update_answer", {"WorkloadId": WID, "LensAlias": "machinelearning"},
                          None)
        review.get_answer(stub, "REL1")
        stub.add_client_error("update_answer", "ThrottlingException", "Rate exceeded", 400)

    with pytest.raises(SyncFailed) as err:
        sync(store, setup, apply=True)
    assert "throttled" in str(err.value) and "on UpdateAnswer" in str(err.value)
    assert str(err.value).endswith("already written: 1 answers (OPS4)")
    assert err.value.report.written == ["OPS4"]


def test_sync_scope_needs_accounts(store: Store) -> None:
    """A workload that lists no accounts needs --account: evidence is never guessed."""
    review = Review(LEGACY_QUESTIONS, accounts=())

    with pytest.raises(SyncFailed, match="pass --account"):
        sync(store, review.workload)


def test_sync_other_account_evidence_excluded(store: Store) -> None:
    """Evidence of an account outside the scope is never counted, whatever it says."""
    review = Review(LEGACY_QUESTIONS)

    def setup(stub: Stubber) -> None:
        review.reads(stub)
        review.get_answer(stub, "OPS4")
        review.get_answer(stub, "REL1")

    mine = sync(store, setup)
    assert choice_plan(mine, "REL1", "REL1_3").evidence.failed == 0
    theirs = sync(store, setup, accounts=(OTHER,))
    assert choice_plan(theirs, "REL1", "REL1_3").evidence.failed == len(SCALING)
    assert mine.evidence is not None and mine.evidence.scope.accounts == (ACCOUNT,)


def test_sync_server_error_on_write_is_flagged_uncertain(store: Store) -> None:
    """A write that fails with a server error may have landed: the message says to check it."""
    review = Review(LEGACY_QUESTIONS)

    def setup(stub: Stubber) -> None:
        review.reads(stub)
        review.get_answer(stub, "OPS4")
        stub.add_client_error("update_answer", "InternalServerException", "try again", 500)

    with pytest.raises(SyncFailed) as err:
        sync(store, setup, apply=True)
    msg = str(err.value)
    assert "update of OPS4 may or may not have been applied" in msg
    assert msg.endswith("; no other answer was written")
