"""The summary message of one scan's new findings: a pure function, three renderings."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent.domain import Severity
from agent.notify.select import CHANGE_ORDER, NewFinding
from agent.store.rows import ScanRow

SCHEMA = "mllens.notification/v1"



@dataclass(frozen=True)
class Notification:
    key: str  # idempotency key: one per scan
    subject: str  # SNS subject: ASCII, no line breaks, at most 100 characters
    text: str  # plain text, no links
    data: Mapping[str, Any]  # the same, structured (`SCHEMA`)
    max_severity: Severity

    def slack(self) -> dict[str, Any]:
        """A Slack-compatible webhook body: plain-text blocks, so nothing in a finding's reason
        can format, link or mention anyone."""
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": _plain(self.subject[:150])},
            {"type": "section", "text": _plain(self.data["headline"])},
            {"type": "section", "fields": [
                _plain("By severity\n" + _counts(self.data["by_severity"])),
                _plain("By pillar\n" + _counts(self.data["by_pillar"])),
            ]},
        ]
        for i, f in enumerate(self.data["top"], 1):
            blocks.append({"type": "section", "text": _plain(_finding_text(i, f)[:3000])})
        if self.data["not_listed"]:
            blocks.append({"type": "context", "elements": [
                _plain(f"...and {self.data['not_listed']} more; `mllens findings` lists them.")
            ]})
        return {"text": _slack_escape(self.text), "blocks": blocks}

    def sns_message(self) -> str:
        """Per-protocol bodies: text for people (email, SMS), JSON for machines."""
        body = json.dumps(self.data, sort_keys=True)
        return json.dumps({"default": self.text, "email": self.text, "sqs": body,
                           "lambda": body, "http": body, "https": body, "firehose": body})


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": False}


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def _unlink(text: str) -> str:
    # Reasons are written by checks; keep the message link-free whatever they contain.
    return re.sub(r"\b([a-z][a-z0-9+.-]*)://", r"\1[:]//", text, flags=re.I)


def _finding_text(i: int, f: Mapping[str, Any]) -> str:
    where = f"{f['account_id']} {f['region']}"
    sub = f" / {f['sub_resource']}" if f["sub_resource"] else ""
    return (f"{i}. [{f['severity']}] {f['check_id']} ({f['change']}): {f['title']}\n"
            f"   resource: {f['resource_arn']}{sub} ({where})\n"
            f"   reason: {f['reason']}")


def build_notification(
    scan: ScanRow,
    new: Sequence[NewFinding],
    *,
    min_severity: Severity,
    top_n: int,
    titles: Mapping[str, str],
    carried: Sequence[ScanRow] = (),
) -> Notification | None:
    """The summary of one scan's new findings, or None when there is none. `carried`: earlier
    scans whose summary failed on this channel; their findings are in `new` too."""
    if not new:
        return None
    ranked = sorted(new, key=lambda n: (-n.row.severity.rank, CHANGE_ORDER[n.change],
                                        n.row.check_id, n.row.account_id, n.row.resource_arn,
                                        n.row.sub_resource))
    by_severity = Counter(n.row.severity.value for n in ranked)
    by_pillar = Counter(n.row.pillar.value for n in ranked)
    top = [
        {
            "finding_id": n.row.key,
            "check_id": n.row.check_id,
            "title": titles.get(n.row.check_id, n.row.check_id),
            "severity": n.row.severity.value,
            "pillar": n.row.pillar.value,
            "change": n.change,
            "account_id": n.row.account_id,
            "region": n.row.region,
            "resource_arn": n.row.resource_arn,
            "sub_resource": n.row.sub_resource,
            "reason": _unlink(n.row.reason)[:500],
        }
        for n in ranked[:top_n]
    ]
    count = len(ranked)
    worst = ranked[0].row.severity
    severities = ", ".join(f"{v} {k}" for k, v in by_severity.items())
    noun = "finding" if count == 1 else "findings"
    subject = f"mllens: {count} new {noun} ({severities}) in scan {scan.uid[:8]}"
    finished = f"{scan.finished_at:%Y-%m-%d %H:%M} UTC" if scan.finished_at else "not finished"
    headline = (f"Scan {scan.uid} ({scan.status.value}, finished {finished}) has {count} new "
                f"{noun} at {min_severity.value} severity or above.")
    if carried:
        earlier = ", ".join(c.uid[:8] for c in carried)
        headline += (f" They include those of {len(carried)} earlier scan(s) whose summary "
                     f"was not delivered here ({earlier}).")
    lines = [headline, f"By severity: {_counts(by_severity)}", f"By pillar: {_counts(by_pillar)}",
             ""]
    lines += [_finding_text(i, f) for i, f in enumerate(top, 1)]
    if count > len(top):
        lines.append(f"...and {count - len(top)} more; `mllens findings` lists them.")
    data = {
        "schema": SCHEMA,
        "idempotency_key": idempotency_key(scan),
        "headline": headline,
        "scan": {"uid": scan.uid, "id": scan.id, "status": scan.status.value,
                 "started_at": scan.started_at.isoformat(),
                 "finished_at": scan.finished_at.isoformat() if scan.finished_at else None},
        "min_severity": min_severity.value,
        "new_findings": count,
        "carried_over_scans": [c.uid for c in carried],
        "by_severity": dict(by_severity),
        "by_pillar": dict(by_pillar),
        "top": top,
        "not_listed": count - len(top),
    }
    return Notification(idempotency_key(scan), subject[:100], "\n".join(lines), data, worst)


def idempotency_key(scan: ScanRow) -> str:
    return f"mllens-scan-{scan.uid}"


