"""wa-sync against a stubbed Well-Architected Tool (botocore's Stubber: moto has no WA API).

Responses are shaped by botocore's `wellarchitected` model (Stubber validates them against it)
and the expected request parameters are asserted call by call, so a dry run that tried to write,
or an UpdateAnswer with other parameters than planned, fails the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aioboto3
import pytest
from botocore.stub import ANY, Stubber

from agent.aws.handle import Limits
from agent.domain import Result, Severity, Status
from agent.store import Store
from agent.wa.model import ANSWER_NOTES_MAX, CHOICE_NOTES_MAX
from agent.wa.notes import TRUNCATED
from agent.wa.sync import SyncFailed, SyncOptions, SyncReport, run_sync
from checks import all_checks, by_id

WID = "0123456789abcdef0123456789abcdef"
ACCOUNT, OTHER, REGION, WA_REGION = "111122223333", "444455556666", "eu-west-1", "us-east-1"
SCAN_UID = "5ca11ab1-0000-4000-8000-000000000001"
PAGE = "https://docs.aws.amazon.com/wellarchitected/latest/machine-learning-lens/{}.html"
LENS_ARN = "arn:aws:wellarchitected::aws:lens/machinelearning"
CATALOG = by_id()


def checks_of(practice: str) -> set[str]:
    return {c.id for c in all_checks() if practice in c.lens_ids}


# Practices with checks (looked up, so the tests follow the catalog as it grows).
OBSERVABILITY = checks_of("MLOPS06-BP02")  # legacy MLOE-15
METRICS = checks_of("MLOPS05-BP01")  # legacy MLOE-14
SCALING = checks_of("MLREL05-BP01")  # legacy MLREL-12
_ONLY_OBS = sorted(OBSERVABILITY - METRICS - SCALING)
FAILING_CHECK, UNKNOWN_CHECK = _ONLY_OBS[0], _ONLY_OBS[1]


def _result(check_id: str, status: Status, name: str, account: str = ACCOUNT,
            severity: Severity = Severity.MEDIUM) -> Result:
    return Result(
        check_id=check_id, status=status,
        resource_arn=f"arn:aws:sagemaker:{REGION}:{account}:endpoint/{name}",
        reason="test", account_id=account, region=REGION, severity=severity,
        pillar=CATALOG[check_id].pillar, resource_kind="endpoints",
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One scan: the workload's account passes scaling and metrics, fails one observability
    check on two endpoints and cannot tell another; a second account fails everything."""
    url = f"sqlite:///{tmp_path_factory.mktemp('wa') / 'mllens.db'}"
    with Store.open(url) as s:
        scan_id = s.start_scan({}, uid=SCAN_UID)
        ours = [_result(c, Status.PASS, "ep-a") for c in sorted(OBSERVABILITY | METRICS | SCALING)
                if c not in (FAILING_CHECK, UNKNOWN_CHECK)]
        ours += [_result(FAILING_CHECK, Status.FAIL, "ep-a", severity=Severity.HIGH),
                 _result(FAILING_CHECK, Status.FAIL, "ep-b"),
                 _result(UNKNOWN_CHECK, Status.UNKNOWN, "ep-c")]
        theirs = [_result(c, Status.FAIL, "ep-x", OTHER) for c in sorted(SCALING | METRICS)]
        s.write_account(scan_id, ACCOUNT, ours, [], [], [], set())
        s.write_account(scan_id, OTHER, theirs, [], [], [], set())
        s.finish_scan(scan_id, "complete", 0, {})
        yield s


def scan_date(store: Store) -> str:
    row = store.scan(SCAN_UID)
    assert row is not None
    return f"{row.started_at:%Y-%m-%d}"


# -- WA Tool response builders (fields as in the service model) ---------------------------------


def choice(cid: str, title: str, slug: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"ChoiceId": cid, "Title": title}
    if slug:
        out["HelpfulResource"] = {"DisplayText": f"About {title.lower()}.",
                                  "Url": PAGE.format(slug)}
        out["ImprovementPlan"] = {"DisplayText": title, "Url": PAGE.format(slug)}
    return out


def none_of_these(qid: str) -> dict[str, Any]:
    return {"ChoiceId": f"{qid.lower()}_no", "Title": "None of these",
            "Description": "None of these practices are followed."}


