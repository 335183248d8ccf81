"""Which lens best practice a WA Tool choice stands for, read from the pages it links to.

Choice and question IDs change between lens versions (`ops4_3` in the 2023 lens; something else
in the re-published one), but every choice links to its best-practice page, and those pages are
named by the practice ID: `.../machine-learning-lens/mlops06-bp02.html` (current scheme) or
`.../mloe-15.html` (legacy scheme). Legacy IDs are translated with `checks.lens`.

Order of evidence: the URLs; then the display texts (an improvement plan titled "MLOE-15 ...");
then, only when nothing names an ID, an exact (normalised) title match. When the pages name
several practices, or a page and the title disagree (the 2023 lens has such a defect), the
choice is left unmapped with the problem stated: writing evidence to the wrong choice is worse
than writing none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from agent.wa.model import ChoiceRef
from checks.lens import LEGACY_TO_CURRENT, PRACTICES, Practice

_CURRENT = re.compile(r"(?<![a-z0-9])(ml(?:ops|sec|rel|perf|cost|sus)\d{2}-bp\d{2})(?![0-9])")
_LEGACY = re.compile(r"(?<![a-z0-9])(ml(?:oe|sec|rel|per|cost|sus)-\d{2})(?![0-9])")


def _norm(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", title.lower()).strip()


_BY_TITLE = {_norm(p.title): p for p in PRACTICES.values()}


@dataclass(frozen=True, slots=True)
class ChoiceMapping:
    choice: ChoiceRef
    practice: Practice | None
    # "page", "text" or "title": what the practice was read from; "" when unmapped.
    source: str = ""
    # Why a choice that names something could not be mapped; None when mapped or silent.
    problem: str | None = None


def practice_ids(texts: Iterable[str]) -> tuple[set[str], set[str]]:
    """Current practice IDs named in `texts` (legacy ones translated), and unknown IDs named."""
    found: set[str] = set()
    unknown: set[str] = set()
    for text in texts:
        low = text.lower()
        for m in _CURRENT.finditer(low):
            ident = m.group(1).upper()
            (found if ident in PRACTICES else unknown).add(ident)
        for m in _LEGACY.finditer(low):
            legacy = m.group(1).upper()
            current = LEGACY_TO_CURRENT.get(legacy)
            if current:
                found.add(current)
            else:
                unknown.add(legacy)
    return found, unknown


def map_choice(choice: ChoiceRef) -> ChoiceMapping:
    if choice.is_none_of_these:
        return ChoiceMapping(choice, None)
    titled = _BY_TITLE.get(_norm(choice.title))
    for source, texts in (("page", choice.urls), ("text", choice.texts)):
        found, unknown = practice_ids(texts)
        if len(found) > 1:
            return ChoiceMapping(
                choice, None, problem=f"its {source}s name several practices: "
                f"{', '.join(sorted(found))}"
            )
        if found:
            practice = PRACTICES[found.pop()]
            if titled is not None and titled.id != practice.id:
                return ChoiceMapping(
                    choice, None, problem=f"its {source} names {practice.id} but its title is "
                    f"{titled.id}'s"
                )
            return ChoiceMapping(choice, practice, source)
        if unknown:
            return ChoiceMapping(
                choice, None, problem=f"its {source}s name practices this mllens does not know: "
                f"{', '.join(sorted(unknown))}"
            )
    if titled is not None:
        return ChoiceMapping(choice, titled, "title")
    return ChoiceMapping(choice, None)
