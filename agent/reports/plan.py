"""The remediation plan (the lens' gap-prioritisation step): open findings as ranked actions.

Open means failing and not muted (`agent.domain.standing`): a muted finding is an accepted
risk, so it is left out of the actions and counted per check instead, like the UNKNOWN
findings the plan cannot rank.

One action per check: its open findings, the resources they affect, the remediation text and
the lens practices. Actions are ranked by

    score = severity weight x (1 + log2(blast radius)) / effort cost

- severity weight doubles per level: info 0.5, low 1, medium 2, high 4, critical 8 (an action
  takes the worst severity among its findings);
- blast radius = distinct resources affected + those of them tagged as production, so a
  production resource counts twice; the logarithm makes one critical exposure outrank a long
  tail of low-severity hygiene (1 resource -> x1, 2 -> x2, 4 -> x3, 16 -> x5);
- effort cost doubles per class: config 1, redeploy 2, rearchitect 4 (`checks.base.Effort`).

Ties go to the higher severity, then more resources, then the check ID. Production tags are
read from the findings' evidence (`Tags`/`tags`, as a list of Key/Value pairs or a mapping);
a resource whose tags are unknown is never counted as production.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from agent.domain import Pillar, Severity, Standing
from agent.reports.model import UNKNOWN, Finding
from checks.base import DEFAULT_EFFORT, Check, Effort
from checks.lens import Practice

SEVERITY_WEIGHT = {
    Severity.INFO: 0.5,
    Severity.LOW: 1.0,
    Severity.MEDIUM: 2.0,
    Severity.HIGH: 4.0,
    Severity.CRITICAL: 8.0,
}
_TAG_KEYS = ("Tags", "tags", "ResourceTags", "resource_tags")


@dataclass(frozen=True, slots=True)
class ProdSelector:
    """Which tags mark a production resource: any of `keys` with any of `values` (no case)."""

    keys: tuple[str, ...] = ("environment", "env", "stage")
    values: tuple[str, ...] = ("prod", "production")

    @classmethod
    def parse(cls, spec: str) -> ProdSelector:
        """`KEY=V1,V2` (or `KEY1|KEY2=V1,V2`); raises ValueError for anything else."""
        key, sep, values = spec.partition("=")
        keys = tuple(k.strip() for k in key.split("|") if k.strip())
        vals = tuple(v.strip() for v in values.split(",") if v.strip())
        if not sep or not keys or not vals:
            raise ValueError(f"production tag selector {spec!r} is not KEY=VALUE[,VALUE...]")
        return cls(keys, vals)

    def matches(self, tags: Mapping[str, str]) -> bool:
        keys = {k.lower() for k in self.keys}
        values = {v.lower() for v in self.values}
        return any(k.lower() in keys and str(v).lower() in values for k, v in tags.items())


def tags_of(evidence: Mapping[str, Any]) -> dict[str, str] | None:
    """The resource tags quoted in a finding's evidence; None when the evidence has none."""
    for key in _TAG_KEYS:
        raw = evidence.get(key)
        if isinstance(raw, Mapping):
            return {str(k): str(v) for k, v in raw.items()}
        if isinstance(raw, (list, tuple)):
            out = {}
            for item in raw:
                if isinstance(item, Mapping) and "Key" in item:
                    out[str(item["Key"])] = str(item.get("Value", ""))
            return out
    return None


