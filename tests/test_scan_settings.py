"""`mllens scan` and `mllens agent` read the settings: flags given win over the file, bad
settings stop both before any work with one line and exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from typer.testing import CliRunner

from agent.cli.main import app
from agent.cli.scan_settings import build_request
from agent.config import load_settings
from agent.targets import Shard

SETTINGS = (
    '[targets]\norganization = true\nrole_name = "Audit"\nexternal_id = "ext-1"\n'
    'regions = ["eu-west-1"]\nexclude = ["*sandbox*"]\n'
    "[limits]\nmax_in_flight = 8\nmax_attempts = 3\n"
    "[collect]\ntraining_lookback_days = 30\n"
    '[checks]\nenabled = ["sagemaker_endpoint_unhealthy_status", '
    '"glue_job_timeout_unset_or_excessive"]\n'
    "[checks.params.glue_job_timeout_unset_or_excessive]\nglue_timeout_max_min = 600\n"
)


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


def settings(tmp_path: Path, text: str = SETTINGS) -> Any:
    path = tmp_path / "mllens.toml"
    path.write_text(text)
    return load_settings(path)


def test_settings_alone_make_the_request(tmp_path: Path) -> None:
    """With no flag given, the scan is the settings' scan."""
    req = build_request(settings(tmp_path), {}, profile=None, endpoint_url=None)
    spec = req.spec
    assert (spec.organization, spec.role_name, spec.external_id) == (True, "Audit", "ext-1")
    assert spec.regions == ("eu-west-1",) and spec.exclude == ("*sandbox*",)
    assert (req.limits.max_in_flight, req.limits.max_attempts) == (8, 3)
    assert req.collect.training_lookback_days == 30
    assert {c.id for c in req.checks} == {"sagemaker_endpoint_unhealthy_status",
                                          "glue_job_timeout_unset_or_excessive"}
    assert req.params == {"glue_job_timeout_unset_or_excessive": {"glue_timeout_max_min": 600}}


def test_given_flags_win_key_by_key(tmp_path: Path) -> None:
    """Flags replace only what they name; account flags replace the account choice but keep
    the settings' role for the members they name."""
    given = {"region": ["us-east-1,us-west-2"], "account": ["111122223333"],
             "max_in_flight": 2, "training_lookback_days": 7,
             "excluded_checks": ["sagemaker_endpoint_unhealthy_status"],
             "shard": "2/4", "run_id": "nightly-1"}
    req = build_request(settings(tmp_path), given, profile=None, endpoint_url=None)
    spec = req.spec
    assert spec.regions == ("us-east-1", "us-west-2")
    assert (spec.organization, spec.accounts, spec.role_name) == (
        False, ("111122223333",), "Audit")
    assert spec.exclude == ("*sandbox*",)
    assert (req.limits.max_in_flight, req.limits.max_attempts) == (2, 3)
    assert req.collect.training_lookback_days == 7
    assert [c.id for c in req.checks] == ["glue_job_timeout_unset_or_excessive"]
    assert spec.shard == Shard(2, 4) and req.run_id == "nightly-1"


def test_checks_flag_replaces_the_settings_choice_and_drops_unused_params(
    tmp_path: Path
) -> None:
    """-c names exactly the checks to run; parameters of checks not run are left out."""
    req = build_request(settings(tmp_path), {"checks": ["sagemaker_endpoint_unhealthy_status"]},
                        profile=None, endpoint_url=None)
    assert [c.id for c in req.checks] == ["sagemaker_endpoint_unhealthy_status"]
    assert req.params == {}


def test_without_settings_the_defaults_are_the_flags_defaults(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """No file, no MLLENS_* variable: the caller's account, every enabled region, all checks,
    the flags' limits."""
    for key in [k for k in os.environ if k.startswith("MLLENS_")]:
        monkeypatch.delenv(key)
    req = build_request(load_settings(None), {}, profile=None, endpoint_url=None)
    spec = req.spec
    assert (spec.multi_account, spec.role_name, spec.regions, spec.shard) == (
        False, None, (), None)
    assert (req.limits.max_in_flight, req.limits.per_service, req.limits.max_attempts,
            req.limits.accounts_in_parallel, req.limits.call_timeout) == (64, 16, 5, 4, 60.0)
    assert req.collect.training_lookback_days == 90 and len(req.checks) > 70


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shard", "2/3"], "--shard needs --run-id"),
        (["--shard", "4/3", "--run-id", "r"], "K must be 1 to N"),
        (["--shard", "two", "--run-id", "r"], "not a shard"),
        (["--run-id", "r"], "give --shard K/N too"),
        (["--shard", "1/2", "--run-id", "no spaces"], "--run-id"),
    ],
)
def test_scan_bad_shard_flags_are_usage_errors(args: list[str], message: str,
                                               tmp_path: Path) -> None:
    """Shard and run flags are checked before any AWS call: one line, exit code 2."""
    code, err = _cli("scan", "--db", str(tmp_path / "x.db"), "--endpoint-url",
                     "http://127.0.0.1:1", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def _mllens(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLLENS_"))}
    base.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                AWS_DEFAULT_REGION="us-east-1", NO_COLOR="1", COLUMNS="200", **env)
    return subprocess.run([sys.executable, "-m", "agent.cli.main", *args], capture_output=True,
                          text=True, env=base, timeout=120)


@pytest.mark.parametrize("command", ["scan", "agent"])
@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ('[schedule]\ncron = "61 * * * *"\n', {}, 'schedule.cron[0]: bad cron expression'),
        ("[limits]\nmax_in_flight = 0\n", {}, "limits.max_in_flight"),
        ('[checks]\nenabled = ["no_such_check"]\n', {}, 'unknown check ID "no_such_check"'),
        ("[targets]\norganization = true\nrole_name = ''\n", {}, "targets.role_name"),
        ("", {"MLLENS_LIMITS__PER_SERVICE": "many"}, "MLLENS_LIMITS__PER_SERVICE"),
        ("[nonsense]\nx = 1\n", {}, "nonsense: unknown key"),
    ],
)
def test_bad_settings_stop_scan_and_agent_before_any_work(
    command: str, text: str, env: dict[str, str], message: str, tmp_path: Path
) -> None:
    """A bad key, type, cron expression, check ID or variable: one line, exit code 2, and
    nothing written (no store file appears)."""
    path = tmp_path / "bad.toml"
    path.write_text(text)
    db = tmp_path / "never.db"
    proc = _mllens(command, "--config", str(path), "--db", str(db), "--endpoint-url",
                   "http://127.0.0.1:1", **env)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr, lines
    assert not db.exists()


def test_agent_unreachable_store_is_one_line_exit_1(tmp_path: Path) -> None:
    """An agent whose store cannot be reached at start-up says so and exits 1 (its scheduler
    restarts it), instead of running without a store."""
    proc = _mllens("agent", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none",
                   "--endpoint-url", "http://127.0.0.1:1")
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 1 and len(lines) == 1 and "Traceback" not in proc.stderr, lines


def test_health_without_an_agent_is_unhealthy(tmp_path: Path) -> None:
    """No liveness file: exit 1 with a reason."""
    code = CliRunner().invoke(app, ["health", "--liveness-file", str(tmp_path / "none")])
    assert code.exit_code == 1 and "no liveness file" in code.stdout
