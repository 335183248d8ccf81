"""What every command shares: one-line errors, the database location, the check selection."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import platformdirs
import typer
from rich.console import Console
from rich.markup import escape

from agent.domain import Severity
from checks import all_checks
from checks.base import Check

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_FAILED_FINDINGS = 3

# Every command that prints in several formats takes these spellings alike.
FORMAT_FLAGS = ("--format", "--output-format", "-f", "-o")

# The words every command takes for a finding status (`open` is a FAIL).
STATUS_WORDS = {
    "open": "FAIL", "fail": "FAIL", "failed": "FAIL", "pass": "PASS", "passed": "PASS",
    "na": "NOT_APPLICABLE", "n/a": "NOT_APPLICABLE", "not_applicable": "NOT_APPLICABLE",
    "unknown": "UNKNOWN", "gone": "GONE",
}

# Tables written to a file or a pipe (CI logs, `| tee`) would wrap at rich's fallback of 80
# columns; a terminal keeps its own width and COLUMNS always wins.
PIPE_WIDTH = 160


def make_console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    wide = not os.environ.get("COLUMNS") and not stream.isatty()
    return Console(stderr=stderr, width=PIPE_WIDTH if wide else None)


err_console = make_console(stderr=True)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print one clear line and exit: the user sees the cause, never a traceback. The message is
    printed as is: it quotes paths, names and AWS messages, which may hold `[...]`."""
    err_console.print(f"[bold red]mllens:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def default_db_url() -> str:
    path = Path(platformdirs.user_data_dir("mllens")) / "mllens.db"
    return f"sqlite:///{path}"


def resolve_db(value: str | None) -> str:
    """A URL is used as given; a bare path means a SQLite file there. An empty value (an unset
    shell variable, say) or an in-memory SQLite database is refused: either would quietly
    store the history somewhere it cannot be found again."""
    if value is not None and not value.strip():
        fail("the store is empty (--db '' or an empty setting); give a file path or a URL",
             EXIT_USAGE)
    value = value or os.environ.get("MLLENS_DB") or default_db_url()
    if "://" not in value:
        return f"sqlite:///{Path(value).expanduser().resolve()}"
    if _in_memory(value):
        fail(f"{value} is an in-memory database: the history would be lost when mllens exits; "
             "give a file path or a PostgreSQL URL", EXIT_USAGE)
    from agent.store.engine import parse_url  # imported late: the store pulls in SQLAlchemy
    from agent.store.errors import StoreError

    try:
        parse_url(value)
    except StoreError as exc:  # a malformed URL or another database: the user's input
        fail(str(exc), EXIT_USAGE)
    return value


def _in_memory(url: str) -> bool:
    head, _, rest = url.partition("://")
    if not head.startswith("sqlite"):
        return False
    db = rest[1:] if rest.startswith("/") else rest
    return db.split("?")[0] == "" or ":memory:" in db or "mode=memory" in db


def split_names(values: Iterable[str] | None) -> list[str]:
    """Accept both `--checks a --checks b` and `--checks a,b`."""
    out: list[str] = []
    for v in values or ():
        out.extend(p.strip() for p in v.split(",") if p.strip())
    return out


def select_checks(
    include: Iterable[str] | None, exclude: Iterable[str] | None
) -> tuple[Check, ...]:
    catalog = {c.id: c for c in all_checks()}
    inc, exc = split_names(include), split_names(exclude)
    unknown = [n for n in (*inc, *exc) if n not in catalog]
    if unknown:
        fail(
            f"unknown check {', '.join(repr(u) for u in unknown)}; "
            "run 'mllens checks list' for the catalog",
            EXIT_USAGE,
        )
    chosen = [catalog[n] for n in inc] if inc else list(catalog.values())
    skip = set(exc)
    return tuple(c for c in chosen if c.id not in skip)


def parse_severities(values: Iterable[str] | None) -> set[Severity]:
    out = set()
    for v in split_names(values):
        try:
            out.add(Severity(v.lower()))
        except ValueError:
            fail(
                f"unknown severity {v!r}; use one of: {', '.join(s.value for s in Severity)}",
                EXIT_USAGE,
            )
    return out


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


def check_endpoint_url(value: str) -> str:
    """An http(s) URL with a host, or a usage error before any work (botocore would only say
    'Invalid endpoint' deep inside the first call)."""
    parsed = urlsplit(value.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        fail(f"--endpoint-url {value!r} is not an http(s) URL with a host", EXIT_USAGE)
    return value.strip()


def check_output_path(path: Path) -> None:
    """Refuse an output file that cannot be written before the scan, not after it."""
    parent = path.expanduser().absolute().parent
    if path.is_dir():
        fail(f"--output {path} is a directory", EXIT_USAGE)
    if not parent.is_dir():
        fail(f"--output {path}: directory {parent} does not exist", EXIT_USAGE)
    if not os.access(parent, os.W_OK):
        fail(f"--output {path}: cannot write in {parent} (permission denied)", EXIT_USAGE)
