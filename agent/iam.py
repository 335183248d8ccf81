"""The IAM policies mllens needs, derived from the code that makes the calls.

Three principals:

- the **audit role** in each member account: read-only, exactly the actions the collectors
  declare (`agent.collectors.COLLECTORS[*].actions`) plus the scan-level calls below;
- the **scanner**, where mllens runs (an ECS task role, say): it lists the organization's
  accounts, assumes the audit role in each, and publishes the notification summary;
- the **wa-sync** role, for `mllens wa-sync` only: it writes evidence into a workload's
  Well-Architected review, which a scan never does, so it stays out of both policies above.

Each grant says who calls it and, when a full scan of a typical estate need not call it, under
which condition it is called: `tests/test_iam.py` fails when the code calls an action no policy
grants, or when a policy grants an action that is neither called nor justified here.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

POLICY_VERSION = "2012-10-17"
DEFAULT_AUDIT_ROLE = "mllens-audit"

# botocore signs some services under a name that is not their IAM prefix.
_IAM_PREFIX_BY_SIGNING_NAME = {"monitoring": "cloudwatch", "tagging": "tag"}
# API operations whose IAM action has another name. None of the operations mllens calls today;
# the catalog test in tests/test_iam.py fails when a new call needs an entry here.
_IAM_ACTION_BY_OPERATION: dict[str, str] = {}


class Principal(enum.StrEnum):
    AUDIT = "audit"
    SCANNER = "scanner"
    WA_SYNC = "wa-sync"


@dataclass(frozen=True, slots=True)
class Grant:
    """One IAM action, who needs it, and why."""

    action: str
    principal: Principal
    caller: str
    # Empty when every full scan calls the action; otherwise when it is called.
    conditional: str = ""
    # "*" or an ARN template with {partition}, {role_name}, {sns_topic_arn}.
    resource: str = "*"
    sid: str = "MllensReadOnly"
    # Only granted when this input is given (e.g. an SNS topic to publish to).
    needs: str = ""
    # Called through the scan's handles, so under its per-service rate limits (--rate,
    # limits.rate_limits); False for calls made with a client of their own.
    rate_limited: bool = True


# Scan-level calls, outside the collectors.
SCAN_GRANTS: tuple[Grant, ...] = (
    Grant("sts:GetCallerIdentity", Principal.AUDIT,
          "agent.scan.identify_account: the account the scan's credentials reach"),
    Grant("ec2:DescribeRegions", Principal.AUDIT,
          "agent.targets.enabled_regions: the regions each account has enabled (opt-in aware)"),
)

# The scanner's own calls. The multi-account targets (agent.targets) add theirs here, next to
# the audit role they assume, so the policy and the code change together.
SCANNER_GRANTS: tuple[Grant, ...] = (
    Grant("organizations:ListAccounts", Principal.SCANNER,
          "agent.targets: the organization's accounts",
          conditional="only with targets.organization = true (multi-account scan)",
          sid="ListOrganizationAccounts"),
    Grant("organizations:ListAccountsForParent", Principal.SCANNER,
          "agent.targets: the accounts directly under an OU",
          conditional="only with targets.ou_ids (multi-account scan)",
          sid="ListOrganizationAccounts"),
    Grant("organizations:ListOrganizationalUnitsForParent", Principal.SCANNER,
          "agent.targets: the child OUs of an OU, walked recursively",
          conditional="only with targets.ou_ids (multi-account scan)",
          sid="ListOrganizationAccounts"),
    Grant("sts:AssumeRole", Principal.SCANNER,
          "agent.targets: the audit role in each member account",
          conditional="only when the scan covers accounts other than the caller's",
          resource="arn:{partition}:iam::*:role/{role_name}", sid="AssumeAuditRole"),
    Grant("sns:Publish", Principal.SCANNER,
          "agent.notify.SnsSender: one summary per scan",
          conditional="only when notifications.sns_topic_arn is set",
          resource="{sns_topic_arn}", sid="PublishFindingsSummary", needs="sns_topic_arn",
          rate_limited=False),
)

# Collector actions a full scan need not call, and when they are called. Empty today: the
# estate tests/test_iam.py scans exercises every collector action.
CONDITIONAL_COLLECTOR_ACTIONS: Mapping[str, str] = {}


def collector_grants() -> tuple[Grant, ...]:
    from agent.collectors import COLLECTORS

    return tuple(
        Grant(action, Principal.AUDIT, f"collector {c.name}",
              conditional=CONDITIONAL_COLLECTOR_ACTIONS.get(action, ""))
        for c in COLLECTORS
        for action in c.actions
    )


def wa_sync_grants() -> tuple[Grant, ...]:
    from agent.wa.api import ACTIONS, SERVICE

    return tuple(
        Grant(f"{SERVICE}:{op}", Principal.WA_SYNC, "agent.wa.api",
              conditional=when or "only by mllens wa-sync", sid="WellArchitectedEvidence")
        for op, when in ACTIONS
    )


def all_grants() -> tuple[Grant, ...]:
    return (*collector_grants(), *SCAN_GRANTS, *SCANNER_GRANTS, *wa_sync_grants())


# -- policy documents --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PolicyInputs:
    """What a generated policy depends on besides the code."""

    role_name: str = DEFAULT_AUDIT_ROLE
    sns_topic_arn: str | None = None
    partition: str = "aws"

    def given(self, name: str) -> bool:
        return not name or bool(getattr(self, name))

    def fill(self, template: str) -> str:
        return template.format(
            partition=self.partition, role_name=self.role_name,
            sns_topic_arn=self.sns_topic_arn or "",
        )


def policy(
    principal: Principal,
    inputs: PolicyInputs = PolicyInputs(),
    grants: Iterable[Grant] | None = None,
) -> dict[str, Any]:
    """One IAM policy document: a statement per (Sid, resource), actions sorted, no duplicates."""
    statements: dict[tuple[str, str], set[str]] = {}
    for g in all_grants() if grants is None else grants:
        if g.principal is principal and inputs.given(g.needs):
            statements.setdefault((g.sid, inputs.fill(g.resource)), set()).add(g.action)
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resource}
            for (sid, resource), actions in sorted(statements.items())
        ],
    }


def policies(inputs: PolicyInputs = PolicyInputs()) -> dict[str, dict[str, Any]]:
    """The documents by file name, as shipped under deploy/iam/."""
    return {f"{POLICY_FILE[p]}.json": policy(p, inputs) for p in Principal}


POLICY_FILE = {
    Principal.AUDIT: "audit-role-policy",
    Principal.SCANNER: "scanner-policy",
    Principal.WA_SYNC: "wa-sync-policy",
}


def render(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


def granted(document: Mapping[str, Any]) -> set[str]:
    """Every action a policy document allows."""
    out: set[str] = set()
    for st in document["Statement"]:
        if st["Effect"] == "Allow":
            actions = st["Action"]
            out.update([actions] if isinstance(actions, str) else actions)
    return out


# -- the services mllens calls, for their rate limits --------------------------------------------

# IAM prefixes that are not the botocore client name, which is what the rate limiter keys its
# buckets by (and what botocore's region lists are under).
_CLIENT_BY_IAM_PREFIX = {"tag": "resourcegroupstaggingapi"}


def client_name(prefix: str) -> str:
    """The botocore client name of an IAM service prefix."""
    return _CLIENT_BY_IAM_PREFIX.get(prefix, prefix)


@cache
def rate_limited_services() -> tuple[str, ...]:
    """The services a scan calls through its rate-limited handles, by botocore client name:
    the collectors' actions and the scan-level calls granted above."""
    grants = (*collector_grants(), *SCAN_GRANTS, *SCANNER_GRANTS)
    return tuple(sorted({client_name(g.action.split(":", 1)[0])
                         for g in grants if g.rate_limited}))


