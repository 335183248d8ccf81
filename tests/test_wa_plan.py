"""One answer's read-modify-write, planned from hand-built evidence (pure, no AWS, no store)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from agent.wa.evidence import CheckEvidence, Evidence, Failing, ScanRef, Scope
from agent.wa.model import ChoiceRef
from agent.wa.plan import Target, plan_question
from checks.lens import PRACTICES

WID = "0123456789abcdef0123456789abcdef"
SCAN = ScanRef(7, "feedface-0000-4000-8000-000000000007", datetime(2026, 5, 4, tzinfo=UTC))
SCALING = PRACTICES["MLREL05-BP01"]


def _evidence(*checks: CheckEvidence) -> Evidence:
    return Evidence(Scope(("111122223333",)), {c.check_id: c for c in checks}, (SCAN,),
                    sum(c.total for c in checks))


def _answer(**extra: Any) -> dict[str, Any]:
    return {"QuestionId": "REL1", "PillarId": "reliability", "QuestionTitle": "q",
            "Choices": [{"ChoiceId": "REL1_3", "Title": SCALING.title},
                        {"ChoiceId": "REL1_1", "Title": "Adopt a microservice strategy"}],
            "SelectedChoices": [], "ChoiceAnswers": [], "IsApplicable": True, **extra}


TARGET = Target(ChoiceRef("REL1_3", SCALING.title, (), ()), SCALING, ("c_one", "c_two"))


def _plan(answer: dict[str, Any], evidence: Evidence, select: bool = False) -> Any:
    return plan_question(answer, [TARGET], evidence, workload_id=WID, lens_ref="machinelearning",
                         select_passing=select)


def test_plan_question_not_applicable_is_skipped() -> None:
    """A question a person marked not applicable gets no call at all."""
    plan = _plan(_answer(IsApplicable=False, Reason="OUT_OF_SCOPE"),
                 _evidence(CheckEvidence("c_one", passed=1)))
    assert plan.params is None and plan.skipped is not None


def test_plan_question_keeps_selection_from_choice_answers() -> None:
    """A choice SELECTED in ChoiceAnswers but missing from SelectedChoices stays selected."""
    answer = _answer(ChoiceAnswers=[{"ChoiceId": "REL1_1", "Status": "SELECTED"}])
    plan = _plan(answer, _evidence(CheckEvidence("c_one", failed=1, failing=(
        Failing("c_one", "111122223333", "eu-west-1", "endpoint/ep", 3),))))
    assert plan.params["SelectedChoices"] == ["REL1_1"]
    assert plan.params["ChoiceUpdates"]["REL1_1"] == {"Status": "SELECTED"}


def test_plan_question_stale_block_replaced_when_evidence_vanishes() -> None:
    """An earlier mllens note is rewritten to say there are no findings, not left stale."""
    answer = _answer(ChoiceAnswers=[{"ChoiceId": "REL1_3", "Status": "UNSELECTED",
                                     "Notes": "mine\n\n[mllens]old: FAIL 3[/mllens]"}])
    plan = _plan(answer, _evidence(CheckEvidence("other", failed=1)))
    note = plan.params["ChoiceUpdates"]["REL1_3"]["Notes"]
    assert note == ("mine\n\n[mllens]scan feedface of 2026-05-04: no findings in scope for the "
                    "mapped checks[/mllens]")


def test_plan_question_no_evidence_no_call() -> None:
    """Without findings for the mapped checks and without an earlier block, nothing is sent."""
    plan = _plan(_answer(Notes="mine"), _evidence(CheckEvidence("other", failed=1)))
    assert plan.params is None and plan.notes_after == "mine"
    assert plan.choices[0].action == "no findings in scope"


def test_plan_question_select_needs_every_check_passing() -> None:
    """A mapped check with only NOT_APPLICABLE (or no) findings blocks selection."""
    only_na = _plan(_answer(), _evidence(CheckEvidence("c_one", passed=2),
                                         CheckEvidence("c_two", not_applicable=1)), select=True)
    assert only_na.selected_after == ()
    missing = _plan(_answer(), _evidence(CheckEvidence("c_one", passed=2)), select=True)
    assert missing.selected_after == ()
    both = _plan(_answer(), _evidence(CheckEvidence("c_one", passed=2),
                                      CheckEvidence("c_two", passed=1)), select=True)
    assert both.selected_after == ("REL1_3",)
    assert both.params["ChoiceUpdates"]["REL1_3"]["Status"] == "SELECTED"


def test_plan_question_never_selects_not_applicable_choice() -> None:
    """A choice a person marked NOT_APPLICABLE keeps that status and reason, passing or not."""
    answer = _answer(ChoiceAnswers=[{"ChoiceId": "REL1_3", "Status": "NOT_APPLICABLE",
                                     "Reason": "ARCHITECTURE_CONSTRAINTS"}])
    plan = _plan(answer, _evidence(CheckEvidence("c_one", passed=1),
                                   CheckEvidence("c_two", passed=1)), select=True)
    update = plan.params["ChoiceUpdates"]["REL1_3"]
    assert update["Status"] == "NOT_APPLICABLE" and update["Reason"] == "ARCHITECTURE_CONSTRAINTS"
    assert plan.params["SelectedChoices"] == []


def test_plan_question_answer_without_room_is_said() -> None:
    """Human answer notes at the limit are left as they are, with a warning; the choice note
    is still planned."""
    full = "h" * 2084
    plan = _plan(_answer(Notes=full), _evidence(CheckEvidence("c_one", passed=1)))
    assert plan.notes_after == full and plan.warning is not None
    assert plan.params["Notes"] == full
    assert "[mllens]" in plan.params["ChoiceUpdates"]["REL1_3"]["Notes"]
