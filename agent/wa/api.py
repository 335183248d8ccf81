"""The Well-Architected Tool calls wa-sync makes, with failures turned into one-line errors.

Calls go through `agent.aws.handle.RegionHandle`, the project's one AWS stack (aioboto3): the
same adaptive retries, time-outs, UTC datetimes and error classification as a scan. The calls are
strictly sequential (every UpdateAnswer follows its own GetAnswer, and a run stops at the first
failed write so it can say exactly what was written), so asyncio buys no concurrency here; it is
used for one stack, not for speed. Tests stub the client with botocore's Stubber.

The IAM actions are declared in `ACTIONS` below; `agent.iam` builds the wa-sync policy from it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from agent.aws.handle import CallFailed, RegionHandle
from agent.domain import GapKind
from agent.wa.model import LensReviewInfo, QuestionRef, WorkloadInfo, parse_question, parse_workload

SERVICE = "wellarchitected"
ML_LENS = "machinelearning"
PAGE_SIZE = 50  # the service model's maximum MaxResults for both listings

# Every operation this module calls, with when (empty: every run). The source of the wa-sync
# IAM policy (`mllens iam-policy --role wa-sync`); tests/test_wa_iam.py holds the module to it.
ACTIONS: tuple[tuple[str, str], ...] = (
    ("GetWorkload", ""),
    ("ListLensReviews", ""),
    ("GetLensReview", ""),
    ("ListAnswers", ""),
    ("GetAnswer", ""),
    ("UpdateAnswer", "only with --apply"),
)


class WaError(Exception):
    """A WA Tool call failed or the workload cannot be synced; the message is one line."""


def associate_hint(workload_id: str, lens: str) -> str:
    flag = "--lens-arns" if lens.startswith("arn:") else "--lens-aliases"
    return (f"associate it first: aws wellarchitected associate-lenses --workload-id {workload_id} "
            f"{flag} {lens}")


def describe_failure(exc: CallFailed, *, workload_id: str, region: str, lens: str) -> str:
    # AWS (and botocore) messages may span lines; the user gets one.
    op, kind, msg = exc.operation, exc.kind, " ".join(exc.classified.message.split())
    action = f"{SERVICE}:{op}"
    if kind is GapKind.ACCESS_DENIED:
        return (f"access denied: {action} on workload {workload_id} ({msg}); the identity "
                f"needs {action}")
    if kind is GapKind.THROTTLED:
        return f"throttled by the Well-Architected Tool on {op} even after retries; try again later"
    if kind is GapKind.NOT_FOUND and op == "GetWorkload":
        return (f"workload {workload_id} not found in {region} (the Well-Architected Tool is "
                "regional: pass --wa-region, or the workload ARN as --workload-id)")
    if kind is GapKind.NOT_FOUND:
        return (f"{action}: {msg} (is lens {lens} applied to workload {workload_id}? "
                f"{associate_hint(workload_id, lens)})")
    if kind in (GapKind.INVALID_CREDENTIALS, GapKind.EXPIRED_CREDENTIALS):
        return f"{action}: {kind.value.replace('_', ' ')}: {msg}"
    return f"{action} failed ({kind.value}): {msg}"


class WaApi:
    """The calls of one run against one workload's lens review."""

    def __init__(self, handle: RegionHandle, workload_id: str) -> None:
        self.handle = handle
        self.workload_id = workload_id

    async def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        return await self.handle.call(SERVICE, operation, WorkloadId=self.workload_id, **params)

    async def _pages(self, operation: str, **params: Any) -> AsyncIterator[dict[str, Any]]:
        async for page in self.handle.pages(
            SERVICE, operation, "NextToken", "NextToken",
            WorkloadId=self.workload_id, MaxResults=PAGE_SIZE, **params,
        ):
            yield page

    async def workload(self) -> WorkloadInfo:
        return parse_workload((await self._call("GetWorkload")).get("Workload") or {})

    async def lens_review(self, lens: str, workload: WorkloadInfo) -> LensReviewInfo:
        """The workload's review of `lens` (alias or ARN): the current one, never a milestone."""
        summaries = [
            s async for page in self._pages("ListLensReviews")
            for s in page.get("LensReviewSummaries") or ()
        ]
        match = next((s for s in summaries if _same_lens(lens, s)), None)
        if match is None:
            applied = ", ".join(
                s.get("LensAlias") or s.get("LensArn") or "?" for s in summaries
            ) or "none"
            raise WaError(
                f"workload {workload.name or workload.id} has no {lens} lens review (its lenses: "
                f"{applied}); {associate_hint(workload.id, lens)}"
            )
        ref = str(match.get("LensAlias") or match.get("LensArn"))
        review = (await self._call("GetLensReview", LensAlias=ref)).get("LensReview") or {}
        return LensReviewInfo(
            ref=ref,
            alias=str(match.get("LensAlias") or ""),
            arn=str(match.get("LensArn") or review.get("LensArn") or ""),
            name=str(review.get("LensName") or match.get("LensName") or ref),
            version=str(review.get("LensVersion") or match.get("LensVersion") or ""),
            status=str(review.get("LensStatus") or match.get("LensStatus") or ""),
            pillar_ids=tuple(
                str(p["PillarId"]) for p in review.get("PillarReviewSummaries") or ()
                if p.get("PillarId")
            ),
        )

    async def questions(self, lens_ref: str, pillar_id: str) -> list[QuestionRef]:
        return [
            parse_question(summary)
            async for page in self._pages("ListAnswers", LensAlias=lens_ref, PillarId=pillar_id)
            for summary in page.get("AnswerSummaries") or ()
        ]

    async def answer(self, lens_ref: str, question_id: str) -> dict[str, Any]:
        resp = await self._call("GetAnswer", LensAlias=lens_ref, QuestionId=question_id)
        return dict(resp.get("Answer") or {})

    async def update_answer(self, params: dict[str, Any]) -> None:
        await self.handle.call(SERVICE, "UpdateAnswer", **params)


def _lens_name(value: str) -> str:
    """`machinelearning` for the alias and for any ARN of that lens."""
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


def _same_lens(wanted: str, summary: dict[str, Any]) -> bool:
    alias = str(summary.get("LensAlias") or "")
    arn = str(summary.get("LensArn") or "")
    if wanted in (alias, arn):
        return True
    return any(_lens_name(wanted) == _lens_name(v) for v in (alias, arn) if v)
