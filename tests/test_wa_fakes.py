"""Shared builders for the wa-sync tests: a stubbed WA Tool review and a seeded store.

Holds no tests (named test_wa_* to stay within the wa-sync test files). Responses are shaped by
botocore's `wellarchitected` model (Stubber validates them against it) and expected request
parameters are asserted call by call, so a dry run that tried to write, or an UpdateAnswer with
other parameters than planned, fails the test that uses them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aioboto3
from botocore.stub import Stubber

from agent.aws.handle import Limits
from agent.domain import Result, Severity, Status
from agent.store import Store
from agent.wa.sync import SyncOptions, SyncReport, run_sync
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


def result(check_id: str, status: Status, name: str, account: str = ACCOUNT,
            severity: Severity = Severity.MEDIUM) -> Result:
    return Result(
        check_id=check_id, status=status,
        resource_arn=f"arn:aws:sagemaker:{REGION}:{account}:endpoint/{name}",
        reason="test", account_id=account, region=REGION, severity=severity,
        pillar=CATALOG[check_id].pillar, resource_kind="endpoints",
    )



def seed(s: Store) -> None:
    """One scan: the workload's account passes scaling and metrics, fails one observability
    check on two endpoints and cannot tell another; a second account fails everything."""
    scan_id = s.start_scan({}, uid=SCAN_UID)
    ours = [result(c, Status.PASS, "ep-a") for c in sorted(OBSERVABILITY | METRICS | SCALING)
            if c not in (FAILING_CHECK, UNKNOWN_CHECK)]
    ours += [result(FAILING_CHECK, Status.FAIL, "ep-a", severity=Severity.HIGH),
             result(FAILING_CHECK, Status.FAIL, "ep-b"),
             result(UNKNOWN_CHECK, Status.UNKNOWN, "ep-c")]
    theirs = [result(c, Status.FAIL, "ep-x", OTHER) for c in sorted(SCALING | METRICS)]
    s.write_account(scan_id, ACCOUNT, ours, [], [], [], set())
    s.write_account(scan_id, OTHER, theirs, [], [], [], set())
    s.finish_scan(scan_id, "complete", 0, {})


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
