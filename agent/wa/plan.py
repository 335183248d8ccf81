"""One answer's read-modify-write: from a `GetAnswer` answer and the evidence, the UpdateAnswer
parameters that keep everything people chose and wrote, and add mllens' notes.

Safety rules, all enforced here:
- `SelectedChoices` replaces the whole selection, so it always carries every choice already
  selected (from `SelectedChoices` and from `ChoiceAnswers` marked SELECTED); mllens never
  unselects, not even a choice its own evidence now contradicts (it says so in the note).
- `ChoiceUpdates` carries every existing choice answer (status, reason, notes) unchanged, plus
  the choices mllens writes a note on or selects.
- Human notes stay as they are; only the `[mllens]` block is replaced (see `agent.wa.notes`).
- A choice is selected only with `select_passing`, only when every check mapped to it passes in
  scope (`ChoiceEvidence.passing`), only when it is UNSELECTED (a NOT_APPLICABLE choice is a
  human decision), and never in a question answered "None of these" or marked not applicable.
- A question with nothing to change produces no call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent.wa import notes
from agent.wa.evidence import CheckEvidence, ChoiceEvidence, Evidence, Failing
from agent.wa.model import (
    ANSWER_NOTES_MAX,
    CHOICE_NOTES_MAX,
    NOT_APPLICABLE,
    SELECTED,
    UNSELECTED,
    ChoiceRef,
    parse_question,
)
from checks.lens import Practice

TOP_FAILING = 3


@dataclass(frozen=True, slots=True)
class Target:
    """A choice mapped to a practice that has checks."""

    choice: ChoiceRef
    practice: Practice
    check_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ChoicePlan:
    choice_id: str
    title: str
    practice_id: str
    legacy_id: str
    evidence: ChoiceEvidence
    status_before: str
    status_after: str
    notes_before: str
    notes_after: str
    truncated: bool
    action: str
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class QuestionPlan:
    question_id: str
    pillar_id: str
    title: str
    choices: tuple[ChoicePlan, ...]
    selected_before: tuple[str, ...]
    selected_after: tuple[str, ...]
    notes_before: str
    notes_after: str
    notes_truncated: bool
    # The UpdateAnswer parameters; None when nothing would change or the question is skipped.
    params: Mapping[str, Any] | None
    skipped: str | None = None
    warning: str | None = None


def _counts(e: CheckEvidence | ChoiceEvidence) -> str:
    out = f"PASS {e.passed}, FAIL {e.failed}, UNKNOWN {e.unknown}"
    return out + (f", N/A {e.not_applicable}" if e.not_applicable else "")


def _names(failing: Sequence[Failing], top: int) -> str:
    names = list(dict.fromkeys(f.resource for f in failing))
    shown = ", ".join(names[:top])
    return shown + (f" +{len(names) - top} more" if len(names) > top else "")


def header(evidence: Evidence) -> str:
    newest = evidence.scans[0] if evidence.scans else None
    if newest is None:
        return "latest scans"
    more = f" (+{len(evidence.scans) - 1} older)" if len(evidence.scans) > 1 else ""
    return f"scan {newest.short}{more} of {newest.started_at:%Y-%m-%d}"


def choice_lines(ev: ChoiceEvidence, evidence: Evidence) -> list[str]:
    if not ev.has_findings:
        return [f"{header(evidence)}: no findings in scope for the mapped checks"]
    line = f"{header(evidence)}: {len(ev.checks)} checks: {_counts(ev)}"
    failing = ev.failing()
    if failing:
        line += f"; failing: {_names(failing, TOP_FAILING)}"
    return [line]


def answer_lines(plans: Sequence[tuple[Target, ChoiceEvidence]], evidence: Evidence) -> list[str]:
    lines = [
        f"mllens evidence from {header(evidence)}; rewritten by every wa-sync",
        f"scope: {evidence.scope.describe()}",
    ]
    if not plans:
        lines.append("no findings in scope for the checks mapped to this question's choices")
    for target, ev in plans:
        p = target.practice
        lines.append(f"{target.choice.id} = {p.id} ({p.legacy_id}): {_counts(ev)}")
        # What needs attention first, one line per check; the rest by name only, so the block
        # stays within the answer's limit for practices with many checks.
        flagged = sorted((c for c in ev.checks if c.failed or c.unknown),
                         key=lambda c: (-c.failed, -c.unknown, c.check_id))
        for c in flagged:
            line = f"- {c.check_id}: {_counts(c)}"
            if c.failing:
                line += f"; failing: {_names(c.failing, TOP_FAILING)}"
            lines.append(line)
        groups = (
            ("passing", [c.check_id for c in ev.checks if c.passes]),
            ("not applicable", [c.check_id for c in ev.checks
                                if c.total and c.total == c.not_applicable]),
            ("no findings", [c.check_id for c in ev.checks if not c.total]),
        )
        for label, ids in groups:
            if ids:
                lines.append(f"- {label}: {', '.join(ids)}")
    return lines


def _status_map(answer: Mapping[str, Any]) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """The selection (never shrunk) and the existing choice answers by choice ID."""
    selected = list(dict.fromkeys(answer.get("SelectedChoices") or ()))
    existing: dict[str, dict[str, Any]] = {}
    for ca in answer.get("ChoiceAnswers") or ():
        cid = ca.get("ChoiceId")
        if not cid:
            continue
        existing[cid] = dict(ca)
        if ca.get("Status") == SELECTED and cid not in selected:
            selected.append(cid)
    return selected, existing


def _status(cid: str, selected: Sequence[str], existing: Mapping[str, Mapping[str, Any]]) -> str:
    if cid in selected:
        return SELECTED
    status = (existing.get(cid) or {}).get("Status")
    return NOT_APPLICABLE if status == NOT_APPLICABLE else UNSELECTED


def plan_question(
    answer: Mapping[str, Any],
    targets: Sequence[Target],
    evidence: Evidence,
    *,
    workload_id: str,
    lens_ref: str,
    select_passing: bool,
) -> QuestionPlan:
    q = parse_question(answer)
    selected_before, existing = _status_map(answer)
    selected = list(selected_before)
    notes_before = str(answer.get("Notes") or "")
    choices_by_id = {c.id: c for c in q.choices}
    none_selected = any(choices_by_id[c].is_none_of_these for c in selected if c in choices_by_id)
    applicable = answer.get("IsApplicable") is not False

    def skip(reason: str) -> QuestionPlan:
        return QuestionPlan(q.id, q.pillar_id, q.title, (), tuple(selected), tuple(selected),
                            notes_before, notes_before, False, None, skipped=reason)

    if not applicable:
        return skip("the question is marked not applicable")
    present = [t for t in targets if t.choice.id in choices_by_id]
    if not present:
        return skip("none of its mapped choices is in the answer")

    updates: dict[str, dict[str, Any]] = {}
    plans: list[ChoicePlan] = []
    written: list[tuple[Target, ChoiceEvidence]] = []
    for t in present:
        cid = t.choice.id
        ev = evidence.for_checks(t.check_ids)
        before = _status(cid, selected, existing)
        after = before
        old_note = str((existing.get(cid) or {}).get("Notes") or "")
        new_note, truncated, action, warning = old_note, False, "unchanged", None
        if ev.has_findings or notes.has_block(old_note):
            written.append((t, ev))
            merged = notes.merge(old_note, choice_lines(ev, evidence), CHOICE_NOTES_MAX)
            if merged.fitted:
                new_note, truncated = merged.text, merged.truncated
            else:
                action = "no room for a note (human notes fill the field)"
        else:
            action = "no findings in scope"
        if ev.passing and before == UNSELECTED:
            if not select_passing:
                warning = "every mapped check passes; --select-passing would select it"
            elif none_selected:
                warning = "passing, but the question is answered 'None of these': not selected"
            else:
                after = SELECTED
                selected.append(cid)
        if before == SELECTED and (ev.failed or ev.unknown):
            warning = (f"selected, but the evidence has {ev.failed} FAIL and {ev.unknown} UNKNOWN: "
                       "kept selected (mllens never unselects)")
        if new_note != old_note or after != before:
            entry: dict[str, Any] = {"Status": after}
            reason = (existing.get(cid) or {}).get("Reason")
            if reason:
                entry["Reason"] = reason
            if new_note:
                entry["Notes"] = new_note
            updates[cid] = entry
            action = ", ".join(
                part for part in (
                    "note" if new_note != old_note else "",
                    "select" if after != before else "",
                ) if part
            ) + (" (truncated)" if truncated else "")
        plans.append(ChoicePlan(cid, t.choice.title, t.practice.id, t.practice.legacy_id, ev,
                                before, after, old_note, new_note, truncated, action, warning))

    notes_after, notes_truncated, warning = notes_before, False, None
    if written or notes.has_block(notes_before):
        merged = notes.merge(notes_before, answer_lines(written, evidence), ANSWER_NOTES_MAX)
        if merged.fitted:
            notes_after, notes_truncated = merged.text, merged.truncated
        else:
            warning = "no room for mllens notes on the answer (human notes fill the field)"

    params = None
    if updates or notes_after != notes_before:
        params = _params(answer, q.id, workload_id, lens_ref, selected, existing, updates,
                         notes_after)
    return QuestionPlan(q.id, q.pillar_id, q.title, tuple(plans), tuple(selected_before),
                        tuple(selected), notes_before, notes_after, notes_truncated, params,
                        warning=warning)


def _params(
    answer: Mapping[str, Any],
    question_id: str,
    workload_id: str,
    lens_ref: str,
    selected: Sequence[str],
    existing: Mapping[str, Mapping[str, Any]],
    updates: Mapping[str, Mapping[str, Any]],
    notes_after: str,
) -> dict[str, Any]:
    choice_updates: dict[str, dict[str, Any]] = {}
    for cid, ca in existing.items():
        # Carried as read; the status is restated from the selection so the two always agree.
        entry: dict[str, Any] = {"Status": _status(cid, selected, existing)}
        for key in ("Reason", "Notes"):
            if ca.get(key):
                entry[key] = ca[key]
        choice_updates[cid] = entry
    for cid, update in updates.items():
        choice_updates[cid] = dict(update)
    params: dict[str, Any] = {
        "WorkloadId": workload_id,
        "LensAlias": lens_ref,
        "QuestionId": question_id,
        "SelectedChoices": list(selected),
        "ChoiceUpdates": choice_updates,
    }
    if notes_after or answer.get("Notes"):
        params["Notes"] = notes_after
    for key in ("IsApplicable", "Reason"):
        if key in answer:
            params[key] = answer[key]
    return params