@dataclass(frozen=True)
class Action:
    rank: int
    check_id: str
    title: str
    pillar: Pillar
    severity: Severity
    effort: Effort
    remediation: str
    lens: tuple[Practice, ...]
    resources: tuple[str, ...]
    production: tuple[str, ...]
    tags_known: int
    findings: tuple[Finding, ...]
    score: float
    unverified: int = 0

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(sorted({f.region for f in self.findings}))

    @property
    def accounts(self) -> tuple[str, ...]:
        return tuple(sorted({f.account_id for f in self.findings}))

    def as_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "check_id": self.check_id,
            "title": self.title,
            "pillar": self.pillar.value,
            "severity": self.severity.value,
            "effort": self.effort.value,
            "score": round(self.score, 3),
            "resources": list(self.resources),
            "resource_count": len(self.resources),
            "production_resources": list(self.production),
            "resources_with_known_tags": self.tags_known,
            "findings": len(self.findings),
            "unverified_findings": self.unverified,
            "accounts": list(self.accounts),
            "regions": list(self.regions),
            "lens": [
                {"id": p.id, "legacy_id": p.legacy_id, "title": p.title, "url": p.url}
                for p in self.lens
            ],
            "remediation": self.remediation,
            "items": [
                {
                    "account_id": f.account_id,
                    "region": f.region,
                    "resource_arn": f.resource_arn,
                    "sub_resource": f.sub_resource,
                    "reason": f.reason,
                    "finding_id": f.key,
                }
                for f in self.findings
            ],
        }


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    # Checks whose verdict is UNKNOWN somewhere: what the plan cannot see.
    unknown: Mapping[str, int] = field(default_factory=dict)
    # Failing findings left out because a mute applies, per check.
    muted: Mapping[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "actions": [a.as_dict() for a in self.actions],
            "unknown_by_check": dict(self.unknown),
            "muted_findings": sum(self.muted.values()),
            "muted_by_check": dict(self.muted),
        }

    def left_out(self) -> str:
        """One line on what is not ranked, or "" when everything is."""
        parts = []
        if self.muted:
            parts.append(f"{_counted(self.muted, 'muted finding')} left out (accepted risks;"
                         " list them: mllens findings --muted)")
        if self.unknown:
            parts.append(f"{_counted(self.unknown, 'finding')} could not be verified (UNKNOWN)"
                         " and are not ranked; see 'mllens report'")
        return "; ".join(parts) + ("." if parts else "")


def _counted(by_check: Mapping[str, int], noun: str) -> str:
    """`3 muted findings of 2 checks`, `1 muted finding of 1 check`."""
    n, checks = sum(by_check.values()), len(by_check)
    return f"{n} {noun}{'s' if n != 1 else ''} of {checks} check{'s' if checks != 1 else ''}"


def score(severity: Severity, resources: int, production: int, effort: Effort) -> float:
    blast = max(1, resources + production)
    return SEVERITY_WEIGHT[severity] * (1 + math.log2(blast)) / effort.cost


def build(
    findings: Iterable[Finding],
    catalog: Mapping[str, Check],
    selectors: Sequence[ProdSelector] | None = None,
) -> Plan:
    """Rank the open findings (failing, not muted); a resource is production when any of
    `selectors` matches its tags (default: `ProdSelector()`)."""
    selectors = tuple(selectors or (ProdSelector(),))
    groups: dict[str, list[Finding]] = defaultdict(list)
    unknown: dict[str, int] = defaultdict(int)
    muted: dict[str, int] = defaultdict(int)
    for f in findings:
        if f.standing is Standing.OPEN:
            groups[f.check_id].append(f)
        elif f.standing is Standing.MUTED:
            muted[f.check_id] += 1
        elif f.status == UNKNOWN:
            unknown[f.check_id] += 1
    draft = [_action(check_id, items, catalog.get(check_id), selectors)
             for check_id, items in groups.items()]
    draft.sort(key=lambda a: (-a.score, -a.severity.rank, -len(a.resources), a.check_id))
    actions = tuple(_ranked(a, i) for i, a in enumerate(draft, start=1))
    return Plan(actions, dict(sorted(unknown.items())), dict(sorted(muted.items())))


def _action(
    check_id: str, items: Sequence[Finding], chk: Check | None,
    selectors: Sequence[ProdSelector],
) -> Action:
    severity = max((f.severity for f in items), key=lambda s: s.rank)
    effort = chk.effort if chk else DEFAULT_EFFORT
    resources = sorted({f.resource_arn for f in items})
    tags: dict[str, dict[str, str]] = {}
    for f in items:
        t = tags_of(f.evidence)
        if t is not None:
            tags.setdefault(f.resource_arn, {}).update(t)
    production = sorted(
        arn for arn, t in tags.items() if any(s.matches(t) for s in selectors)
    )
    return Action(
        rank=0,
        check_id=check_id,
        title=chk.title if chk else check_id,
        pillar=items[0].pillar,
        severity=severity,
        effort=effort,
        remediation=chk.remediation if chk else "",
        lens=chk.lens if chk else (),
        resources=tuple(resources),
        production=tuple(production),
        tags_known=len(tags),
        findings=tuple(sorted(items, key=lambda f: (f.account_id, f.region, f.resource_arn,
                                                    f.sub_resource))),
        score=score(severity, len(resources), len(production), effort),
        unverified=sum(f.unknown_since_at is not None for f in items),
    )


def _ranked(a: Action, rank: int) -> Action:
    return replace(a, rank=rank)
