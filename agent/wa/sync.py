"""One wa-sync run: find the ML Lens review, map its choices, plan every answer, and (with
`apply`) write them one by one, each right after reading it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.aws.handle import CallFailed, Limits, RegionHandle, ScanContext
from agent.domain import GapKind
from agent.wa.api import ML_LENS, WaApi, WaError, describe_failure
from agent.wa.evidence import Evidence, EvidenceError, FindingSource, Scope, load_evidence
from agent.wa.mapping import ChoiceMapping, map_choice
from agent.wa.model import LensReviewInfo, QuestionRef, WorkloadInfo
from agent.wa.plan import QuestionPlan, Target, plan_question
from checks.base import Check

# Failures after which a write may have reached the service anyway.
_UNCERTAIN = {GapKind.TIMEOUT, GapKind.NETWORK, GapKind.SERVICE_ERROR, GapKind.INTERNAL}
# Lens statuses on which answers can still be read and updated.
_USABLE = {"CURRENT", "NOT_CURRENT", "DEPRECATED"}


@dataclass(frozen=True, slots=True)
class SyncOptions:
    workload_id: str
    region: str
    lens: str = ML_LENS
    accounts: tuple[str, ...] = ()  # empty: the workload's own AccountIds
    regions: tuple[str, ...] = ()  # empty: the workload's AwsRegions, or every region
    tags: tuple[tuple[str, str], ...] = ()
    apply: bool = False
    select_passing: bool = False


@dataclass
class SyncReport:
    options: SyncOptions
    workload: WorkloadInfo | None = None
    lens: LensReviewInfo | None = None
    evidence: Evidence | None = None
    mappings: list[tuple[QuestionRef, ChoiceMapping]] = field(default_factory=list)
    plans: list[QuestionPlan] = field(default_factory=list)
    written: list[str] = field(default_factory=list)  # question IDs updated, in order
    writing: str | None = None  # the question whose UpdateAnswer is in flight
    warnings: list[str] = field(default_factory=list)

    @property
    def changes(self) -> list[QuestionPlan]:
        return [p for p in self.plans if p.params is not None]


class SyncFailed(WaError):
    """A run that stopped; `report` holds what was planned and written before the failure."""

    def __init__(self, message: str, report: SyncReport) -> None:
        super().__init__(message)
        self.report = report


def resolve_scope(options: SyncOptions, workload: WorkloadInfo) -> Scope:
    accounts = options.accounts or workload.account_ids
    if not accounts:
        raise WaError(
            f"workload {workload.name or workload.id} lists no AWS accounts, so mllens cannot "
            "tell which findings are its evidence: pass --account ID (repeatable)"
        )
    return Scope(tuple(accounts), tuple(options.regions or workload.regions), options.tags)


def targets_for(
    questions: Sequence[QuestionRef], checks: Sequence[Check]
) -> tuple[list[tuple[QuestionRef, ChoiceMapping]], dict[str, list[Target]]]:
    """Every choice's mapping, and per question the mapped choices whose practice has checks."""
    by_practice: dict[str, list[str]] = {}
    for c in checks:
        for p in c.lens:
            by_practice.setdefault(p.id, []).append(c.id)
    mappings: list[tuple[QuestionRef, ChoiceMapping]] = []
    targets: dict[str, list[Target]] = {}
    for q in questions:
        for choice in q.choices:
            m = map_choice(choice)
            mappings.append((q, m))
            if m.practice is not None and by_practice.get(m.practice.id):
                targets.setdefault(q.id, []).append(
                    Target(choice, m.practice, tuple(by_practice[m.practice.id]))
                )
    return mappings, targets


async def run_sync(
    session: Any,
    store: FindingSource,
    options: SyncOptions,
    checks: Sequence[Check],
    *,
    limits: Limits | None = None,
    on_write: Callable[[QuestionPlan], None] | None = None,
    report: SyncReport | None = None,
) -> SyncReport:
    """The whole run; SyncFailed on failure. `report` (filled as the run goes) lets a caller
    interrupted mid-run still say what was written."""
    report = report if report is not None else SyncReport(options)
    ctx = ScanContext(limits=limits or Limits())
    # The WA Tool API is regional and account-scoped by the caller's credentials: the handle's
    # account is only a log label here.
    async with RegionHandle(ctx, session, "", options.region) as handle:
        api = WaApi(handle, options.workload_id)
        try:
            await _run(api, store, options, checks, report, on_write)
        except CallFailed as exc:
            message = describe_failure(
                exc, workload_id=options.workload_id, region=options.region, lens=options.lens
            )
            if report.writing and exc.kind in _UNCERTAIN:
                message += (f"; the update of {report.writing} may or may not have been applied: "
                            "check it in the console")
                if not report.written:
                    raise SyncFailed(message + "; no other answer was written", report) from exc
            raise SyncFailed(message + written_note(report), report) from exc
        except WaError as exc:
            raise SyncFailed(str(exc) + written_note(report), report) from exc
    return report


def written_note(report: SyncReport) -> str:
    if not report.options.apply:
        return ""
    if not report.written:
        return "; nothing was written"
    return f"; already written: {len(report.written)} answers ({', '.join(report.written)})"


async def _run(
    api: WaApi,
    store: FindingSource,
    options: SyncOptions,
    checks: Sequence[Check],
    report: SyncReport,
    on_write: Callable[[QuestionPlan], None] | None,
) -> None:
    from agent.store import StoreError

    workload = report.workload = await api.workload()
    scope = resolve_scope(options, workload)
    lens = report.lens = await api.lens_review(options.lens, workload)
    try:
        # The store is synchronous; a thread keeps the event loop free, as a scan does.
        report.evidence = await asyncio.to_thread(load_evidence, store, scope)
    except StoreError as exc:
        raise WaError(f"store: {exc}") from exc
    except EvidenceError as exc:
        raise WaError(str(exc)) from exc
    if lens.status and lens.status not in _USABLE:
        raise WaError(f"the {lens.name} review of workload {workload.name} is {lens.status}")
    if lens.status in ("NOT_CURRENT", "DEPRECATED"):
        report.warnings.append(
            f"the review uses lens version {lens.version or '?'} ({lens.status}); mapping by "
            "practice pages still works, but consider upgrading the lens review"
        )
    if not lens.pillar_ids:
        raise WaError(f"the {lens.name} review of workload {workload.name} lists no pillars")
    questions: dict[str, QuestionRef] = {}
    for pillar in lens.pillar_ids:
        for q in await api.questions(lens.ref, pillar):
            questions.setdefault(q.id, q)
    report.mappings, targets = targets_for(list(questions.values()), checks)
    for q, m in report.mappings:
        if m.problem:
            report.warnings.append(f"{q.id}/{m.choice.id} left alone: {m.problem}")
    if not any(m.practice for _, m in report.mappings):
        raise WaError(
            f"no choice of the {lens.name} review links to a Machine Learning Lens practice "
            f"page; is {options.lens} the ML Lens?"
        )
    assert report.evidence is not None
    for qid, question_targets in targets.items():
        # Read right before planning (and writing) this answer, so an edit a person made a
        # moment ago is carried, not overwritten.
        answer = await api.answer(lens.ref, qid)
        plan = plan_question(
            answer, question_targets, report.evidence,
            workload_id=options.workload_id, lens_ref=lens.ref,
            select_passing=options.select_passing,
        )
        report.plans.append(plan)
        if options.apply and plan.params is not None:
            report.writing = qid
            await api.update_answer(dict(plan.params))
            report.writing = None
            report.written.append(qid)
            if on_write is not None:
                on_write(plan)
