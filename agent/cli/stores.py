"""Which store a command uses, and how a reading command opens it: alike for every command.

The store is `--db` when given, else the settings' `database.url` (the file named by `--config`
or $MLLENS_CONFIG, and $MLLENS_DATABASE__URL), else $MLLENS_DB, else mllens.db in the user data
directory. Settings that do not validate are the usual one-line config error, exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from agent.cli.common import EXIT_USAGE, fail, resolve_db
from agent.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from agent.store import Store

DB_HELP = ("Store URL (sqlite:///path, postgresql+psycopg://...) or a SQLite file path. "
           "Default: the settings' database.url, else $MLLENS_DB, else mllens.db in the user "
           "data directory.")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", envvar="MLLENS_CONFIG",
                 help="TOML settings file (see `mllens config example`); its database.url "
                 "names the store unless --db does. MLLENS_<SECTION>__<KEY> variables apply "
                 "with or without it."),
]
DbOption = Annotated[str | None, typer.Option("--db", help=DB_HELP)]


def settings_or_fail(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        fail(exc.line(), EXIT_USAGE)


def store_url(db: str | None, settings: Settings) -> str:
    """The store's URL: --db over the settings' database.url over $MLLENS_DB and the default."""
    return resolve_db(db if db is not None else settings.database.url)


def resolve_store(db: str | None, config: Path | None) -> str:
    """The store a command uses, from its --db and --config (the settings are validated)."""
    return store_url(db, settings_or_fail(config))


def open_reader(db: str | None, config: Path | None) -> tuple[Store, str]:
    """The store of a reading command and its URL: never created by a typo in --db or in the
    settings (no file, no directories), never migrated, never written."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from agent.store import Store, StoreError

    url = resolve_store(db, config)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # Store.open below says what is wrong with it
        parsed = None
    if parsed is not None and parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if path and not path.startswith("file:") and not Path(path).exists():
            fail(f"no store at {path}: run 'mllens scan' first, or pass --db")
    try:
        return Store.open(url, migrate=False, read_only=True), url
    except StoreError as exc:
        fail(str(exc))
