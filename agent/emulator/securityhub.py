"""Security Hub as a finding provider and its customer see it (see GAPS.md).

- BatchImportFindings: moto overwrites every field of a finding that exists. AWS ignores the
  customer's investigation fields (Note, UserDefinedFields, VerificationState, Workflow) in a
  provider's update once the finding exists; they are kept.
- BatchUpdateFindings is not implemented: added for Workflow, Note (stamped with the time),
  VerificationState and UserDefinedFields, with ProcessedFindings/UnprocessedFindings.
- GetFindings ignores Filters: string filters (EQUALS, NOT_EQUALS, PREFIX, PREFIX_NOT_EQUALS)
  on the fields below are applied, then the answer is paged.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from agent.emulator.paging import page

Handler = Callable[[Any], Any]

# Fields a provider cannot change with BatchImportFindings once the finding exists.
CUSTOMER_FIELDS = ("Note", "UserDefinedFields", "VerificationState", "Workflow")

# GetFindings string filters the emulator applies: filter name -> path in the finding.
_FILTER_PATHS: dict[str, tuple[str, ...]] = {
    "Id": ("Id",),
    "GeneratorId": ("GeneratorId",),
    "ProductArn": ("ProductArn",),
    "AwsAccountId": ("AwsAccountId",),
    "RecordState": ("RecordState",),
    "WorkflowStatus": ("Workflow", "Status"),
    "ComplianceStatus": ("Compliance", "Status"),
    "NoteUpdatedBy": ("Note", "UpdatedBy"),
    "NoteText": ("Note", "Text"),
}


def _mark(fn: Handler) -> Handler:
    fn._mllens_wrapped = True  # type: ignore[attr-defined]
    return fn


def _body(self: Any) -> dict[str, Any]:
    raw = self.body.decode("utf-8") if isinstance(self.body, bytes) else self.body
    return json.loads(raw or "{}")


def batch_import_findings(original: Handler) -> Handler:
    @functools.wraps(original)
    def handler(self: Any) -> Any:
        backend = self.securityhub_backend
        kept = {f.id: {k: f.data[k] for k in CUSTOMER_FIELDS if k in f.data}
                for f in backend.findings}
        answer = original(self)
        for f in backend.findings:
            if f.id in kept:
                for k in CUSTOMER_FIELDS:
                    f.data.pop(k, None)
                f.data.update(kept[f.id])
        return answer

    return _mark(handler)


def batch_update_findings(self: Any) -> str:
    params = _body(self)
    by_id = {f.id: f for f in self.securityhub_backend.findings}
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    processed, unprocessed = [], []
    for ident in params.get("FindingIdentifiers") or []:
        found = by_id.get(ident.get("Id"))
        if found is None or found.data.get("ProductArn") != ident.get("ProductArn"):
            unprocessed.append({"FindingIdentifier": ident, "ErrorCode": "FindingNotFound",
                                "ErrorMessage": "Finding Not Found"})
            continue
        data = found.data
        if "Workflow" in params:
            data["Workflow"] = {"Status": params["Workflow"]["Status"]}
        if "Note" in params:
            data["Note"] = {**params["Note"], "UpdatedAt": now}
        if "VerificationState" in params:
            data["VerificationState"] = params["VerificationState"]
        if "UserDefinedFields" in params:
            data["UserDefinedFields"] = {**data.get("UserDefinedFields", {}),
                                         **params["UserDefinedFields"]}
        processed.append(ident)
    return json.dumps({"ProcessedFindings": processed, "UnprocessedFindings": unprocessed})


def get_findings(self: Any) -> str:
    params = _body(self)
    filters = params.get("Filters") or {}
    items = [f.data for f in self.securityhub_backend.findings
             if all(_keeps(f.data, name, conditions) for name, conditions in filters.items())]
    found, token = page(items, params.get("MaxResults"), params.get("NextToken"), 100,
                        "InvalidInputException")
    return json.dumps({"Findings": found, "NextToken": token} if token else {"Findings": found})


def _keeps(data: dict[str, Any], name: str, conditions: list[dict[str, Any]]) -> bool:
    """Security Hub's string filter: any EQUALS/PREFIX value matches, and no NOT_ one does.
    Filters the emulator does not know keep everything (moto's behaviour)."""
    path = _FILTER_PATHS.get(name)
    if path is None:
        return True
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    text = value if isinstance(value, str) else None

    def hit(c: dict[str, Any]) -> bool:
        want = str(c.get("Value", ""))
        prefix = str(c.get("Comparison", "EQUALS")).startswith("PREFIX")
        return text is not None and (text.startswith(want) if prefix else text == want)

    positive = [c for c in conditions if "NOT" not in str(c.get("Comparison", "EQUALS"))]
    negative = [c for c in conditions if "NOT" in str(c.get("Comparison", "EQUALS"))]
    return (not positive or any(hit(c) for c in positive)) and not any(hit(c)
                                                                       for c in negative)
