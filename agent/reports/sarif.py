"""SARIF 2.1.0: one run, one rule per check, one result per finding.

There is no source file to point at: a result's location is a logical location whose fully
qualified name is the resource ARN (kind `resource`), plus the sub-resource (a variant) when
there is one. `kind` carries the verdict (fail, pass, open for UNKNOWN, notApplicable) and only
failures have a level other than `none`, as the specification requires.

Every result says whether it is suppressed: a muted finding (`agent.domain.standing`) has one
`external` suppression, `accepted`, justified by the mute rule's reason, with its owner and
expiry as properties (`expiryUtc`, not in the standard, is the name Microsoft's SARIF SDK
reads); any other result has an empty `suppressions` array (no mute applies).
"""

from __future__ import annotations

import json
from typing import Any

from agent.domain import Severity
from agent.reports.asff import iso
from agent.reports.jsonfmt import default
from agent.reports.model import FAIL, GONE, NOT_APPLICABLE, PASS, UNKNOWN, Finding, Report
from checks.base import Check

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SARIF_VERSION = "2.1.0"

LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning reads `security-severity` (0.0-10.0) from a rule's properties.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "1.0",
}
KIND = {
    FAIL: "fail",
    PASS: "pass",
    UNKNOWN: "open",
    NOT_APPLICABLE: "notApplicable",
    GONE: "pass",
}


def rule(chk: Check) -> dict[str, Any]:
    return {
        "id": chk.id,
        "name": "".join(w.capitalize() for w in chk.id.split("_")),
        "shortDescription": {"text": chk.title},
        "fullDescription": {"text": chk.description},
        "help": {
            "text": chk.remediation,
            "markdown": chk.remediation
            + "\n\nLens practices: "
            + ", ".join(f"[{p.id}]({p.url}) {p.title}" for p in chk.lens),
        },
        "helpUri": chk.lens[0].url,
        "defaultConfiguration": {"level": LEVEL[chk.severity]},
        "properties": {
            "tags": ["ml-lens", chk.pillar.value, *chk.lens_ids],
            "security-severity": SECURITY_SEVERITY[chk.severity],
            "severity": chk.severity.value,
            "pillar": chk.pillar.value,
            "lens_ids": list(chk.lens_ids),
            "legacy_lens_ids": list(chk.legacy_lens_ids),
            "effort": chk.effort.value,
        },
    }


def _locations(f: Finding) -> list[dict[str, Any]]:
    logical: list[dict[str, Any]] = [
        {"name": f.resource_name, "fullyQualifiedName": f.resource_arn, "kind": "resource"}
    ]
    if f.sub_resource:
        logical.append({
            "name": f.sub_resource,
            "fullyQualifiedName": f"{f.resource_arn}/{f.sub_resource}",
            "kind": "member",
            "parentIndex": 0,
        })
    return [{"logicalLocations": logical}]


def suppressions(f: Finding) -> list[dict[str, Any]]:
    if not f.suppressed or f.mute is None:
        return []
    props: dict[str, Any] = {}
    if f.mute.owner:
        props["owner"] = f.mute.owner
    if f.mute.expires_at is not None:
        props["expiryUtc"] = iso(f.mute.expires_at)
    out: dict[str, Any] = {"kind": "external", "status": "accepted",
                           "justification": f.mute.reason}
    if props:
        out["properties"] = props
    return [out]


def result(f: Finding, index: dict[str, int], scan_id: int | None) -> dict[str, Any]:
    kind = KIND[f.status]
    out: dict[str, Any] = {
        "ruleId": f.check_id,
        "kind": kind,
        "level": LEVEL[f.severity] if kind == "fail" else "none",
        "message": {"text": f.reason or f.status},
        "locations": _locations(f),
        "partialFingerprints": {"mllensFindingKey/v1": f.key},
        "suppressions": suppressions(f),
        "properties": {
            "status": f.status,
            "muted": f.muted,
            "severity": f.severity.value,
            "account_id": f.account_id,
            "region": f.region,
            "resource_kind": f.resource_kind,
            "observed_at": f.observed_at.isoformat(),
            "evidence": dict(f.evidence),
        },
    }
    if f.check_id in index:
        out["ruleIndex"] = index[f.check_id]
    if f.status == GONE:
        out["baselineState"] = "absent"
    elif f.first_seen_scan_id is not None and scan_id is not None:
        out["baselineState"] = "new" if f.first_seen_scan_id == scan_id else "unchanged"
    return out


def document(report: Report) -> dict[str, Any]:
    used = sorted({f.check_id for f in report.findings} & set(report.catalog))
    rules = [rule(report.catalog[c]) for c in used]
    index = {c: i for i, c in enumerate(used)}
    scan_id = report.scan.id if report.scan else None
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "mllens",
                "version": report.tool_version,
                "informationUri": "https://docs.aws.amazon.com/wellarchitected/latest/"
                "machine-learning-lens/machine-learning-lens.html",
                "rules": rules,
            }
        },
        "results": [result(f, index, scan_id) for f in report.findings],
        "columnKind": "unicodeCodePoints",
    }
    if report.scan is not None:
        run["automationDetails"] = {"id": f"mllens/scan/{report.scan.uid}"}
        invocation: dict[str, Any] = {
            "executionSuccessful": report.scan.status in ("complete", "partial"),
            "startTimeUtc": iso(report.scan.started_at),
        }
        if report.scan.finished_at is not None:
            invocation["endTimeUtc"] = iso(report.scan.finished_at)
        run["invocations"] = [invocation]
    return {"$schema": SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def render(report: Report) -> str:
    return json.dumps(document(report), indent=2, default=default)