LEGACY_QUESTIONS = {
    "operationalExcellence": [
        ("OPS1", "How does your organizational structure and culture support your business "
         "outcomes?", [choice("ops1_1", "Develop the right skills with accountability and "
                              "empowerment", "mloe-01")]),
        ("OPS4", "How do you understand the operational health of your ML workload?", [
            choice("ops4_1", "Establish deployment environment metrics", "mloe-14"),
            choice("ops4_2", "Prepare an ML profile template", "mloe-05"),
            choice("ops4_3", "Enable model observability and tracking", "mloe-15"),
            none_of_these("ops4"),
        ]),
    ],
    "reliability": [
        ("REL1", "How do you design your ML workload architecture to prevent failures?", [
            choice("REL1_1", "Adopt a machine learning microservice strategy", "mlrel-02"),
            choice("REL1_3", "Allow automatic scaling of the model endpoint", "mlrel-12"),
            none_of_these("REL1"),
        ]),
    ],
}

# The re-published lens: other question and choice IDs (invented: nothing may depend on them).
CURRENT_QUESTIONS = {
    "operationalExcellence": [
        ("MLOPS06", "How do you monitor your ML workload in production?", [
            choice("mlops06_bp01", "Synchronize architecture and configuration, and check for "
                   "skew across environments", "mlops06-bp01"),
            choice("mlops06_bp02", "Enable model observability and tracking", "mlops06-bp02"),
            choice("mlops05_bp01", "Establish deployment environment metrics", "mlops05-bp01"),
        ]),
    ],
    "reliability": [
        ("MLREL05", "How do you keep the model endpoint available?", [
            choice("mlrel05_bp01", "Allow automatic scaling of the model endpoint",
                   "mlrel05-bp01"),
        ]),
    ],
}


def summary(qid: str, pillar: str, title: str, choices: list[dict[str, Any]],
            selected: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"QuestionId": qid, "PillarId": pillar, "QuestionTitle": title, "Choices": choices,
            "SelectedChoices": list(selected),
            "ChoiceAnswerSummaries": [{"ChoiceId": c, "Status": "SELECTED", "Reason": "NONE"}
                                      for c in selected],
            "IsApplicable": True, "Risk": "MEDIUM" if selected else "UNANSWERED",
            "QuestionType": "PRIORITIZED"}


def answer(qid: str, pillar: str, title: str, choices: list[dict[str, Any]],
           selected: tuple[str, ...] = (), notes: str | None = None,
           choice_notes: dict[str, str] | None = None,
           not_applicable: tuple[str, ...] = ()) -> dict[str, Any]:
    choice_notes = choice_notes or {}
    answers = []
    for c in choices:
        cid = c["ChoiceId"]
        if cid in selected or cid in choice_notes or cid in not_applicable:
            status = ("SELECTED" if cid in selected
                      else "NOT_APPLICABLE" if cid in not_applicable else "UNSELECTED")
            entry: dict[str, Any] = {"ChoiceId": cid, "Status": status,
                                     "Reason": "OUT_OF_SCOPE" if cid in not_applicable else "NONE"}
            if cid in choice_notes:
                entry["Notes"] = choice_notes[cid]
            answers.append(entry)
    out: dict[str, Any] = {
        "QuestionId": qid, "PillarId": pillar, "QuestionTitle": title,
        "HelpfulResourceUrl": PAGE.format("machine-learning-lens"),
        "Choices": choices, "SelectedChoices": list(selected), "ChoiceAnswers": answers,
        "IsApplicable": True, "Risk": "MEDIUM" if selected else "UNANSWERED", "Reason": "NONE",
    }
    if notes is not None:
        out["Notes"] = notes
    return out