def unknown_service(name: str) -> str | None:
    """What is wrong with a service (or `service:Operation`) named for a rate limit, with a
    suggestion; None when it is one mllens calls."""
    import difflib

    service, sep, operation = name.partition(":")
    if sep:
        problem = unknown_service(service)
        if problem is not None:
            return problem
        operations = _operations(service)
        if operation in operations:
            return None
        close = next(iter(difflib.get_close_matches(operation, operations, n=1)), None)
        hint = f"; did you mean {service}:{close}?" if close else ""
        return f"{service} has no operation {operation!r}{hint}"
    known = rate_limited_services()
    if name in known:
        return None
    # IAM's prefix (tag) or the signing name (monitoring) of a service is a likely mix-up.
    aliases = {alias: client for client in known
               for alias in (iam_prefix(client), _signing_name(client)) if alias != client}
    close = aliases.get(name) or next(iter(difflib.get_close_matches(name, known, n=1)), None)
    hint = f"; did you mean {close!r}?" if close else ""
    return f"unknown service {name!r}{hint} (mllens calls: {', '.join(known)})"


@cache
def _operations(client: str) -> tuple[str, ...]:
    import botocore.session

    return tuple(botocore.session.get_session().get_service_model(client).operation_names)


@cache
def _signing_name(client: str) -> str:
    import botocore.session

    return str(botocore.session.get_session().get_service_model(client).signing_name)


# -- from API calls to IAM actions -------------------------------------------------------------


@cache
def iam_prefix(client_name: str) -> str:
    """The IAM service prefix of a boto3 client name (e.g. cloudwatch signs as monitoring)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model(client_name)
    return _IAM_PREFIX_BY_SIGNING_NAME.get(model.signing_name, model.signing_name)


def iam_action(call: str) -> str:
    """The IAM action behind a counted call, `"<client name>:<Operation>"`."""
    client_name, operation = call.split(":", 1)
    return f"{iam_prefix(client_name)}:{_IAM_ACTION_BY_OPERATION.get(call, operation)}"
