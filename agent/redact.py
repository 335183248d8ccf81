"""Secrets kept out of what mllens prints: database URLs and other secret values.

Every message, summary and `config show` that names the store goes through `safe_url`. A
PostgreSQL URL carries credentials in two places: the password of `user:password@host`, and
libpq parameters in the query string, which psycopg passes to libpq as they are
(`?password=...` is as valid as the userinfo form).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

MASK = "***"

# libpq connection parameters whose value is a credential: `password`, `sslpassword` (the
# passphrase of the client key in sslkey) and `oauth_client_secret` (PostgreSQL 18). File
# paths (passfile, sslkey) and names (user, oauth_client_id) are not secrets. Any other key that
# reads as a credential is masked too, in case a driver or a later libpq adds one.
SECRET_PARAMETERS = frozenset({"password", "sslpassword", "oauth_client_secret"})
_SECRET_WORDS = re.compile(r"pass(word|wd|phrase)?$|secret|token|credential", re.IGNORECASE)
_RAW_QUERY = re.compile(r"(?P<key>[^?&=;\s]+)=(?P<value>[^&;\s]*)")
_RAW_USERINFO = re.compile(r"(?P<head>://[^:/@\s]*):[^@\s]*@")


def secret_parameter(key: str) -> bool:
    """Whether a URL query parameter's value is a credential."""
    return key.lower() in SECRET_PARAMETERS or bool(_SECRET_WORDS.search(key))


def safe_url(url: str | URL) -> str:
    """The URL fit to print: its password and every credential in its query as ***.

    A plain path (a SQLite file) is returned as is; a string SQLAlchemy cannot parse is masked
    by pattern, so even an error about a malformed URL does not repeat its password.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if isinstance(url, str):
        if "://" not in url:
            return url
        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError):
            return _mask_raw(url)
    else:
        parsed = url
    query = {k: (MASK if secret_parameter(k) else v) for k, v in parsed.query.items()}
    text = parsed.set(query=query).render_as_string(hide_password=True)
    # The query is rendered URL-encoded; the mask reads better as it is.
    return text.replace("%2A%2A%2A", MASK)


def _mask_raw(text: str) -> str:
    def query(m: re.Match[str]) -> str:
        return f"{m['key']}={MASK}" if secret_parameter(m["key"]) else m[0]

    return _RAW_QUERY.sub(query, _RAW_USERINFO.sub(rf"\g<head>:{MASK}@", text))


def mask(value: str | None) -> str | None:
    """A secret value as shown: whether it is set, never what it is."""
    return None if value is None else MASK
