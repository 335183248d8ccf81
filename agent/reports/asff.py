"""AWS Security Finding Format (ASFF), as `securityhub:BatchImportFindings` takes it.

One finding per mllens finding, imported through the account's default custom-integration
product (`arn:<partition>:securityhub:<region>:<account>:product/<account>/default`), so no
partner registration is needed. The finding `Id` is stable per mllens finding key, so every
import updates the same Security Hub finding.

Status mapping (decided here, documented in docs/outputs.md):

| mllens          | Compliance.Status | Workflow.Status | RecordState |
|-----------------|-------------------|-----------------|-------------|
| FAIL            | FAILED            | NEW             | ACTIVE      |
| UNKNOWN         | WARNING           | NEW             | ACTIVE      |
| PASS            | PASSED            | RESOLVED        | ARCHIVED    |
| NOT_APPLICABLE  | NOT_AVAILABLE     | RESOLVED        | ARCHIVED    |
| GONE (deleted)  | NOT_AVAILABLE     | RESOLVED        | ARCHIVED    |
| muted FAIL      | FAILED            | SUPPRESSED      | ACTIVE      |
| muted UNKNOWN   | WARNING           | SUPPRESSED      | ACTIVE      |

A muted finding (a mute rule applies; `agent.domain.standing`) is still failing, so its
compliance stays FAILED and it stays ACTIVE; its workflow is SUPPRESSED, Security Hub's own
"reviewed, no action needed", with a `Note` giving the rule's reason, owner and expiry, and the
same in `ProductFields` (`mllens/Muted`, `mllens/MuteReason`, ...), which the provider keeps
current on every import. Security Hub's default views show NEW and NOTIFIED findings only.
UNKNOWN is WARNING, not NOT_AVAILABLE: AWS defines WARNING as "some information is missing",
which is exactly an UNKNOWN (the inputs could not be collected), and it keeps UNKNOWN apart from
NOT_APPLICABLE and active in the default views, so missing data is looked at, never hidden.
Security Hub ignores `Workflow` and `Note` in updates from a finding provider, so `RecordState`
is what retires a finding: a resolved one is archived, and a new failure re-activates it
(Security Hub then resets its workflow to NEW by itself, except from SUPPRESSED). For the same
reason `Workflow`/`Note` here only take effect when a finding is created: the import
(`agent.reports.securityhub`) sets them on existing findings with BatchUpdateFindings.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from agent.domain import Severity
from agent.reports.model import (
    FAIL,
    GONE,
    NOT_APPLICABLE,
    PASS,
    UNKNOWN,
    Finding,
    Report,
    mute_note,
)

SCHEMA_VERSION = "2018-10-08"
FINDING_TYPE = (
    "Software and Configuration Checks/Industry and Regulatory Standards/"
    "AWS Well-Architected Machine Learning Lens"
)

COMPLIANCE = {
    PASS: "PASSED",
    FAIL: "FAILED",
    UNKNOWN: "WARNING",
    NOT_APPLICABLE: "NOT_AVAILABLE",
    GONE: "NOT_AVAILABLE",
}
SEVERITY_LABEL = {
    Severity.INFO: "INFORMATIONAL",
    Severity.LOW: "LOW",
    Severity.MEDIUM: "MEDIUM",
    Severity.HIGH: "HIGH",
    Severity.CRITICAL: "CRITICAL",
}
# Security Hub's own resource types where one exists; anything else is `Other` (as AWS asks),
# with the mllens kind in Details.Other.
RESOURCE_TYPE = {
    "notebook_instances": "AwsSageMakerNotebookInstance",
    "alarms": "AwsCloudWatchAlarm",
}

# Field limits from the ASFF reference.
MAX_TITLE, MAX_DESCRIPTION, MAX_RECOMMENDATION = 256, 1024, 512
MAX_OTHER_VALUE, MAX_PRODUCT_FIELD, MAX_NOTE = 1024, 2048, 512
# Who wrote a Note: the import recognises the suppressions it made itself by this.
NOTE_AUTHOR = "mllens"


def iso(t: datetime) -> str:
    """ISO-8601 in UTC with milliseconds and a Z, the form Security Hub documents."""
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def product_arn(partition: str, region: str, account_id: str) -> str:
    return f"arn:{partition}:securityhub:{region}:{account_id}:product/{account_id}/default"


def finding_id(f: Finding) -> str:
    return f"mllens/{f.check_id}/{f.key}"


def _clip(text: str, limit: int) -> str:
    text = text.strip() or "-"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def finding(f: Finding, report: Report) -> dict[str, Any]:
    chk = report.catalog.get(f.check_id)
    title = chk.title if chk else f.check_id
    severity = {"Label": SEVERITY_LABEL[f.severity], "Original": f.severity.value}
    first = f.first_seen_at or f.observed_at
    resolved = f.status in (PASS, NOT_APPLICABLE, GONE)
    other = {
        "mllensKind": f.resource_kind or "resource",
        "name": f.resource_name,
        "subResource": f.sub_resource,
    }
    product_fields = {
        "mllens/CheckId": f.check_id,
        "mllens/Status": f.status,
        "mllens/Pillar": f.pillar.value,
        "mllens/FindingKey": f.key,
        "mllens/LensIds": " ".join(chk.lens_ids) if chk else "",
        "mllens/LegacyLensIds": " ".join(chk.legacy_lens_ids) if chk else "",
        "mllens/ScanId": report.scan.uid if report.scan else "",
        "mllens/Effort": chk.effort.value if chk else "",
        "mllens/Muted": "true" if f.muted else "false",
    }
    if f.mute is not None:
        product_fields["mllens/MuteReason"] = f.mute.reason
        product_fields["mllens/MuteOwner"] = f.mute.owner or ""
        product_fields["mllens/MuteExpiresAt"] = iso(f.mute.expires_at) if f.mute.expires_at \
            else ""
    out: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": finding_id(f),
        "ProductArn": product_arn(f.partition, f.region, f.account_id),
        "ProductName": "mllens",
        "CompanyName": "mllens",
        "Region": f.region,
        "GeneratorId": f"mllens/{f.check_id}",
        "AwsAccountId": f.account_id,
        "Types": [FINDING_TYPE],
        "FirstObservedAt": iso(first),
        "LastObservedAt": iso(f.observed_at),
        "CreatedAt": iso(first),
        # Security Hub drops an update whose UpdatedAt is not later than the stored one: the
        # export time always is.
        "UpdatedAt": iso(max(report.generated_at, f.observed_at)),
        "Severity": severity,
        "Title": _clip(title, MAX_TITLE),
        "Description": _clip(f.reason + (f" ({chk.description})" if chk else ""),
                             MAX_DESCRIPTION),
        "ProductFields": {
            k: _clip(v, MAX_PRODUCT_FIELD) for k, v in product_fields.items() if v.strip()
        },
        "Resources": [
            {
                "Type": RESOURCE_TYPE.get(f.resource_kind, "Other"),
                "Id": f.resource_arn,
                "Partition": f.partition,
                "Region": f.region,
                "Details": {
                    "Other": {
                        k: _clip(v, MAX_OTHER_VALUE) for k, v in other.items() if v.strip()
                    }
                },
            }
        ],
        "Compliance": {"Status": COMPLIANCE[f.status]},
        "Workflow": {"Status": workflow_status(f)},
        "RecordState": "ARCHIVED" if resolved else "ACTIVE",
        # Severity and Types are the provider's to change only through FindingProviderFields
        # once the finding exists.
        "FindingProviderFields": {"Severity": severity, "Types": [FINDING_TYPE]},
    }
    if f.suppressed:
        out["Note"] = note(f, report)
    if chk:
        out["Compliance"]["RelatedRequirements"] = [
            f"ML Lens {p.id} ({p.legacy_id})" for p in chk.lens
        ][:32]
        out["Remediation"] = {
            "Recommendation": {
                "Text": _clip(chk.remediation, MAX_RECOMMENDATION),
                "Url": chk.lens[0].url,
            }
        }
        out["SourceUrl"] = chk.lens[0].url
    return out


def workflow_status(f: Finding) -> str:
    if f.status in (PASS, NOT_APPLICABLE, GONE):
        return "RESOLVED"
    return "SUPPRESSED" if f.suppressed else "NEW"


def note(f: Finding, report: Report) -> dict[str, str]:
    """The Note of a suppressed finding: the mute's reason, owner and expiry."""
    assert f.mute is not None
    return {
        "Text": _clip(f"Muted by mllens: {mute_note(f.mute)}", MAX_NOTE),
        "UpdatedBy": NOTE_AUTHOR,
        "UpdatedAt": iso(report.generated_at),
    }


def findings(report: Report) -> list[dict[str, Any]]:
    return [finding(f, report) for f in report.findings]


def render(report: Report) -> str:
    return json.dumps(findings(report), indent=2)
