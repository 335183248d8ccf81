"""Secrets are never printed: the store URL's credentials (userinfo or libpq query parameters)
and the targets' external ID, wherever a URL or the settings are shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from agent.redact import safe_url
from agent.store import StoreError, parse_url

pytestmark = pytest.mark.usefixtures("clean_mllens_env")

SECRET = "QrySekr3t"

URLS = {
    "query password": (f"postgresql+psycopg://postgres@127.0.0.1/db?password={SECRET}",
                       "postgresql+psycopg://postgres@127.0.0.1/db?password=***"),
    "userinfo password": (f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1/db",
                          "postgresql+psycopg://postgres:***@127.0.0.1/db"),
    "key passphrase": (f"postgresql://u@h/db?sslmode=verify-full&sslpassword={SECRET}",
                       "postgresql://u@h/db?sslmode=verify-full&sslpassword=***"),
    "oauth secret": (f"postgresql://u@h/db?oauth_client_id=mllens&oauth_client_secret={SECRET}",
                     "postgresql://u@h/db?oauth_client_id=mllens&oauth_client_secret=***"),
    "both places, repeated, any case": (
        f"postgresql://u:{SECRET}@h/db?Password={SECRET}&password=a&password={SECRET}",
        "postgresql://u:***@h/db?Password=***&password=***"),
    "options kept": ("postgresql://u@h:5433/db?connect_timeout=5&options=-csearch_path%3Dx",
                     "postgresql://u@h:5433/db?connect_timeout=5&options=-csearch_path%3Dx"),
    "sqlite file": ("sqlite:////var/lib/mllens/mllens.db", "sqlite:////var/lib/mllens/mllens.db"),
    "plain path": ("/var/lib/mllens/mllens.db", "/var/lib/mllens/mllens.db"),
    "unparsable": (f"postgresql://u:{SECRET}@h:port/db?sslpassword={SECRET}&sslmode=require",
                   "postgresql://u:***@h:port/db?sslpassword=***&sslmode=require"),
}


@pytest.mark.parametrize("url,expected", URLS.values(), ids=URLS.keys())
def test_safe_url_masks_every_credential(url: str, expected: str) -> None:
    """The password and every credential-bearing libpq parameter read ***; the rest stays."""
    shown = safe_url(url)
    assert SECRET not in shown
    assert shown == expected


def test_parse_url_error_does_not_repeat_the_password() -> None:
    """Even a URL SQLAlchemy cannot parse is masked in the error about it."""
    with pytest.raises(StoreError) as exc:
        parse_url(f"postgresql://u:{SECRET}@h:port/db")
    assert SECRET not in str(exc.value)


def run(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", **env})
    return result.exit_code, result.stdout, result.stderr


def test_config_check_and_show_mask_query_password_and_external_id() -> None:
    """`config check`'s summary and `config show` name the store without its credentials,
    and show the external ID as set, not its value."""
    env = {"MLLENS_DATABASE__URL": f"postgresql+psycopg://postgres@db/x?password={SECRET}",
           "MLLENS_TARGETS__EXTERNAL_ID": "ext-Sekr3t-42",
           "MLLENS_TARGETS__ACCOUNTS": "111122223333"}
    code, out, err = run("config", "check", env=env)
    assert code == 0, err
    assert "database postgresql+psycopg://postgres@db/x?password=***;" in out
    code, out, err = run("config", "show", env=env)
    assert code == 0, err
    assert 'url = "postgresql+psycopg://postgres@db/x?password=***"' in out
    assert 'external_id = "***"' in out
    for text in (out, err):
        assert SECRET not in text and "ext-Sekr3t-42" not in text


def test_cannot_open_database_error_masks_query_password(tmp_path: Path) -> None:
    """The one-line error for a store that cannot be reached names it without credentials."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:1/db?password={SECRET}&connect_timeout=2"
    for args in (("scans", "--db", url), ("db", "upgrade", "--db", url)):
        code, out, err = run(*args, env={})
        assert code == 1 and "cannot open database" in err, err
        assert SECRET not in out + err and "password=***" in err
