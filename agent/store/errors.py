"""The one exception the store lets out, and the translation of driver errors into it."""

from __future__ import annotations

from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError, StatementError


class StoreError(Exception):
    """A database problem a user can act on; `str()` is one human-readable line."""


class UnknownScan(StoreError):
    """No scan matches the id, uid or time asked for (a usage error, not a database one)."""


def one_line(text: str) -> str:
    """Collapse a driver message (psycopg's span several lines) into one line."""
    return " ".join(text.split())


def describe(exc: BaseException) -> str:
    """The driver's own words for what went wrong, without SQL, parameters or traceback."""
    if isinstance(exc, StatementError) and exc.orig is not None:
        exc = exc.orig
    message = one_line(str(exc))
    if isinstance(exc, SQLAlchemyError):
        # SQLAlchemy appends "(Background on this error at: https://sqlalche.me/...)".
        message = message.split(" (Background on this error", 1)[0]
    return message or type(exc).__name__


def safe_url(url: URL | str) -> str:
    """The URL fit to print (see `agent.redact`)."""
    from agent.redact import safe_url as masked

    return masked(url)
