"""The parts of WA Tool answers that wa-sync reads, parsed from the raw API dictionaries.

Field names follow botocore's `wellarchitected` service model (2020-03-31): `AnswerSummary` and
`Answer` carry `Choices[]` (`ChoiceId`, `Title`, `HelpfulResource`/`ImprovementPlan` with
`DisplayText`/`Url`, `AdditionalResources[].Content[]`), `SelectedChoices[]`, and `Answer` alone
carries `Notes` and `ChoiceAnswers[]` (with per-choice `Notes`). IDs are opaque strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Length limits of the notes fields (`Notes` and `ChoiceNotes` shapes in the service model;
# tests/test_wa_model.py compares them with the installed model). botocore validates only minimum
# lengths on the client, so exceeding these would surface as a ValidationException from AWS.
ANSWER_NOTES_MAX = 2084
CHOICE_NOTES_MAX = 250

SELECTED = "SELECTED"
UNSELECTED = "UNSELECTED"
NOT_APPLICABLE = "NOT_APPLICABLE"


@dataclass(frozen=True, slots=True)
class ChoiceRef:
    """One choice of a question, with every page and text it links to."""

    id: str
    title: str
    urls: tuple[str, ...]
    texts: tuple[str, ...]

    @property
    def is_none_of_these(self) -> bool:
        """The console's "None of these" choice, which excludes every other one."""
        return self.title.strip().lower().startswith("none of these") or self.id.endswith("_no")


@dataclass(frozen=True, slots=True)
class QuestionRef:
    id: str
    pillar_id: str
    title: str
    choices: tuple[ChoiceRef, ...]


@dataclass(frozen=True, slots=True)
class WorkloadInfo:
    id: str
    name: str
    arn: str
    account_ids: tuple[str, ...]
    regions: tuple[str, ...]
    lenses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LensReviewInfo:
    """The lens review found on the workload. `ref` is what later calls pass as `LensAlias`."""

    ref: str
    alias: str
    arn: str
    name: str
    version: str
    status: str
    pillar_ids: tuple[str, ...]


def _content(value: Any) -> tuple[list[str], list[str]]:
    urls: list[str] = []
    texts: list[str] = []
    if isinstance(value, Mapping):
        if value.get("Url"):
            urls.append(str(value["Url"]))
        if value.get("DisplayText"):
            texts.append(str(value["DisplayText"]))
    return urls, texts


def parse_choice(raw: Mapping[str, Any]) -> ChoiceRef:
    urls: list[str] = []
    texts: list[str] = []
    parts: list[Any] = [raw.get("HelpfulResource"), raw.get("ImprovementPlan")]
    for extra in raw.get("AdditionalResources") or ():
        parts.extend((extra or {}).get("Content") or ())
    for part in parts:
        u, t = _content(part)
        urls.extend(u)
        texts.extend(t)
    return ChoiceRef(
        id=str(raw.get("ChoiceId", "")),
        title=str(raw.get("Title", "")),
        urls=tuple(dict.fromkeys(urls)),
        texts=tuple(dict.fromkeys(texts)),
    )


def parse_question(raw: Mapping[str, Any]) -> QuestionRef:
    """An `AnswerSummary` (ListAnswers) or an `Answer` (GetAnswer)."""
    return QuestionRef(
        id=str(raw.get("QuestionId", "")),
        pillar_id=str(raw.get("PillarId", "")),
        title=str(raw.get("QuestionTitle", "")),
        choices=tuple(parse_choice(c) for c in raw.get("Choices") or () if c.get("ChoiceId")),
    )


def parse_workload(raw: Mapping[str, Any]) -> WorkloadInfo:
    return WorkloadInfo(
        id=str(raw.get("WorkloadId", "")),
        name=str(raw.get("WorkloadName", "")),
        arn=str(raw.get("WorkloadArn", "")),
        account_ids=tuple(raw.get("AccountIds") or ()),
        regions=tuple(raw.get("AwsRegions") or ()),
        lenses=tuple(raw.get("Lenses") or ()),
    )
