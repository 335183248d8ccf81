"""Hand-built findings, reports and stored scans for the output tests (no AWS, no emulator).

Real checks from the catalog, so formats see real metadata (titles, lens practices, effort).
`seed_two_scans` writes a small history through the Store API: in the second scan one finding
stays open, one is resolved (PASS) and one resource is deleted (GONE).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.domain import Result, Severity, Status, freeze
from agent.reports.model import Finding, Report, ScanInfo
from agent.store import Store
from agent.store.rows import MuteRow
from checks import by_id

ACCOUNT = "111122223333"
REGION = "us-east-1"
OTHER_REGION = "eu-west-1"
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
DATA = Path(__file__).parent / "data"

# Real checks with distinct severities, pillars and effort classes.
EP_UNHEALTHY = "sagemaker_endpoint_unhealthy_status"  # high, reliability, redeploy
EP_CAPTURE = "sagemaker_endpoint_data_capture_disabled"  # medium, ops, redeploy
NB_ROOT = "sagemaker_notebook_root_access_enabled"  # high, security, config
GLUE_SECRETS = "glue_job_secrets_in_arguments"  # critical, security, redeploy
TRAINING_SPOT = "sagemaker_training_no_managed_spot"  # low, cost, config


def arn(kind: str, name: str, region: str = REGION) -> str:
    service = "glue" if kind == "job" else "sagemaker"
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{kind}/{name}"


def result(
    check_id: str,
    status: Status,
    resource: str,
    *,
    region: str = REGION,
    reason: str = "",
    sub: str = "",
    at: datetime = T0,
    evidence: dict[str, Any] | None = None,
    severity: Severity | None = None,
) -> Result:
    chk = by_id()[check_id]
    return Result(
        check_id=check_id,
        status=status,
        resource_arn=resource,
        reason=reason or f"{status.value.lower()}: {chk.title}",
        account_id=ACCOUNT,
        region=region,
        severity=severity or chk.severity,
        pillar=chk.pillar,
        resource_kind=chk.primary_kind.value,
        sub_resource=sub,
        evidence=freeze(evidence or {}),
        observed_at=at,
    )


def finding(check_id: str, status: str = "FAIL", resource: str | None = None,
            **changes: Any) -> Finding:
    r = result(check_id, Status(status) if status != "GONE" else Status.PASS,
               resource or arn("endpoint", "ep-a"))
    f = Finding.from_result(r)
    fields = {name: getattr(f, name) for name in Finding.__dataclass_fields__}
    fields.update(status=status, **changes)
    return Finding(**fields)


def every_status_findings() -> list[Finding]:
    """One finding per status and lifecycle shape, including hostile text and a sub-resource."""
    hostile = 'ep-<script>alert("x")</script>&co'
    return [
        finding(EP_UNHEALTHY, "FAIL", arn("endpoint", "ep-a"), sub_resource="AllTraffic",
                first_seen_at=T0, first_seen_scan_id=2,
                evidence={"EndpointStatus": "Failed", "CreationTime": T0, "Flags": {"a", "b"}}),
        finding(EP_UNHEALTHY, "FAIL", arn("endpoint", hostile),
                reason="reason with </script><img src=x onerror=alert(1)> | *bold*"),
        finding(EP_CAPTURE, "UNKNOWN", arn("endpoint", "ep-b"),
                reason="inventory not collected: sagemaker:DescribeEndpoint access_denied"),
        finding(NB_ROOT, "PASS", arn("notebook-instance", "nb-1"),
                first_seen_at=T0 - timedelta(days=3), first_seen_scan_id=1,
                resolved_at=T0),
        finding(EP_CAPTURE, "NOT_APPLICABLE", arn("endpoint", "ep-serverless")),
        finding(GLUE_SECRETS, "GONE", arn("job", "etl", OTHER_REGION), region=OTHER_REGION,
                first_seen_at=T0 - timedelta(days=1), first_seen_scan_id=1, resolved_at=T0),
        finding(TRAINING_SPOT, "FAIL", arn("training-job", "tj-1"),
                first_seen_at=T0 - timedelta(days=2), first_seen_scan_id=1,
                unknown_since_at=T0, unknown_reason="inventory not collected"),
    ]


def report(findings: Sequence[Finding], *, scan_id: int = 2) -> Report:
    return Report(
        findings=findings,
        catalog=by_id(),
        generated_at=T0 + timedelta(minutes=5),
        tool_version="0.1.0",
        scan=ScanInfo(scan_id, "0b5c8a70-1d0e-4f3e-9d55-6a1f2f1f0a01", T0,
                      T0 + timedelta(minutes=1), "complete",
                      {"accounts": [ACCOUNT], "regions": [REGION, OTHER_REGION]}),
    )


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _summary(results: Sequence[Result]) -> dict[str, Any]:
    from agent.scan import summarise

    return summarise(results, [])


def seed_two_scans(store: Store) -> tuple[int, int]:
    """Two finished scans of one account; the ids of both."""
    ep_a, ep_b = arn("endpoint", "ep-a"), arn("endpoint", "ep-b")
    nb = arn("notebook-instance", "nb-1")
    scopes = {(REGION, c) for c in (EP_UNHEALTHY, NB_ROOT)}
    coverage = [(REGION, "endpoints", "complete", None),
                (REGION, "notebook_instances", "complete", None),
                (OTHER_REGION, "endpoints", "failed", "ListEndpoints: access_denied")]
    first = [
        result(EP_UNHEALTHY, Status.FAIL, ep_a, at=T0),
        result(EP_UNHEALTHY, Status.FAIL, ep_b, at=T0),
        result(NB_ROOT, Status.FAIL, nb, at=T0,
               evidence={"Tags": [{"Key": "environment", "Value": "prod"}]}),
    ]
    later = T0 + timedelta(days=1)
    second = [
        result(EP_UNHEALTHY, Status.FAIL, ep_a, at=later),
        result(EP_UNHEALTHY, Status.PASS, ep_b, at=later, reason="endpoint is InService"),
    ]  # nb-1 is not reported although its scope is complete: GONE
    ids = []
    for results in (first, second):
        scan_id = store.start_scan({"accounts": [ACCOUNT], "regions": [REGION, OTHER_REGION],
                                    "checks": [EP_UNHEALTHY, NB_ROOT]})
        store.write_account(scan_id, ACCOUNT, results, [], [], coverage, scopes)
        store.finish_scan(scan_id, "partial", 12, _summary(results))
        ids.append(scan_id)
    return ids[0], ids[1]



# A mute rule as the store hands it back (`agent.store.rows.MuteRow`).
MUTE = MuteRow(id=7, criteria={"check": GLUE_SECRETS}, reason="accepted risk",
               owner="data-eng@example.com", expires_at=datetime(2027, 6, 30, tzinfo=UTC),
               source="m.yaml")
LAPSED = MuteRow(id=8, criteria={"check": EP_UNHEALTHY}, reason="was fine until Friday",
                 owner=None, expires_at=T0 - timedelta(days=1), source="m.yaml")


def muted_findings() -> list[Finding]:
    """A muted FAIL and a muted UNKNOWN (both suppressed), a muted PASS (muted, but nothing
    to suppress), a FAIL whose mute expired (open again) and a plain open FAIL."""
    return [
        finding(GLUE_SECRETS, "FAIL", arn("job", "legacy"), mute=MUTE, muted=True,
                reason="DefaultArguments hold --db_password"),
        finding(GLUE_SECRETS, "UNKNOWN", arn("job", "legacy-b"), mute=MUTE, muted=True),
        finding(GLUE_SECRETS, "PASS", arn("job", "legacy-c"), mute=MUTE, muted=True),
        finding(EP_UNHEALTHY, "FAIL", arn("endpoint", "ep-lapsed"), mute=LAPSED, muted=False),
        finding(EP_UNHEALTHY, "FAIL", arn("endpoint", "ep-open")),
    ]
