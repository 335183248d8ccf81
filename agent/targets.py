"""What a scan covers: which accounts (the caller's, a list, or an organisation) and regions.

`TargetSpec` is the user's request, as flags or the `[targets]` config section give it. The
functions below turn it into a plan, recording every account and region left out with the
reason, so the coverage report can show what was not scanned and why:

- accounts: AWS Organizations (ListAccounts, or by OU through ListOrganizationalUnitsForParent
  and ListAccountsForParent, recursively) or an explicit list; only ACTIVE members are scanned;
  include/exclude globs match the account ID or name;
- regions: the account's enabled regions (EC2 DescribeRegions with AllRegions, opt-in aware),
  or the requested ones, each narrowed to the services botocore knows to exist there.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import botocore.session

from agent.aws.handle import CallFailed, RegionHandle

ACCOUNT_ID = re.compile(r"^\d{12}$")
OU_ID = re.compile(r"^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$")
ROLE_NAME = re.compile(r"^[\w+=,.@/-]{1,512}$")
SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")

# The regional services the collectors call; a region is scanned for those offered there.
SERVICES = ("sagemaker", "glue", "cloudwatch", "application-autoscaling",
            "resourcegroupstaggingapi")
# Organizations answers in one region per partition.
_ORGANIZATIONS_REGION = {"aws": "us-east-1", "aws-us-gov": "us-gov-west-1",
                         "aws-cn": "cn-northwest-1"}
ENABLED = frozenset({"opt-in-not-required", "opted-in"})


_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
MAX_SHARDS = 1000


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard K of N: the accounts whose `shard_index` is K. Assignment hashes the account ID,
    so an account stays in its shard whatever else the organisation gains or loses, and shards
    that read the member list at slightly different times still never overlap."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_SHARDS:
            raise ValueError(f"shard count must be 1 to {MAX_SHARDS}, not {self.count}")
        if not 1 <= self.index <= self.count:
            raise ValueError(f"shard {self.index}/{self.count}: K must be 1 to N")

    @classmethod
    def parse(cls, text: str) -> Shard:
        m = _SHARD.match(text)
        if not m:
            raise ValueError(f"not a shard: {text!r} (use K/N, e.g. 2/3)")
        return cls(int(m.group(1)), int(m.group(2)))

    def owns(self, account_id: str) -> bool:
        return shard_index(account_id, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def run_key(run_id: str, target_key: str) -> str:
    """What the shards of one run share: the run ID, qualified by the targets, so two target
    sets that name runs the same way (by schedule time, say) never join each other's scan."""
    return f"{run_id}@{target_key[:16]}"


