"""Load the API response shapes in tests/data/samples (timestamps become aware UTC datetimes)."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")


def samples_dir() -> Path:
    # A copy of the shared API shapes lives in the repo so a fresh clone tests on its own.
    return Path(os.environ.get("MLLENS_SAMPLES") or Path(__file__).parent / "data" / "samples")


def _dates(value: Any) -> Any:
    if isinstance(value, str) and _ISO.match(value):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, dict):
        return {k: _dates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates(v) for v in value]
    return value


def sample(name: str) -> dict[str, Any]:
    """The whole sample file (`_meta` plus `response`, `pages`, `error` or `errors`)."""
    raw = json.loads((samples_dir() / f"{name}.json").read_text())
    return {k: (v if k == "_meta" else _dates(v)) for k, v in raw.items()}
