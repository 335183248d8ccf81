"""What AWS does per account that moto leaves out: opt-in regions and role trust.

Used by the fault middleware (`agent.emulator.faults`): these functions only decide what the
answer is; the middleware decides when to ask.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

_ROLE_ARN = re.compile(r"^arn:(?P<partition>[\w-]+):iam::(?P<account>\d{12}):role/(?P<name>.+)$")


def rejected_credentials(service: str, protocol: str) -> tuple[str, str, int]:
    """(code, message, HTTP status) a region answers when it does not accept the credentials:
    what a region that is not enabled, or not yet ready for a new session, says."""
    if service == "ec2":
        return ("AuthFailure", "AWS was not able to validate the provided access credentials",
                401)
    message = "The security token included in the request is invalid."
    if protocol == "json":
        return "UnrecognizedClientException", message, 400
    return "InvalidClientTokenId", message, 403


def describe_regions(form: Mapping[str, str], disabled: Iterable[str]) -> bytes:
    """EC2 DescribeRegions for one account, answered without moto's EC2 backend.

    moto builds a whole EC2 backend (default VPCs, AMIs, ...) for each account on its first EC2
    call, which takes seconds per account; the region list needs none of it. Regions come from
    moto's own table (opt-in regions `not-opted-in`); `disabled` ones are marked so too; without
    AllRegions only enabled regions are listed, as AWS does.
    """
    from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend

    off = set(disabled)
    wanted = {v for k, v in form.items() if k.startswith("RegionName.")}
    all_regions = (form.get("AllRegions") or "").lower() == "true"
    items = []
    for r in RegionsAndZonesBackend.regions:
        status = "not-opted-in" if r.name in off else r.opt_in_status
        if wanted and r.name not in wanted:
            continue
        if not all_regions and not wanted and status == "not-opted-in":
            continue
        items.append(f"<item><optInStatus>{status}</optInStatus><regionName>{r.name}"
                     f"</regionName><regionEndpoint>{r.endpoint}</regionEndpoint></item>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15">'
        f"<requestId>{uuid.uuid4()}</requestId><regionInfo>{''.join(items)}</regionInfo>"
        "</DescribeRegionsResponse>"
    ).encode()


def assume_role_refusal(
    form: Mapping[str, str], caller_account: str
) -> tuple[str, str, int] | None:
    """The AccessDenied AWS gives for this AssumeRole, or None when it would succeed.

    AWS refuses when the role does not exist, when its trust policy does not name the caller's
    account, and when the policy requires an ExternalId the request does not carry.
    """
    arn = form.get("RoleArn", "")
    denied = (
        "AccessDenied",
        f"User: arn:aws:iam::{caller_account}:user/moto is not authorized to perform: "
        f"sts:AssumeRole on resource: {arn}",
        403,
    )
    m = _ROLE_ARN.match(arn)
    if m is None:
        return denied
    role = _find_role(m["account"], arn)
    if role is None:
        return denied
    policy = _policy(getattr(role, "assume_role_policy_document", None))
    if not _trusts(policy, caller_account, form.get("ExternalId")):
        return denied
    return None


def _find_role(account: str, arn: str) -> Any:
    from moto.iam.models import iam_backends  # imported late: moto is heavy

    backend = iam_backends[account]["global"]
    for role in list(backend.roles.values()):
        if role.arn == arn:
            return role
    return None


def _policy(document: Any) -> dict[str, Any]:
    if isinstance(document, dict):
        return document
    try:
        parsed = json.loads(document or "{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _trusts(policy: Mapping[str, Any], caller_account: str, external_id: str | None) -> bool:
    for stmt in _as_list(policy.get("Statement")):
        if not isinstance(stmt, dict) or stmt.get("Effect") != "Allow":
            continue
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in _as_list(stmt.get("Action"))):
            continue
        principal = stmt.get("Principal") or {}
        names = _as_list(principal.get("AWS")) if isinstance(principal, dict) else [principal]
        if not any(_names_account(str(p), caller_account) for p in names):
            continue
        wanted = _required_external_id(stmt.get("Condition") or {})
        if wanted is not None and external_id not in wanted:
            continue
        return True
    return False


def _names_account(principal: str, account: str) -> bool:
    return principal in ("*", account) or f":{account}:" in principal


def _required_external_id(condition: Mapping[str, Any]) -> list[str] | None:
    for operator in ("StringEquals", "StringLike"):
        block = condition.get(operator) or {}
        if isinstance(block, dict) and "sts:ExternalId" in block:
            return [str(v) for v in _as_list(block["sts:ExternalId"])]
    return None
