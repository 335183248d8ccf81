"""What wa-sync assumes about the WA Tool API, checked against botocore's installed model."""

from __future__ import annotations

import botocore.session
import pytest
from botocore.model import ServiceModel, StructureShape

from agent.wa.api import PAGE_SIZE
from agent.wa.model import ANSWER_NOTES_MAX, CHOICE_NOTES_MAX


@pytest.fixture(scope="module")
def model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("wellarchitected")


def _members(model: ServiceModel, shape: str) -> set[str]:
    s = model.shape_for(shape)
    assert isinstance(s, StructureShape)
    return set(s.members)


def test_model_notes_limits_match(model: ServiceModel) -> None:
    """The notes limits wa-sync keeps to are the model's (answer Notes, ChoiceNotes)."""
    m = model
    assert m.shape_for("Notes").metadata["max"] == ANSWER_NOTES_MAX
    assert m.shape_for("ChoiceNotes").metadata["max"] == CHOICE_NOTES_MAX
    update = m.operation_model("UpdateAnswer").input_shape
    assert update.members["Notes"].name == "Notes"
    choice_update = m.shape_for("ChoiceUpdate")
    assert isinstance(choice_update, StructureShape)
    assert choice_update.members["Notes"].name == "ChoiceNotes"
    assert choice_update.required_members == ["Status"]


def test_model_fields_read_exist(model: ServiceModel) -> None:
    """Every field wa-sync reads or sends is in the model (so a rename fails here first)."""
    assert {"Choices", "SelectedChoices", "ChoiceAnswerSummaries", "PillarId", "QuestionId",
            "IsApplicable"} <= _members(model, "AnswerSummary")
    assert {"Choices", "SelectedChoices", "ChoiceAnswers", "Notes", "IsApplicable",
            "Reason"} <= _members(model, "Answer")
    assert {"ChoiceId", "Status", "Reason", "Notes"} <= _members(model, "ChoiceAnswer")
    assert {"ChoiceId", "Title", "HelpfulResource", "ImprovementPlan",
            "AdditionalResources"} <= _members(model, "Choice")
    assert {"Url", "DisplayText"} <= _members(model, "ChoiceContent")
    assert {"LensAlias", "LensArn", "LensVersion", "LensStatus"} <= _members(
        model, "LensReviewSummary")
    assert "PillarReviewSummaries" in _members(model, "LensReview")
    assert {"AccountIds", "AwsRegions", "WorkloadName"} <= _members(model, "Workload")
    update = model.operation_model("UpdateAnswer").input_shape
    assert {"WorkloadId", "LensAlias", "QuestionId", "SelectedChoices", "ChoiceUpdates", "Notes",
            "IsApplicable", "Reason"} == set(update.members)


def test_model_page_size_is_allowed(model: ServiceModel) -> None:
    """The MaxResults wa-sync asks for is within both listings' range."""
    for op in ("ListAnswers", "ListLensReviews"):
        shape = model.operation_model(op).input_shape.members["MaxResults"]
        assert shape.metadata["min"] <= PAGE_SIZE <= shape.metadata["max"]
