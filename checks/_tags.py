"""The region's tags, indexed by resource ARN: read by the severity policy and the tag checks.

The tags collector stores one TAGS record per resource the tagging API reports (ARN plus
`Tags` as the API's list of Key/Value pairs). The Resource Groups Tagging API reports every
resource that has, or had, tags; so when the kind was collected completely, a resource absent
from it has no tags. When the kind has a gap, nothing can be said about any resource's tags.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from agent.domain import Inventory, Kind, Resource
from checks._helpers import optional_kind

COVERAGE = "coverage"


def resource_type(arn: str) -> str:
    """"arn:aws:sagemaker:r:a:endpoint/x" -> "sagemaker:endpoint" (the tagging API's form)."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return ""
    return f"{parts[2]}:{re.split(r'[/:]', parts[5], maxsplit=1)[0]}"


def tag_dict(record: Resource) -> dict[str, str]:
    """`Tags` as a dict, whichever shape the API gave (list of Key/Value, or a mapping)."""
    raw = record.get("Tags")
    if isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items()}
    out: dict[str, str] = {}
    for item in raw or ():
        if isinstance(item, Mapping) and "Key" in item:
            out[str(item["Key"])] = str(item.get("Value") or "")
    return out


@dataclass(frozen=True)
class TagIndex:
    """Tags by ARN, and whether they can be trusted in this inventory.

    `state` is "complete" (absence means no tags), "failed" (a gap: every lookup is unknown)
    or "absent" (not collected at all, e.g. a hand-built inventory or a scan that did not ask).
    """

    state: str
    reason: str = ""
    records: Mapping[str, Resource] = field(default_factory=dict)
    # Resource types the collection covered; None when not stated (all are taken as covered).
    types: frozenset[str] | None = None

    @classmethod
    def of(cls, inv: Inventory) -> TagIndex:
        tags = optional_kind(inv, Kind.TAGS)
        if tags.not_asked:
            return cls("absent", "tags were not collected")
        if tags.failed:
            return cls("failed", tags.why)
        records: dict[str, Resource] = {}
        types: frozenset[str] | None = None
        for r in inv.of(Kind.TAGS):
            if r.name == COVERAGE and "ResourceTypes" in r.data:
                types = frozenset(str(t) for t in r.get("ResourceTypes") or ())
                continue
            records[r.arn] = r
            # SageMaker ARNs are lower-cased by AWS but names keep their case elsewhere.
            records.setdefault(r.arn.lower(), r)
        return cls("complete", "", records, types)

    def covers(self, arn: str) -> bool:
        """Whether tags of this resource's type were collected at all."""
        return self.types is None or resource_type(arn) in self.types

    def lookup(self, arn: str) -> tuple[dict[str, str] | None, str | None]:
        """(tags, None) when known, or (None, why not)."""
        if self.state != "complete":
            return None, self.reason
        if not self.covers(arn):
            return None, f"tags of {resource_type(arn) or 'this resource type'} are not collected"
        record = self.records.get(arn) or self.records.get(arn.lower())
        if record is None:
            return {}, None
        if record.incomplete_reason:
            return None, f"tags of this resource not read: {record.incomplete_reason}"
        return tag_dict(record), None
