"""OCSF 1.7.0 Detection Finding (class 2004) events, one per finding, as a JSON array.

Mapping (see docs/outputs.md for the full table):
- the check's verdict goes to `status_code` (PASS, FAIL, UNKNOWN, NOT_APPLICABLE, GONE) and its
  reason to `status_detail`; the finding's workflow state to `status_id` (FAIL -> New,
  UNKNOWN -> Other "Unverified", PASS/NOT_APPLICABLE/GONE -> Resolved, and a muted FAIL or
  UNKNOWN -> Suppressed, with the mute's reason, owner and expiry in `comment` and
  `unmapped.mute`) and `activity_id` (Create when first seen, Close when resolved or gone,
  Update otherwise); `is_alert` is true for open findings only (failing, not muted);
- severity -> `severity_id` (info 1 ... critical 5); account and region -> the `cloud` object
  (the cloud profile is declared in `metadata.profiles`); the resource ARN -> `resources[0].uid`
  with the evidence under `resources[0].data`; remediation text and the lens practice pages ->
  `remediation`; the check -> `finding_info.analytic`.
- Detection Finding has no `compliance` attribute in 1.7.0 (only Compliance Finding has), so the
  lens practices go to `unmapped.compliance`, shaped like OCSF's Compliance object, from where a
  pipeline can move them if it re-classes the events.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from agent.domain import Severity
from agent.reports.jsonfmt import default
from agent.reports.model import (
    FAIL,
    GONE,
    NOT_APPLICABLE,
    PASS,
    UNKNOWN,
    Finding,
    Report,
    mute_fields,
    mute_note,
)

OCSF_VERSION = "1.7.0"
CATEGORY_UID, CATEGORY_NAME = 2, "Findings"
CLASS_UID, CLASS_NAME = 2004, "Detection Finding"
LENS_STANDARD = "AWS Well-Architected Framework: Machine Learning Lens"

ACTIVITY = {1: "Create", 2: "Update", 3: "Close"}
SEVERITY_ID = {
    Severity.INFO: (1, "Informational"),
    Severity.LOW: (2, "Low"),
    Severity.MEDIUM: (3, "Medium"),
    Severity.HIGH: (4, "High"),
    Severity.CRITICAL: (5, "Critical"),
}
# Finding workflow state: 1 New, 4 Resolved, 99 Other (OCSF has no "could not verify").
STATUS_ID = {
    FAIL: (1, "New"),
    UNKNOWN: (99, "Unverified"),
    PASS: (4, "Resolved"),
    NOT_APPLICABLE: (4, "Resolved"),
    GONE: (4, "Resolved"),
}
SUPPRESSED = (3, "Suppressed")
# Compliance object status: 1 Pass, 2 Warning ("missing information"), 3 Fail, 99 Other.
COMPLIANCE_STATUS_ID = {
    PASS: (1, "Pass"),
    FAIL: (3, "Fail"),
    UNKNOWN: (2, "Warning"),
    NOT_APPLICABLE: (99, "Not applicable"),
    GONE: (99, "Resource deleted"),
}


def ms(t: datetime) -> int:
    """OCSF timestamp_t: milliseconds since the epoch."""
    return int(t.timestamp() * 1000)


def activity_id(f: Finding, scan_id: int | None) -> int:
    if f.status == GONE or (f.status in (PASS, NOT_APPLICABLE) and f.resolved_at is not None):
        return 3
    if f.first_seen_scan_id is None or f.first_seen_scan_id == scan_id:
        return 1
    return 2


def event(f: Finding, report: Report) -> dict[str, Any]:
    chk = report.catalog.get(f.check_id)
    title = chk.title if chk else f.check_id
    scan_id = report.scan.id if report.scan else None
    aid = activity_id(f, scan_id)
    sev_id, sev = SEVERITY_ID[f.severity]
    st_id, st = SUPPRESSED if f.suppressed else STATUS_ID[f.status]
    comp_id, comp = COMPLIANCE_STATUS_ID[f.status]
    metadata: dict[str, Any] = {
        "version": OCSF_VERSION,
        "product": {"name": "mllens", "vendor_name": "mllens", "version": report.tool_version},
        "profiles": ["cloud"],
        "log_name": "mllens findings",
    }
    if report.scan is not None:
        metadata["correlation_uid"] = report.scan.uid
    finding_info: dict[str, Any] = {
        "uid": f.key,
        "title": title,
        "types": [f"ML Lens/{f.pillar.label}"],
        "analytic": {
            "uid": f.check_id,
            "name": title,
            "type_id": 1,
            "type": "Rule",
            "category": f.pillar.label,
        },
        "last_seen_time": ms(f.observed_at),
    }
    if chk:
        finding_info["desc"] = chk.description
    if f.first_seen_at is not None:
        finding_info["first_seen_time"] = ms(f.first_seen_at)
    resource: dict[str, Any] = {
        "uid": f.resource_arn,
        "name": f.resource_name,
        "type": f.resource_kind or "resource",
        "region": f.region,
        "cloud_partition": f.partition,
        "role_id": 1,
        "role": "Target",
        "data": {"sub_resource": f.sub_resource, "evidence": dict(f.evidence)},
    }
    unmapped: dict[str, Any] = {
        "compliance": {
            "standards": [LENS_STANDARD],
            "requirements": list(chk.lens_ids) if chk else [],
            "control": f.check_id,
            "status_id": comp_id,
            "status": comp,
        },
        "legacy_lens_ids": list(chk.legacy_lens_ids) if chk else [],
        "pillar": f.pillar.value,
    }
    if f.mute is not None:
        unmapped["mute"] = {k.removeprefix("mute_"): v
                            for k, v in mute_fields(f.mute, f.muted).items()}
    if f.unknown_since_at is not None:
        unmapped["unverified_since"] = f.unknown_since_at.isoformat()
        unmapped["unverified_reason"] = f.unknown_reason or ""
    out: dict[str, Any] = {
        "activity_id": aid,
        "activity_name": ACTIVITY[aid],
        "category_uid": CATEGORY_UID,
        "category_name": CATEGORY_NAME,
        "class_uid": CLASS_UID,
        "class_name": CLASS_NAME,
        "type_uid": CLASS_UID * 100 + aid,
        "type_name": f"{CLASS_NAME}: {ACTIVITY[aid]}",
        "time": ms(f.observed_at),
        "severity_id": sev_id,
        "severity": sev,
        "status_id": st_id,
        "status": st,
        "status_code": f.status,
        "status_detail": f.reason,
        "message": f"{title}: {f.reason}",
        "is_alert": f.is_open,
        "metadata": metadata,
        "cloud": {
            "provider": "AWS",
            "region": f.region,
            "cloud_partition": f.partition,
            "account": {"uid": f.account_id, "type_id": 10, "type": "AWS Account"},
        },
        "finding_info": finding_info,
        "resources": [resource],
        "unmapped": unmapped,
    }
    if f.suppressed and f.mute is not None:
        out["comment"] = f"Muted: {mute_note(f.mute)}"
    if chk:
        out["remediation"] = {
            "desc": chk.remediation,
            "references": [p.url for p in chk.lens],
        }
    return out


def events(report: Report) -> list[dict[str, Any]]:
    return [event(f, report) for f in report.findings]


def render(report: Report) -> str:
    return json.dumps(events(report), indent=2, default=default)