def shard_index(account_id: str, count: int) -> int:
    """Which of `count` shards scans an account (1-based)."""
    digest = hashlib.sha256(account_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """The accounts and regions to scan. Empty fields mean the defaults described here.

    With neither `organization`, `ou_ids` nor `accounts`, the scan covers the caller's own
    account (through `role_name` when it is given, else with the caller's credentials).
    """

    organization: bool = False  # discover accounts through AWS Organizations
    ou_ids: tuple[str, ...] = ()  # only accounts under these OUs, recursively (implies it)
    accounts: tuple[str, ...] = ()  # explicit account IDs (with organization: limit to these)
    include: tuple[str, ...] = ()  # globs on account ID or name; any must match
    exclude: tuple[str, ...] = ()  # globs on account ID or name; none may match
    role_name: str | None = None  # the audit role assumed in every target account
    external_id: str | None = None
    session_name: str = "mllens"
    regions: tuple[str, ...] = ()  # empty: each account's enabled regions
    shard: Shard | None = None  # only this shard's share of the accounts

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError(problems[0])

    def problems(self) -> list[str]:
        out = []
        out += [f"not an AWS account ID: {a!r} (12 digits)" for a in self.accounts
                if not ACCOUNT_ID.match(a)]
        out += [f"not an organizational unit or root ID: {o!r} (ou-xxxx-xxxxxxxx or r-xxxx)"
                for o in self.ou_ids if not OU_ID.match(o)]
        out += [f"not a region name: {r!r}" for r in self.regions if not REGION.match(r)]
        if self.role_name is not None and not ROLE_NAME.match(self.role_name):
            out.append(f"not an IAM role name: {self.role_name!r}")
        if not SESSION_NAME.match(self.session_name):
            out.append(f"role session name {self.session_name!r} must be 2-64 characters of "
                       "letters, digits and +=,.@-")
        if self.external_id is not None and not EXTERNAL_ID.match(self.external_id):
            out.append("the external ID must be 2-1224 characters of letters, digits and "
                       "+=,.@:/-")
        if self.discovers and not self.role_name:
            out.append("scanning an organisation needs a role name (the audit role deployed in "
                       "each member account)")
        if self.external_id and not self.role_name:
            out.append("an external ID needs a role name to assume")
        return out

    def key(self) -> str:
        """A digest naming these targets: which accounts and regions. Not the role, session or
        shard: those change how, not what, is scanned. (Whose credentials resolve "the
        caller's account" is told apart by the scan's recorded caller.)"""
        doc = {
            "organization": self.discovers,
            "ou_ids": sorted(self.ou_ids),
            "accounts": sorted(self.accounts),
            "include": sorted(self.include),
            "exclude": sorted(self.exclude),
            "regions": sorted(self.regions),
        }
        raw = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        return hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()

    @property
    def discovers(self) -> bool:
        return self.organization or bool(self.ou_ids)

    @property
    def multi_account(self) -> bool:
        return self.discovers or bool(self.accounts)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who runs the scan, from STS GetCallerIdentity."""

    account_id: str
    arn: str
    partition: str


@dataclass(frozen=True, slots=True)
class Target:
    account_id: str
    name: str = ""
    role_arn: str | None = None  # None: scanned with the caller's own credentials


@dataclass(frozen=True, slots=True)
class AccountSkip:
    """An account the plan leaves out, and why (stored as a coverage row)."""

    account_id: str
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class AccountPlan:
    targets: tuple[Target, ...]
    skipped: tuple[AccountSkip, ...] = ()


@dataclass(frozen=True, slots=True)
class Member:
    account_id: str
    name: str
    state: str  # State, or the legacy Status where State is absent


@dataclass(frozen=True, slots=True)
class RegionPlan:
    """One region of one account: skipped with a reason, or scanned for `services`."""

    region: str
    services: frozenset[str] = frozenset()
    skipped: str | None = None
    # Services not offered in the region: their inventory is empty by definition.
    unavailable: Mapping[str, str] = field(default_factory=dict)


def organizations_region(partition: str) -> str:
    return _ORGANIZATIONS_REGION.get(partition, "us-east-1")


def partition_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "arn" else "aws"


async def discover_members(h: RegionHandle, ou_ids: Sequence[str]) -> list[Member]:
    """Every account of the organisation, or those under `ou_ids` (recursively).

    Raises CallFailed when the organisation cannot be read: without it there is no plan.
    """
    seen: dict[str, Member] = {}
    if not ou_ids:
        async for page in h.pages("organizations", "ListAccounts", "NextToken", "NextToken"):
            for acct in page.get("Accounts") or ():
                _keep(seen, acct)
        return list(seen.values())
    pending = list(dict.fromkeys(ou_ids))
    visited: set[str] = set()
    while pending:
        parent = pending.pop(0)
        if parent in visited:
            continue
        visited.add(parent)
        async for page in h.pages("organizations", "ListAccountsForParent", "NextToken",
                                  "NextToken", ParentId=parent):
            for acct in page.get("Accounts") or ():
                _keep(seen, acct)
        async for page in h.pages("organizations", "ListOrganizationalUnitsForParent",
                                  "NextToken", "NextToken", ParentId=parent):
            pending.extend(ou["Id"] for ou in page.get("OrganizationalUnits") or ())
    return list(seen.values())


def _keep(seen: dict[str, Member], acct: Mapping[str, object]) -> None:
    account_id = str(acct.get("Id", ""))
    state = str(acct.get("State") or acct.get("Status") or "UNKNOWN").upper()
    seen[account_id] = Member(account_id, str(acct.get("Name") or ""), state)


def _matches(patterns: Iterable[str], account_id: str, name: str) -> str | None:
    for p in patterns:
        low = p.lower()
        if fnmatch.fnmatchcase(account_id, low) or (name and fnmatch.fnmatchcase(name.lower(),
                                                                                  low)):
            return p
    return None


def plan_accounts(
    spec: TargetSpec, caller: Caller, members: Sequence[Member] | None
) -> AccountPlan:
    """Turn the spec (and the organisation's members, when discovered) into targets and skips."""
    candidates: list[Member]
    skipped: list[AccountSkip] = []
    if members is None:
        ids = spec.accounts or (caller.account_id,)
        candidates = [Member(a, "", "ACTIVE") for a in dict.fromkeys(ids)]
    else:
        by_id = {m.account_id: m for m in members}
        if spec.accounts:
            candidates = []
            for a in dict.fromkeys(spec.accounts):
                if a in by_id:
                    candidates.append(by_id[a])
                else:
                    skipped.append(AccountSkip(a, "", "not found in the organisation (or not "
                                                      "under the requested OUs)"))
        else:
            candidates = sorted(members, key=lambda m: m.account_id)
    targets: list[Target] = []
    if not spec.role_name:
        others = [m.account_id for m in candidates if m.account_id != caller.account_id]
        if others:
            raise ValueError(
                f"account {others[0]} is not the caller's account ({caller.account_id}): "
                "give a role name to assume in it"
            )
    for m in candidates:
        reason = _skip_reason(spec, m)
        if reason:
            skipped.append(AccountSkip(m.account_id, m.name, reason))
            continue
        arn = None
        if spec.role_name:
            arn = f"arn:{caller.partition}:iam::{m.account_id}:role/{spec.role_name.strip('/')}"
        targets.append(Target(m.account_id, m.name, arn))
    if spec.shard is not None:
        owns = spec.shard.owns
        targets = [t for t in targets if owns(t.account_id)]
        skipped = [k for k in skipped if owns(k.account_id)]
    return AccountPlan(tuple(targets), tuple(skipped))


def _skip_reason(spec: TargetSpec, m: Member) -> str | None:
    if m.state != "ACTIVE":
        return f"account is {m.state}, not ACTIVE"
    if spec.include and _matches(spec.include, m.account_id, m.name) is None:
        return "matches no include pattern (" + ", ".join(spec.include) + ")"
    hit = _matches(spec.exclude, m.account_id, m.name)
    if hit is not None:
        return f"matches exclude pattern {hit!r}"
    return None


def service_regions(partition: str, services: Iterable[str] = SERVICES) -> dict[str, set[str]]:
    """Where botocore says each service exists."""
    s = botocore.session.get_session()
    return {svc: set(s.get_available_regions(svc, partition_name=partition)) for svc in services}


async def enabled_regions(h: RegionHandle) -> dict[str, str]:
    """Region -> opt-in status for this account, from EC2 DescribeRegions (AllRegions)."""
    resp = await h.call("ec2", "DescribeRegions", AllRegions=True)
    return {
        str(r["RegionName"]): str(r.get("OptInStatus") or "opt-in-not-required")
        for r in resp.get("Regions") or ()
    }


def plan_regions(
    requested: Sequence[str],
    status: Mapping[str, str] | None,
    by_service: Mapping[str, set[str]],
) -> list[RegionPlan]:
    """The regions of one account: requested ones (or all enabled), each with its services.

    `status` is None when the region list could not be read: requested regions are then
    scanned as asked (an opt-in region that is off will show as rejected credentials).
    A region botocore does not know at all (an emulator's invention) gets every service.
    """
    known = set().union(*by_service.values()) if by_service else set()
    if requested:
        names = list(dict.fromkeys(requested))
    elif status is not None:
        names = sorted(r for r, st in status.items() if st in ENABLED and r in known)
    else:
        names = []
    plans = []
    for region in names:
        if status is not None:
            st = status.get(region)
            if st is None:
                plans.append(RegionPlan(region, skipped="not offered to this account "
                                                        "(absent from DescribeRegions)"))
                continue
            if st not in ENABLED:
                plans.append(RegionPlan(region, skipped=f"not enabled in this account "
                                                        f"(opt-in status: {st})"))
                continue
        if region not in known:
            plans.append(RegionPlan(region, frozenset(by_service)))
            continue
        available = frozenset(s for s, regions in by_service.items() if region in regions)
        missing = {s: f"{s} is not offered in {region}" for s in by_service if s not in available}
        if not available:
            plans.append(RegionPlan(region, skipped="none of the scanned services is offered "
                                                    "here"))
            continue
        plans.append(RegionPlan(region, available, unavailable=missing))
    return plans


__all__ = [
    "ENABLED",
    "SERVICES",
    "AccountPlan",
    "AccountSkip",
    "CallFailed",
    "Caller",
    "Member",
    "RegionPlan",
    "Shard",
    "Target",
    "TargetSpec",
    "discover_members",
    "enabled_regions",
    "organizations_region",
    "partition_of",
    "plan_accounts",
    "plan_regions",
    "run_key",
    "service_regions",
    "shard_index",
]
