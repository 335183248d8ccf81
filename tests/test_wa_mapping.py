"""Choice -> lens practice, by the pages a choice links to (pure, no AWS)."""

from __future__ import annotations

from agent.wa.mapping import map_choice, practice_ids
from agent.wa.model import ChoiceRef, parse_choice

PAGE = "https://docs.aws.amazon.com/wellarchitected/latest/machine-learning-lens/{}.html"


def _choice(cid: str = "c1", title: str = "Some title", urls: tuple[str, ...] = (),
            texts: tuple[str, ...] = ()) -> ChoiceRef:
    return ChoiceRef(cid, title, urls, texts)


def test_map_choice_current_page() -> None:
    """A page named by the current ID maps to that practice."""
    m = map_choice(_choice(urls=(PAGE.format("mlops06-bp02"),)))
    assert m.practice is not None and m.practice.id == "MLOPS06-BP02" and m.source == "page"


def test_map_choice_legacy_page_translated() -> None:
    """A legacy page (mloe-15.html) maps to the current practice it became (MLOPS06-BP02)."""
    m = map_choice(_choice(urls=(PAGE.format("mloe-15"),)))
    assert m.practice is not None and m.practice.id == "MLOPS06-BP02"
    assert m.practice.legacy_id == "MLOE-15"


def test_map_choice_legacy_id_in_display_text() -> None:
    """Without a practice page, an improvement plan naming MLOE-15 is enough."""
    m = map_choice(_choice(urls=("https://aws.amazon.com/sagemaker/model-monitor/",),
                           texts=("MLOE-15: Enable model observability and tracking",)))
    assert m.practice is not None and m.practice.id == "MLOPS06-BP02" and m.source == "text"


def test_map_choice_ids_ignored_not_guessed() -> None:
    """The choice ID says nothing: a choice called ops4_3 without pages stays unmapped."""
    m = map_choice(_choice(cid="ops4_3", title="Observability, our way"))
    assert m.practice is None and m.problem is None


def test_map_choice_title_fallback_when_no_page() -> None:
    """With no page and no ID anywhere, an exactly matching title maps the choice."""
    m = map_choice(_choice(title="Allow automatic scaling of the model endpoint."))
    assert m.practice is not None and m.practice.id == "MLREL05-BP01" and m.source == "title"


def test_map_choice_page_and_title_disagree_left_alone() -> None:
    """The 2023 lens' REL3_2 (CI/CD title, mlrel-07 page) is not mapped to either practice."""
    m = map_choice(_choice(title="Enable CI/CD/CT automation with traceability",
                           urls=(PAGE.format("mlrel-07"),)))
    assert m.practice is None
    assert m.problem is not None and "MLREL03-BP02" in m.problem and "MLREL03-BP01" in m.problem


def test_map_choice_several_pages_left_alone() -> None:
    """A choice whose pages name two practices is ambiguous and unmapped."""
    m = map_choice(_choice(urls=(PAGE.format("mlops06-bp02"), PAGE.format("mlrel-12"))))
    assert m.practice is None and m.problem is not None and "several" in m.problem


def test_map_choice_unknown_practice_reported() -> None:
    """A page naming a practice this mllens does not know is reported, not mapped."""
    m = map_choice(_choice(urls=(PAGE.format("mlops07-bp01"),)))
    assert m.practice is None and m.problem is not None and "MLOPS07-BP01" in m.problem


def test_map_choice_none_of_these_never_mapped() -> None:
    """The "None of these" choice is never evidence for anything."""
    m = map_choice(_choice(cid="ops4_no", title="None of these",
                           urls=(PAGE.format("mloe-15"),)))
    assert m.practice is None and m.problem is None


def test_practice_ids_do_not_confuse_schemes() -> None:
    """mlperf01-bp01 is a current ID and mlper-01 a legacy one; neither is read as the other."""
    found, unknown = practice_ids([PAGE.format("mlperf01-bp01"), PAGE.format("mlper-02")])
    assert found == {"MLPERF01-BP01", "MLPERF02-BP02"} and not unknown


def test_parse_choice_reads_every_link() -> None:
    """Helpful resource, improvement plan and additional resources all contribute URLs."""
    c = parse_choice({
        "ChoiceId": "x", "Title": "t",
        "HelpfulResource": {"DisplayText": "d", "Url": PAGE.format("mloe-14")},
        "AdditionalResources": [{"Type": "IMPROVEMENT_PLAN", "Content": [
            {"DisplayText": "MLOE-14", "Url": "https://example.com/a"}]}],
    })
    assert c.urls == (PAGE.format("mloe-14"), "https://example.com/a")
    assert c.texts == ("d", "MLOE-14")
