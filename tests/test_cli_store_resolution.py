"""Every command that opens the store finds it as `mllens scan` does: --db, else the settings'
database.url (--config, $MLLENS_CONFIG, $MLLENS_DATABASE__URL), else $MLLENS_DB; reading
commands never create a store."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from agent.cli.main import app
from agent.store import Store
from tests.history_helpers import Clock, build_history

pytestmark = pytest.mark.usefixtures("clean_mllens_env")

READERS = {
    "scans": ["scans", "-o", "json"],
    "findings": ["findings", "-o", "json"],
    "trends": ["trends", "--per", "scan", "-o", "json"],
    "diff": ["diff", "-o", "json"],
    "coverage": ["coverage", "-f", "json"],
    "report": ["report", "-f", "json"],
    "plan": ["plan", "-f", "json"],
}
# `mllens demo` scans an emulator into a throwaway store unless --db names one: writing demo
# findings into the store the settings name (production's, say) would be wrong.
NOT_FROM_SETTINGS = {"demo"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("history") / "history.db"
    with Store.open(f"sqlite:///{path}", clock=(clock := Clock())) as store:
        build_history(store, clock)
    return path


@pytest.fixture
def db(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "store" / "history.db"
    copy.parent.mkdir()
    shutil.copyfile(built, copy)
    return copy


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args),
                                env={"NO_COLOR": "1", "COLUMNS": "200", **(env or {})})
    return result.exit_code, result.stdout, result.stderr


def settings_file(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "mllens.toml"
    path.write_text(f'[database]\nurl = "{url}"\n')
    return path


@pytest.mark.parametrize("args", READERS.values(), ids=READERS.keys())
def test_read_command_uses_settings_database_url(
    args: list[str], db: Path, tmp_path: Path
) -> None:
    """MLLENS_DATABASE__URL, a --config file and $MLLENS_CONFIG each name the store, over
    $MLLENS_DB (which points nowhere here)."""
    nowhere = str(tmp_path / "nowhere.db")
    for extra, env in (
        ((), {"MLLENS_DATABASE__URL": str(db)}),
        (("--config", str(settings_file(tmp_path, str(db)))), {}),
        ((), {"MLLENS_CONFIG": str(settings_file(tmp_path, f"sqlite:///{db}"))}),
    ):
        code, out, err = run(*args, *extra, env={"MLLENS_DB": nowhere, **env})
        assert code == 0, (extra, env, err)
        assert out.strip() and "no store" not in err
    assert not Path(nowhere).exists()


@pytest.mark.parametrize("args", READERS.values(), ids=READERS.keys())
def test_read_command_db_flag_wins_over_settings(
    args: list[str], db: Path, tmp_path: Path
) -> None:
    """--db names the store whatever the settings say."""
    config = settings_file(tmp_path, str(tmp_path / "other.db"))
    code, _, err = run(*args, "--db", str(db), "--config", str(config),
                       env={"MLLENS_DATABASE__URL": str(tmp_path / "third.db")})
    assert code == 0, err


@pytest.mark.parametrize("args", READERS.values(), ids=READERS.keys())
def test_read_command_missing_settings_store_is_not_created(
    args: list[str], tmp_path: Path
) -> None:
    """A store the settings name but that does not exist is refused, and nothing is made."""
    missing = tmp_path / "new" / "dir" / "mllens.db"
    code, _, err = run(*args, env={"MLLENS_DATABASE__URL": str(missing)})
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 1 and len(lines) == 1, err
    assert f"no store at {missing}" in lines[0]
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("args", READERS.values(), ids=READERS.keys())
def test_read_command_bad_settings_is_one_line_exit_2(
    args: list[str], db: Path, tmp_path: Path
) -> None:
    """Settings that do not validate stop a read command as they stop a scan."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[databse]\nurl = 'x.db'\n")
    for extra, env in ((("--config", str(bad)), {}),
                       (("--db", str(db)), {"MLLENS_LIMITS__MAX_IN_FLIGHT": "lots"})):
        code, out, err = run(*args, *extra, env=env)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1 and out == "", (extra, err)
        assert lines[0].startswith("mllens: config error: ")


def test_coverage_missing_db_is_refused_like_findings(tmp_path: Path) -> None:
    """`coverage --db` with no file there says so, exit 1, and creates neither file nor dir."""
    missing = tmp_path / "missing" / "path.db"
    for command in ("coverage", "findings"):
        code, _, err = run(command, "--db", str(missing))
        assert code == 1 and f"no store at {missing}" in err, err
    assert not (tmp_path / "missing").exists()


def test_db_upgrade_and_wa_sync_use_settings_database_url(tmp_path: Path) -> None:
    """`db upgrade` creates the settings' store; `wa-sync` reads it (and refuses a missing one
    before any AWS call)."""
    store = tmp_path / "settings.db"
    code, _, err = run("db", "upgrade", env={"MLLENS_DATABASE__URL": str(store),
                                             "MLLENS_DB": str(tmp_path / "env.db")})
    assert code == 0 and store.exists() and not (tmp_path / "env.db").exists(), err
    code, _, err = run("wa-sync", "-w", "0123456789abcdef0123456789abcdef", "--wa-region",
                       "us-east-1", env={"MLLENS_DATABASE__URL": str(tmp_path / "none.db"),
                                         "AWS_ACCESS_KEY_ID": "testing",
                                         "AWS_SECRET_ACCESS_KEY": "testing"})
    assert code == 1 and f"no store at {tmp_path / 'none.db'}" in err, err


def _commands(group: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    # By attribute: typer ships its own copy of click, whose classes are not `click`'s.
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", cmd


def test_every_command_with_db_takes_config() -> None:
    """A command that opens the store takes --config too, so the settings can name it."""
    root = typer.main.get_command(app)
    with_db = {name: cmd for name, cmd in _commands(root)
               if any(p.name == "db" for p in cmd.params)}
    assert set(READERS) | {"scan", "agent", "wa-sync", "db upgrade"} <= set(with_db)
    for name, cmd in with_db.items():
        if name not in NOT_FROM_SETTINGS:
            assert any("--config" in getattr(p, "opts", ()) for p in cmd.params), name


@pytest.mark.postgres
def test_scans_reads_postgres_named_by_settings(pg_url: str, tmp_path: Path) -> None:
    """MLLENS_DATABASE__URL naming PostgreSQL is where `mllens scans` reads, not SQLite."""
    with Store.open(pg_url, clock=(clock := Clock())) as store:
        build_history(store, clock)
    code, out, err = run("scans", "-o", "json",
                         env={"MLLENS_DATABASE__URL": pg_url,
                              "MLLENS_DB": str(tmp_path / "nowhere.db")})
    assert code == 0, err
    assert '"status": "complete"' in out


@pytest.mark.parametrize("url,needle", [
    ("postgresql://u:Sekr3t@h:port/db", "not a database URL"),
    ("mysql://u:Sekr3t@h/db", "unsupported database URL scheme 'mysql'"),
])
def test_malformed_db_url_is_one_line_exit_2(url: str, needle: str) -> None:
    """A --db URL that does not parse, or names another database, is bad input: exit 2, one
    line without the password, never an internal error."""
    for command in ("scans", "coverage", "report"):
        code, _, err = run(command, "--db", url)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1, (command, err)
        assert needle in lines[0] and "Sekr3t" not in err and "internal error" not in err
