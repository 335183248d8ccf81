"""Notebook instance lifecycle configurations, reduced to what the auto-stop check needs.

Lifecycle scripts are shell scripts that often embed tokens and passwords. The collector
decodes each script only to look for auto-stop logic and keeps the verdict, a hash and the
size: the script itself never enters the inventory, the store or a finding's evidence.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from typing import Any

from agent.aws.handle import RegionHandle
from agent.collectors.base import Builder, CollectOptions, describe, fan_out, list_all
from agent.domain import Kind

SM = "sagemaker"
# AWS's published auto-stop sample installs `autostop.py` with an IDLE_TIME setting; other
# idle-shutdown scripts name "idle" or call stop-notebook-instance themselves.
_AUTOSTOP = re.compile(
    r"auto[-_ ]?stop|idle|stop[-_]notebook[-_]instance|StopNotebookInstance", re.IGNORECASE
)


def summarise_script(content: str | None) -> dict[str, Any]:
    """What the check may know of one lifecycle script: never its text."""
    try:
        text = base64.b64decode(content or "", validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return {"Decoded": False, "AutoStop": None}
    signals = sorted({m.group(0).lower() for m in _AUTOSTOP.finditer(text)})
    return {
        "Decoded": True,
        "AutoStop": bool(signals),
        "Signals": signals,
        "Bytes": len(text.encode()),
        "Sha256": hashlib.sha256(text.encode()).hexdigest(),
    }


async def notebook_lifecycle_configs(h: RegionHandle, out: Builder, opts: CollectOptions) -> None:
    kinds = (Kind.NOTEBOOK_LIFECYCLE_CONFIGS,)
    out.touch(Kind.NOTEBOOK_LIFECYCLE_CONFIGS)
    summaries = await list_all(h, kinds, SM, "ListNotebookInstanceLifecycleConfigs",
                               "NotebookInstanceLifecycleConfigs", MaxResults=100)
    if summaries is None:
        return

    async def one(summary: Mapping[str, Any]) -> None:
        name = summary["NotebookInstanceLifecycleConfigName"]
        arn = summary.get("NotebookInstanceLifecycleConfigArn") or out.arn(
            SM, f"notebook-instance-lifecycle-config/{name.lower()}"
        )
        data, problem = await describe(h, SM, "DescribeNotebookInstanceLifecycleConfig", arn,
                                       NotebookInstanceLifecycleConfigName=name)
        if problem == "not_found":
            return
        record: dict[str, Any] = {k: v for k, v in summary.items()}
        if data is None:
            out.add(Kind.NOTEBOOK_LIFECYCLE_CONFIGS, arn, name, record, problem)
            return
        for key in ("OnCreate", "OnStart"):
            record[key] = [summarise_script(s.get("Content")) for s in data.get(key) or ()]
        for key in ("CreationTime", "LastModifiedTime"):
            if data.get(key) is not None:
                record[key] = data[key]
        out.add(Kind.NOTEBOOK_LIFECYCLE_CONFIGS, arn, name, record)

    await fan_out(summaries, one)
