"""structlog set-up: JSON lines when stderr is not a terminal, readable lines when it is.

Configured by the CLI at start-up, never at import. Scan, account, region and collector are bound
as context variables, so every line carries them without being passed around.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

_SECRET_KEY = re.compile(
    r"secret|password|passwd|token|credential|authorization|session_?key|access_?key", re.I
)
# AWS access key IDs and anything shaped like a signed header, in case they end up in a message.
_SECRET_VALUE = re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b|Signature=[0-9a-f]{64}")


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop values of secret-looking keys and mask key IDs in strings: no credential is logged."""
    for key in list(event):
        if key != "event" and _SECRET_KEY.search(key):
            event[key] = "[redacted]"
        elif isinstance(event[key], str):
            event[key] = _SECRET_VALUE.sub("[redacted]", event[key])
    return event


def configure(
    level: str = "warning", stream: TextIO | None = None, json: bool | None = None
) -> None:
    probe = stream or sys.stderr
    if json is None:
        json = not probe.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=probe.isatty())
    )
    # Without an explicit stream, find sys.stderr at each write: code that swaps it (pytest's
    # capture, click's CliRunner) may close the one that was current when logging was set up.
    factory: Any = (
        structlog.PrintLoggerFactory(stream)
        if stream is not None
        else (lambda *_: structlog.PrintLogger(sys.stderr))
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info if json else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.WARNING)
        ),
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )
