"""A synthetic ML estate for the history benchmark: accounts of resources, each judged by the
real check catalog, changing a few percent a day.

Deterministic for a seed. Nothing here talks to AWS or the store: it only builds the `Result`,
`Resource`, coverage and scope values that `Store.write_account` takes, as a scan would.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from agent.domain import Gap, GapKind, Kind, Resource, Result, Severity, Status, freeze
from checks import all_checks
from checks.base import Check

REGIONS = ("us-east-1", "eu-west-1")
# The share of each status a fresh finding gets; failing is common in real estates.
_STATUS_WEIGHTS = (
    (Status.FAIL, 35),
    (Status.PASS, 50),
    (Status.NOT_APPLICABLE, 10),
    (Status.UNKNOWN, 5),
)
_INSTANCE_TYPES = ("ml.m5.large", "ml.c5.xlarge", "ml.g4dn.xlarge", "ml.m4.xlarge", "ml.t3.medium")
# One account in this many has a region where an SCP denies DescribeAlarms, every day: its
# alarm checks stay UNKNOWN there and never resolve anything (a persistent, realistic gap).
DENIED_EVERY = 10
DENIED_KIND = Kind.ALARMS


@dataclass
class Finding:
    check: Check
    status: Status
    reason: str
    severity: Severity


@dataclass
class SynthResource:
    kind: Kind
    arn: str
    name: str
    region: str
    instance_type: str
    count: int
    created: str
    findings: dict[str, Finding] = field(default_factory=dict)


@dataclass
class Account:
    account_id: str
    resources: dict[str, SynthResource] = field(default_factory=dict)

    @property
    def denied_region(self) -> str | None:
        return REGIONS[1] if int(self.account_id) % DENIED_EVERY == 0 else None


class Estate:
    """`findings` finding identities over `accounts` accounts, two regions each."""

    def __init__(self, findings: int, accounts: int, seed: int = 20261201) -> None:
        self.rng = random.Random(seed)
        self.by_kind: dict[Kind, list[Check]] = {}
        for c in all_checks():
            self.by_kind.setdefault(c.primary_kind, []).append(c)
        self.kinds = sorted(self.by_kind)
        self.accounts = [Account(f"{100000000000 + n:012d}") for n in range(accounts)]
        self._serial = 0
        per_account = max(1, findings // accounts)
        for account in self.accounts:
            while sum(len(r.findings) for r in account.resources.values()) < per_account:
                self._create(account)

    # -- building and changing ----------------------------------------------------------------

    def _create(self, account: Account, kind: Kind | None = None) -> SynthResource:
        kind = kind or self.rng.choice(self.kinds)
        region = self.rng.choice(REGIONS)
        self._serial += 1
        name = f"{kind.value.replace('_', '-')}-{self._serial:06d}"
        arn = f"arn:aws:sagemaker:{region}:{account.account_id}:{kind.value}/{name}"
        res = SynthResource(
            kind=kind,
            arn=arn,
            name=name,
            region=region,
            instance_type=self.rng.choice(_INSTANCE_TYPES),
            count=self.rng.randint(1, 4),
            created=f"2026-{self.rng.randint(1, 11):02d}-{self.rng.randint(1, 28):02d}T08:00:00Z",
        )
        for chk in self.by_kind[kind]:
            status = self.rng.choices(
                [s for s, _ in _STATUS_WEIGHTS], [w for _, w in _STATUS_WEIGHTS]
            )[0]
            res.findings[chk.id] = Finding(chk, status, _reason(chk, status, 0), chk.severity)
        account.resources[arn] = res
        return res

    def churn(self, share: float) -> int:
        """Change about `share` of all findings; how many existing findings changed.

        What a day in an ML estate looks like, by share of the changed findings: half are
        fixes and regressions (status flips), a quarter change their reason or severity but
        not their status, and a quarter belong to resources replaced by new ones (their
        findings go GONE and the new resource's findings are new identities).
        """
        target = max(1, round(share * self.finding_count()))
        changed = 0
        replaced = 0
        while changed < target:
            account = self.rng.choice(self.accounts)
            res = self.rng.choice(list(account.resources.values()))
            roll = self.rng.random()
            if roll < 0.25 and replaced < target / 4:
                del account.resources[res.arn]
                self._create(account, res.kind)
                changed += len(res.findings)
                replaced += len(res.findings)
                continue
            f = self.rng.choice(list(res.findings.values()))
            if roll < 0.75:
                f.status = Status.PASS if f.status == Status.FAIL else Status.FAIL
                f.reason = _reason(f.check, f.status, self.rng.randint(0, 3))
            elif roll < 0.92:
                f.reason = _reason(f.check, f.status, self.rng.randint(1, 9))
                res.count = self.rng.randint(1, 4)
            else:
                f.severity = self.rng.choice(list(Severity))
            changed += 1
        return changed

    # -- what a scan would hand the store ------------------------------------------------------

    def finding_count(self) -> int:
        return sum(len(r.findings) for a in self.accounts for r in a.resources.values())

    def resources(self, account: Account) -> list[Resource]:
        return [
            Resource(
                r.kind,
                r.arn,
                r.name,
                account.account_id,
                r.region,
                freeze({"Name": r.name, "InstanceType": r.instance_type, "Count": r.count}),
            )
            for r in account.resources.values()
        ]

    def results(self, account: Account, at: datetime) -> Iterator[Result]:
        denied = account.denied_region
        for r in account.resources.values():
            for f in r.findings.values():
                status, reason = f.status, f.reason
                if r.region == denied and DENIED_KIND in f.check.needs:
                    status, reason = Status.UNKNOWN, "inventory not collected: alarms"
                yield Result(
                    check_id=f.check.id,
                    status=status,
                    resource_arn=r.arn,
                    reason=reason,
                    account_id=account.account_id,
                    region=r.region,
                    severity=f.severity,
                    pillar=f.check.pillar,
                    resource_kind=r.kind.value,
                    evidence=_evidence(r),
                    observed_at=at,
                )

    def gaps(self, account: Account, at: datetime) -> list[Gap]:
        if account.denied_region is None:
            return []
        return [Gap(account.account_id, account.denied_region, "cloudwatch", "DescribeAlarms",
                    GapKind.ACCESS_DENIED, "User is not authorized to perform: "
                    "cloudwatch:DescribeAlarms with an explicit deny in a service control policy",
                    kinds=(DENIED_KIND,), observed_at=at)]

    def coverage(self, account: Account) -> list[tuple[str, str, str, str | None]]:
        rows: list[tuple[str, str, str, str | None]] = []
        for region in REGIONS:
            for kind in Kind:
                if region == account.denied_region and kind == DENIED_KIND:
                    rows.append((region, kind.value, "failed", "DescribeAlarms: access_denied"))
                else:
                    rows.append((region, kind.value, "complete", None))
        return rows

    def complete_scopes(self, account: Account, checks: Sequence[Check]) -> set[tuple[str, str]]:
        return {
            (region, c.id)
            for region in REGIONS
            for c in checks
            if not (region == account.denied_region and DENIED_KIND in c.needs)
        }


def _reason(chk: Check, status: Status, variant: int) -> str:
    if status == Status.FAIL:
        return f"{chk.title.rstrip('.')}: not met ({variant} of 4 settings)"
    if status == Status.PASS:
        return f"{chk.title.rstrip('.')}: met"
    if status == Status.NOT_APPLICABLE:
        return "does not apply to this resource"
    return "inventory not collected: describe failed"


def _evidence(r: SynthResource) -> dict[str, object]:
    return {
        "Name": r.name,
        "InstanceType": r.instance_type,
        "InstanceCount": r.count,
        "CreationTime": r.created,
        "KmsKeyId": None if r.count % 2 else f"arn:aws:kms:{r.region}:key/{r.name}",
        "Tags": {"team": "ml-platform", "env": "prod" if r.count > 2 else "dev"},
    }