class Review:
    """A workload with one ML Lens review: queues the reads wa-sync makes, in order."""

    def __init__(self, questions: dict[str, list[tuple[str, str, list[dict[str, Any]]]]],
                 *, version: str = "2023-04-18", lens_alias: str | None = "machinelearning",
                 accounts: tuple[str, ...] = (ACCOUNT,)) -> None:
        self.questions = questions
        self.version = version
        self.alias = lens_alias
        self.accounts = accounts
        self.ref = lens_alias or LENS_ARN
        self.state: dict[str, dict[str, Any]] = {}  # QuestionId -> extra answer() kwargs

    def workload(self, stub: Stubber) -> None:
        wl: dict[str, Any] = {
            "WorkloadId": WID, "WorkloadName": "fraud-scoring",
            "WorkloadArn": f"arn:aws:wellarchitected:{WA_REGION}:{ACCOUNT}:workload/{WID}",
            "Environment": "PRODUCTION", "AwsRegions": [REGION], "ReviewOwner": "ml-platform",
            "Lenses": ["wellarchitected", "machinelearning"], "Owner": ACCOUNT,
            "UpdatedAt": datetime(2026, 4, 30, 9, 0, tzinfo=UTC),
        }
        if self.accounts:
            wl["AccountIds"] = list(self.accounts)
        stub.add_response("get_workload", {"Workload": wl}, {"WorkloadId": WID})

    def lens_reviews(self, stub: Stubber) -> None:
        ml: dict[str, Any] = {"LensArn": LENS_ARN, "LensVersion": self.version,
                              "LensName": "Machine Learning Lens", "LensStatus": "CURRENT",
                              "RiskCounts": {"UNANSWERED": 20}}
        if self.alias:
            ml["LensAlias"] = self.alias
        framework = {"LensAlias": "wellarchitected", "LensName": "AWS Well-Architected Framework",
                     "LensArn": "arn:aws:wellarchitected::aws:lens/wellarchitected",
                     "LensVersion": "2024-06-27", "LensStatus": "CURRENT"}
        # Two pages, the ML lens on the second: the listing must be walked to its end.
        stub.add_response("list_lens_reviews",
                          {"WorkloadId": WID, "LensReviewSummaries": [framework],
                           "NextToken": "t2"},
                          {"WorkloadId": WID, "MaxResults": 50})
        stub.add_response("list_lens_reviews", {"WorkloadId": WID, "LensReviewSummaries": [ml]},
                          {"WorkloadId": WID, "MaxResults": 50, "NextToken": "t2"})
        pillars = [{"PillarId": p, "PillarName": p, "RiskCounts": {"UNANSWERED": 3}}
                   for p in self.questions]
        stub.add_response("get_lens_review", {"WorkloadId": WID, "LensReview": {
            "LensAlias": self.alias or LENS_ARN, "LensArn": LENS_ARN, "LensVersion": self.version,
            "LensName": "Machine Learning Lens", "LensStatus": "CURRENT",
            "PillarReviewSummaries": pillars, "UpdatedAt": datetime(2026, 4, 30, tzinfo=UTC)}},
            {"WorkloadId": WID, "LensAlias": self.ref})

    def list_answers(self, stub: Stubber) -> None:
        for pillar, qs in self.questions.items():
            sums = [summary(q, pillar, t, cs, self.state.get(q, {}).get("selected", ()))
                    for q, t, cs in qs]
            # One question per page: paging within a pillar is exercised too.
            for i, s in enumerate(sums):
                params: dict[str, Any] = {"WorkloadId": WID, "LensAlias": self.ref,
                                          "PillarId": pillar, "MaxResults": 50}
                if i:
                    params["NextToken"] = f"{pillar}-{i}"
                page: dict[str, Any] = {"WorkloadId": WID, "LensAlias": self.ref,
                                        "LensArn": LENS_ARN, "AnswerSummaries": [s]}
                if i + 1 < len(sums):
                    page["NextToken"] = f"{pillar}-{i + 1}"
                stub.add_response("list_answers", page, params)

    def get_answer(self, stub: Stubber, qid: str) -> dict[str, Any]:
        for pillar, qs in self.questions.items():
            for q, t, cs in qs:
                if q == qid:
                    a = answer(q, pillar, t, cs, **self.state.get(q, {}))
                    stub.add_response("get_answer", {"WorkloadId": WID, "LensAlias": self.ref,
                                                     "LensArn": LENS_ARN, "Answer": a},
                                      {"WorkloadId": WID, "LensAlias": self.ref, "QuestionId": q})
                    return a
        raise KeyError(qid)

    def reads(self, stub: Stubber) -> None:
        self.workload(stub)
        self.lens_reviews(stub)
        self.list_answers(stub)


class StubSession:
    """A session stand-in whose client is a real aiobotocore client under botocore's Stubber."""

    def __init__(self, setup: Callable[[Stubber], None]) -> None:
        self.setup = setup
        self.stub: Stubber | None = None

    def client(self, service: str, **kwargs: Any) -> Any:
        @asynccontextmanager
        async def cm() -> AsyncIterator[Any]:
            session = aioboto3.Session(aws_access_key_id="x", aws_secret_access_key="x")
            async with session.client(service, **kwargs) as client:
                self.stub = Stubber(client)
                self.setup(self.stub)
                self.stub.activate()
                yield client

        return cm()


def sync(store: Store, setup: Callable[[Stubber], None], **opts: Any) -> SyncReport:
    session = StubSession(setup)
    options = SyncOptions(workload_id=WID, region=WA_REGION, **opts)
    try:
        return asyncio.run(run_sync(session, store, options, all_checks(),
                                    limits=Limits(max_attempts=1)))
    finally:
        assert session.stub is not None
        session.stub.assert_no_pending_responses()


def plan_of(report: SyncReport, qid: str) -> Any:
    return next(p for p in report.plans if p.question_id == qid)


def choice_plan(report: SyncReport, qid: str, cid: str) -> Any:
    return next(c for c in plan_of(report, qid).choices if c.choice_id == cid)


# -- tests -------------------------------------------------------------------------------------


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


def test_sync_other_account_evidence_excluded(store: Store, tmp_path: Path) -> None:
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
