"""MLLENS_* variables: a misspelt settings variable is an error, never silently ignored; the
command line's own variables are left alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from agent.config import ConfigError, load_settings, settings_model
from agent.config.env import OWN_VARIABLES, settings_variables
from checks import all_checks

pytestmark = pytest.mark.usefixtures("clean_mllens_env")

ROOT = Path(__file__).resolve().parent.parent


MISSPELT = {
    "section misspelt": ("MLLENS_TARGET__REGIONS", "us-east-1",
                         'unknown settings section "target"; did you mean '
                         "$MLLENS_TARGETS__REGIONS?"),
    "section misspelt, int key": ("MLLENS_LIMITZ__MAX_IN_FLIGHT", "3",
                                  "did you mean $MLLENS_LIMITS__MAX_IN_FLIGHT?"),
    "no such section": ("MLLENS_XYZZY__A", "1", 'unknown settings section "xyzzy" (sections: '
                        "database, "),
    "lower case": ("mllens_target__regions", "us-east-1",
                   "did you mean $MLLENS_TARGETS__REGIONS?"),
    "single underscore": ("MLLENS_DATABASE_URL", "x.db",
                          "not a settings variable; did you mean $MLLENS_DATABASE__URL?"),
    "single underscores, deep key": (
        "MLLENS_CHECKS_PARAMS_GLUE_JOB_TIMEOUT_UNSET_OR_EXCESSIVE_GLUE_TIMEOUT_MAX_MIN", "600",
        "did you mean $MLLENS_CHECKS__PARAMS__GLUE_JOB_TIMEOUT_UNSET_OR_EXCESSIVE__"
        "GLUE_TIMEOUT_MAX_MIN?"),
    "single underscore, secret": ("MLLENS_NOTIFICATIONS_WEBHOOK_URL", "https://h/x",
                                  "did you mean $MLLENS_NOTIFICATIONS__WEBHOOK_URL?"),
    "single underscore and a typo": ("MLLENS_DATABSE_URL", "x.db",
                                     "did you mean $MLLENS_DATABASE__URL?"),
    "section and unknown key, single underscore": ("MLLENS_SCHEDULE_WHENEVER", "x",
                                                   "[schedule] keys are set as "
                                                   "MLLENS_SCHEDULE__KEY"),
}


@pytest.mark.parametrize("name,value,expected", MISSPELT.values(), ids=MISSPELT.keys())
def test_config_check_misspelt_variable_is_one_line_exit_2(
    name: str, value: str, expected: str
) -> None:
    """A variable meant as a setting but spelt so it would be ignored names itself, exit 2."""
    result = CliRunner().invoke(app, ["config", "check"], env={"NO_COLOR": "1", name: value})
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and result.stdout == ""
    assert lines[0].startswith(f"mllens: config error: ${name}: ")
    assert expected in lines[0]
    if "WEBHOOK" in name:
        assert value not in result.stderr


def test_load_settings_misspelt_variable_fails_with_a_file_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check applies whatever else is set: scan, agent and config all load this way."""
    path = tmp_path / "m.toml"
    path.write_text("[limits]\nmax_in_flight = 8\n")
    monkeypatch.setenv("MLLENS_LIMITS_PER_SERVICE", "2")
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    assert exc.value.path == "$MLLENS_LIMITS_PER_SERVICE"


def test_load_settings_own_variables_are_not_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every variable the CLI, the tests or the benchmarks read is left alone, all at once."""
    for name in OWN_VARIABLES:
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("MLLENS_SOMETHING_ELSE", "1")  # not like any setting: not ours to judge
    assert load_settings(None).database.url is None


def test_load_settings_every_settings_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Correctly spelt variables pass the check (their values are validated as usual)."""
    model = settings_model(all_checks())
    names = settings_variables(model)
    assert "MLLENS_DATABASE__URL" in names
    assert "MLLENS_CHECKS__PARAMS__SAGEMAKER_TRAINING_NO_MANAGED_SPOT__SPOT_MIN_RUNTIME_S" \
        in names
    monkeypatch.setenv("MLLENS_DATABASE__URL", "x.db")
    monkeypatch.setenv("MLLENS_DATABASE", '{"url": "y.db"}')  # a whole section, as JSON
    monkeypatch.setenv("MLLENS_LIMITS__PER_SERVICE", "2")
    s = load_settings(None)
    assert s.limits.per_service == 2 and s.database.url == "x.db"


_READS = re.compile(r"""(?:envvar=|environ\.get\(|environ\[|getenv\()\s*["'](MLLENS_\w+)["']""")


def test_own_variables_list_every_variable_the_code_reads() -> None:
    """A new `envvar=` or os.environ read of an MLLENS_* name must be listed, or the settings
    check could take it for a misspelt setting."""
    read: set[str] = set()
    for top in ("agent", "checks", "tests", "bench", "migrations"):
        for path in (ROOT / top).rglob("*.py"):
            read.update(_READS.findall(path.read_text(encoding="utf-8")))
    assert {"MLLENS_DB", "MLLENS_CONFIG", "MLLENS_SHARD", "MLLENS_TEST_PG_URL"} <= read
    assert read <= OWN_VARIABLES, sorted(read - OWN_VARIABLES)
    model = settings_model(all_checks())
    assert not OWN_VARIABLES & set(settings_variables(model))
