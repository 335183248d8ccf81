"""wa-sync against a stubbed Well-Architected Tool: mapping on both lens versions, the exact
UpdateAnswer calls, read-modify-write, selection, truncation (botocore's Stubber: moto has no WA
API)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.stub import ANY, Stubber

from agent.store import Store
from agent.wa.model import ANSWER_NOTES_MAX, CHOICE_NOTES_MAX
from agent.wa.notes import TRUNCATED
from tests.test_wa_fakes import (
    CURRENT_QUESTIONS,
    FAILING_CHECK,
    LEGACY_QUESTIONS,
    LENS_ARN,
    METRICS,
    OBSERVABILITY,
    SCALING,
    SCAN_UID,
    WID,
    Review,
    choice_plan,
    plan_of,
    scan_date,
    seed,
    sync,
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path_factory.mktemp('wa') / 'mllens.db'}") as s:
        seed(s)
        yield s



def test_sync_legacy_review_dry_run_writes_nothing(store: Store) -> None:
    """A 2023 review (ops4_3 -> mloe-15.html) is mapped by its pages; a dry run only reads."""
    review = Review(LEGACY_QUESTIONS)

    def setup(stub: Stubber) -> None:
        review.reads(stub)
        # Only questions with a choice whose practice has checks are read; none is written.
        review.get_answer(stub, "OPS4")
        review.get_answer(stub, "REL1")

    report = sync(store, setup)
    mapped = {m.choice.id: m.practice.id for _, m in report.mappings if m.practice}
    assert mapped["ops4_3"] == "MLOPS06-BP02"
    assert mapped["ops4_1"] == "MLOPS05-BP01"
    assert mapped["REL1_3"] == "MLREL05-BP01"
    assert mapped["ops1_1"] == "MLOPS01-BP01"
    assert report.written == []
    obs = choice_plan(report, "OPS4", "ops4_3")
    assert obs.evidence.failed == 2 and obs.evidence.unknown == 1
    assert "FAIL 2" in obs.notes_after and "endpoint/ep-a" in obs.notes_after
    assert plan_of(report, "OPS4").params is not None  # planned, not sent


def test_sync_current_review_apply_sends_planned_update(store: Store) -> None:
    """A re-published review (new IDs, mlops06-bp02.html pages) gets exactly the planned calls."""
    review = Review(CURRENT_QUESTIONS, version="2025-11-19")
    date = scan_date(store)
    head = f"scan {SCAN_UID[:8]} of {date}"
    n_obs, n_metrics, n_scaling = len(OBSERVABILITY), len(METRICS), len(SCALING)
    obs_pass = n_obs - 2

    def setup(stub: Stubber) -> None:
        review.reads(stub)
        review.get_answer(stub, "MLOPS06")
        stub.add_response("update_answer", {"WorkloadId": WID, "LensAlias": "machinelearning"}, {
            "WorkloadId": WID, "LensAlias": "machinelearning", "QuestionId": "MLOPS06",
            "SelectedChoices": [],
            "ChoiceUpdates": {
                "mlops06_bp02": {"Status": "UNSELECTED", "Notes": ANY},
                "mlops05_bp01": {"Status": "UNSELECTED", "Notes": (
                    f"[mllens]{head}: {n_metrics} checks: PASS {n_metrics}, FAIL 0, UNKNOWN 0"
                    "[/mllens]")},
            },
            "Notes": ANY, "IsApplicable": True, "Reason": "NONE",
        })
        review.get_answer(stub, "MLREL05")
        stub.add_response("update_answer", {"WorkloadId": WID, "LensAlias": "machinelearning"}, {
            "WorkloadId": WID, "LensAlias": "machinelearning", "QuestionId": "MLREL05",
            "SelectedChoices": [],
            "ChoiceUpdates": {"mlrel05_bp01": {"Status": "UNSELECTED", "Notes": (
                f"[mllens]{head}: {n_scaling} checks: PASS {n_scaling}, FAIL 0, UNKNOWN 0"
                "[/mllens]")}},
            "Notes": ANY, "IsApplicable": True, "Reason": "NONE",
        })

    report = sync(store, setup, apply=True)
    assert report.written == ["MLOPS06", "MLREL05"]
    sent = plan_of(report, "MLOPS06").params
    obs_note = sent["ChoiceUpdates"]["mlops06_bp02"]["Notes"]
    assert obs_note.startswith(f"[mllens]{head}: {n_obs} checks: PASS {obs_pass}, FAIL 2, "
                               "UNKNOWN 1; failing: endpoint/ep-a, endpoint/ep-b")
    assert f"mlops06_bp02 = MLOPS06-BP02 (MLOE-15): PASS {obs_pass}, FAIL 2" in sent["Notes"]
    assert f"- {FAILING_CHECK}: PASS 0, FAIL 2, UNKNOWN 0; failing: endpoint/ep-a" in sent["Notes"]
    # mlops06_bp01 maps to a practice without checks: not in the update at all.
    assert "mlops06_bp01" not in sent["ChoiceUpdates"]
    assert "mlops06_bp01" not in sent["Notes"]


def test_sync_keeps_human_selections_and_notes(store: Store) -> None:
    """Read-modify-write: selected choices stay selected (even a failing one), a NOT_APPLICABLE
    choice keeps its reason, and human notes around the mllens block are kept."""
    review = Review(LEGACY_QUESTIONS)
    human = "Reviewed with the platform team on 2026-04-02.\nOwner: ana"
    stale = "[mllens]scan deadbeef of 2026-01-01: old evidence[/mllens]"
    review.state["OPS4"] = {
        "selected": ("ops4_3", "ops4_2"),
        "notes": f"{human}\n\n{stale}\nFollow-up: JIRA-12",
        "choice_notes": {"ops4_3": "Dashboards in Grafana", "ops4_2": "see wiki"},
        "not_applicable": ("ops4_1",),
    }

    def setup(stub: Stubber) -> None:
        review.reads(stub)
        review.get_answer(stub, "OPS4")
        stub.add_response("update_answer", {"WorkloadId": WID, "LensAlias": "machinelearning"}, {
            "WorkloadId": WID, "LensAlias": "machinelearning", "QuestionId": "OPS4",
            "SelectedChoices": ["ops4_3", "ops4_2"],
            "ChoiceUpdates": {
                "ops4_3": {"Status": "SELECTED", "Reason": "NONE", "Notes": ANY},
                "ops4_2": {"Status": "SELECTED", "Reason": "NONE", "Notes": "see wiki"},
                "ops4_1": {"Status": "NOT_APPLICABLE", "Reason": "OUT_OF_SCOPE", "Notes": ANY},
            },
            "Notes": ANY, "IsApplicable": True, "Reason": "NONE",
        })
        review.get_answer(stub, "REL1")
        stub.add_response("update_answer", {"WorkloadId": WID, "LensAlias": "machinelearning"},
                          None)

    report = sync(store, setup, apply=True, select_passing=True)
    ops4 = plan_of(report, "OPS4")
    assert ops4.params is not None
    notes = ops4.params["Notes"]
    assert notes.startswith(human + "\n\n[mllens]")
    assert notes.endswith("[/mllens]\nFollow-up: JIRA-12")
    assert "deadbeef" not in notes
    obs = ops4.params["ChoiceUpdates"]["ops4_3"]["Notes"]
    assert obs.startswith("Dashboards in Grafana\n\n[mllens]")
    failing = choice_plan(report, "OPS4", "ops4_3")
    assert failing.status_after == "SELECTED" and "never unselects" in (failing.warning or "")
    # ops4_1 passes, but a person marked it not applicable: mllens does not select it.
    assert choice_plan(report, "OPS4", "ops4_1").status_after == "NOT_APPLICABLE"


def test_sync_select_passing_selects_only_fully_passing(store: Store) -> None:
    """With --select-passing, a choice whose every mapped check passes is added to the
    selection; one with a FAIL or UNKNOWN is not; without the flag nothing is selected."""
    review = Review(LEGACY_QUESTIONS)

    def setup(stub: Stubber) -> None:
        review.reads(stub)
        review.get_answer(stub, "OPS4")
        review.get_answer(stub, "REL1")

    report = sync(store, setup, select_passing=True)
    assert plan_of(report, "OPS4").selected_after == ("ops4_1",)
    assert plan_of(report, "REL1").selected_after == ("REL1_3",)
    rel = plan_of(report, "REL1").params
    assert rel is not None and rel["ChoiceUpdates"]["REL1_3"]["Status"] == "SELECTED"

    plain = sync(store, setup)
    assert all(p.selected_after == () for p in plain.plans)
    assert "--select-passing" in (choice_plan(plain, "REL1", "REL1_3").warning or "")


def test_sync_none_of_these_blocks_selection(store: Store) -> None:
    """A question answered "None of these" by a person gets notes but no selection."""
    review = Review(LEGACY_QUESTIONS)
    review.state["REL1"] = {"selected": ("rel1_no",)}

    def setup(stub: Stubber) -> None:
        review.reads(stub)
        review.get_answer(stub, "OPS4")
        review.get_answer(stub, "REL1")

    report = sync(store, setup, select_passing=True)
    rel = plan_of(report, "REL1")
    assert rel.selected_after == ("rel1_no",)
    assert "None of these" in (choice_plan(report, "REL1", "REL1_3").warning or "")


def test_sync_truncates_mllens_block_at_the_limits(store: Store) -> None:
    """Long human notes leave the mllens block truncated to fit both limits; the human text is
    whole."""
    review = Review(LEGACY_QUESTIONS)
    human_answer = "h" * (ANSWER_NOTES_MAX - 300)
    human_choice = "c" * (CHOICE_NOTES_MAX - 60)
    review.state["OPS4"] = {"notes": human_answer, "choice_notes": {"ops4_3": human_choice}}

    def setup(stub: Stubber) -> None:
        review.reads(stub)
        review.get_answer(stub, "OPS4")
        review.get_answer(stub, "REL1")

    report = sync(store, setup)
    ops4 = plan_of(report, "OPS4")
    assert ops4.params is not None
    notes = ops4.params["Notes"]
    assert len(notes) <= ANSWER_NOTES_MAX and notes.startswith(human_answer)
    assert notes.endswith(TRUNCATED + "[/mllens]") and ops4.notes_truncated
    note = ops4.params["ChoiceUpdates"]["ops4_3"]["Notes"]
    assert len(note) <= CHOICE_NOTES_MAX and note.startswith(human_choice)
    assert note.endswith("…[/mllens]")


def test_sync_choice_without_checks_untouched(store: Store) -> None:
    """A choice whose practice has no check keeps its note and status and gets no update."""
    review = Review(LEGACY_QUESTIONS)
    review.state["OPS4"] = {"choice_notes": {"ops4_2": "template in the wiki"}}

    def setup(stub: Stubber) -> None:
        review.reads(stub)
        review.get_answer(stub, "OPS4")
        review.get_answer(stub, "REL1")

    report = sync(store, setup)
    params = plan_of(report, "OPS4").params
    assert params is not None
    # Carried exactly as read, because it was read; never given an mllens note.
    assert params["ChoiceUpdates"]["ops4_2"] == {"Status": "UNSELECTED", "Reason": "NONE",
                                                 "Notes": "template in the wiki"}
    assert all(c.choice_id != "ops4_2" for c in plan_of(report, "OPS4").choices)
    assert "ops4_2" not in params["Notes"]


def test_sync_second_run_is_unchanged(store: Store) -> None:
    """Re-running on the notes a first run wrote plans no call: nothing changed."""
    review = Review(LEGACY_QUESTIONS)

    def first(stub: Stubber) -> None:
        review.reads(stub)
        review.get_answer(stub, "OPS4")
        review.get_answer(stub, "REL1")

    report = sync(store, first)
    for plan in report.plans:
        assert plan.params is not None
        review.state[plan.question_id] = {
            "notes": plan.params["Notes"],
            "choice_notes": {c: u["Notes"] for c, u in plan.params["ChoiceUpdates"].items()},
        }
    again = sync(store, first)
    assert [p.params for p in again.plans] == [None, None]


def test_sync_lens_by_arn_when_review_has_no_alias(store: Store) -> None:
    """`--lens` given as an ARN finds a review listed by ARN only, and calls use the ARN."""
    review = Review(LEGACY_QUESTIONS, lens_alias=None)

    def setup(stub: Stubber) -> None:
        review.reads(stub)
        review.get_answer(stub, "OPS4")
        review.get_answer(stub, "REL1")

    report = sync(store, setup, lens=LENS_ARN)
    assert report.lens is not None and report.lens.ref == LENS_ARN
    params = plan_of(report, "OPS4").params
    assert params is not None and params["LensAlias"] == LENS_ARN
