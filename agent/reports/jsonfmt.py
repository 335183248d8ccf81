"""JSON: one object per finding, the fields the CLI has always printed, then the mute
(`FINDING_FIELDS`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from agent.reports.model import MUTE_FIELDS, Finding, Report, mute_fields
from checks.base import Check

FINDING_FIELDS = (
    "check_id",
    "status",
    "severity",
    "pillar",
    "lens_ids",
    "legacy_lens_ids",
    "account_id",
    "region",
    "resource_arn",
    "sub_resource",
    "resource_kind",
    "reason",
    "observed_at",
    "finding_id",
    "evidence",
    *MUTE_FIELDS,
)


def default(o: Any) -> Any:
    """json.dumps fallback for what evidence may hold: datetimes, sets, tuples, anything else."""
    if isinstance(o, datetime):
        return o.isoformat()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    return str(o)


def finding_dict(f: Finding, checks: Mapping[str, Check]) -> dict[str, Any]:
    chk = checks.get(f.check_id)
    return {
        "check_id": f.check_id,
        "status": f.status,
        "severity": f.severity.value,
        "pillar": f.pillar.value,
        "lens_ids": list(chk.lens_ids) if chk else [],
        "legacy_lens_ids": list(chk.legacy_lens_ids) if chk else [],
        "account_id": f.account_id,
        "region": f.region,
        "resource_arn": f.resource_arn,
        "sub_resource": f.sub_resource,
        "resource_kind": f.resource_kind,
        "reason": f.reason,
        "observed_at": f.observed_at.isoformat(),
        "finding_id": f.key,
        "evidence": dict(f.evidence),
        **mute_fields(f.mute, f.muted),
    }


def render(report: Report) -> str:
    return json.dumps(
        [finding_dict(f, report.catalog) for f in report.findings], indent=2, default=default
    )
