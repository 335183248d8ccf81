"""Settings: the TOML file plus MLLENS_* overrides, validated through `mllens config`."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from agent.cli.main import app
from agent.config import cron_trigger, load_settings, scan_request
from agent.domain import Severity
from checks import all_checks, by_id

pytestmark = pytest.mark.usefixtures("clean_mllens_env")


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", **(env or {})})
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, text: str, name: str = "mllens.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


BAD_INPUTS = {
    "wrong type of a check parameter": (
        "[checks.params.sagemaker_training_no_managed_spot]\nspot_min_runtime_s = \"abc\"\n",
        'checks.params.sagemaker_training_no_managed_spot.spot_min_runtime_s: '
        'expected an integer, got "abc"',
    ),
    "boolean for an integer": (
        "[checks.params.sagemaker_training_no_managed_spot]\nspot_min_runtime_s = true\n",
        "spot_min_runtime_s: expected an integer, got true",
    ),
    "number for a boolean": (
        "[schedule]\nrun_at_start = 1\n",
        "schedule.run_at_start: expected true or false, got 1",
    ),
    "word for a boolean": (
        '[targets]\norganization = "yes"\n',
        'targets.organization: expected true or false, got "yes"',
    ),
    "rate that is not a number": (
        "[limits.rate_limits]\nsagemaker = nan\n",
        "limits.rate_limits: the rate for sagemaker must be from 0.01 to 1e+06 calls a second",
    ),
    "unknown parameter": (
        "[checks.params.sagemaker_training_no_managed_spot]\nspot_min_runtime = 60\n",
        "checks.params.sagemaker_training_no_managed_spot.spot_min_runtime: unknown parameter "
        "of sagemaker_training_no_managed_spot; it takes: spot_min_runtime_s",
    ),
    "unknown check ID in params": (
        "[checks.params.sagemaker_training_no_managed_spott]\nspot_min_runtime_s = 60\n",
        'checks.params.sagemaker_training_no_managed_spott: unknown check ID '
        '"sagemaker_training_no_managed_spott"; did you mean '
        '"sagemaker_training_no_managed_spot"?',
    ),
    "parameters for a check that takes none": (
        "[checks.params.sagemaker_endpoint_unhealthy_status]\nx = 1\n",
        'checks.params.sagemaker_endpoint_unhealthy_status: check '
        '"sagemaker_endpoint_unhealthy_status" takes no parameters',
    ),
    "unknown check ID in enabled": (
        '[checks]\nenabled = ["sagemaker_endpoint_unhealthy_status", "no_such_check"]\n',
        'checks.enabled[1]: unknown check ID "no_such_check"',
    ),
    "every check disabled": (
        '[checks]\nenabled = ["sagemaker_endpoint_unhealthy_status"]\n'
        'disabled = ["sagemaker_endpoint_unhealthy_status"]\n',
        "checks: no checks left to run",
    ),
    "bad cron field value": (
        '[schedule]\ncron = ["0 3 * * *", "61 * * * *"]\n',
        'schedule.cron[1]: bad cron expression "61 * * * *"',
    ),
    "cron with four fields": (
        '[schedule]\ncron = "0 3 * *"\n',
        'schedule.cron[0]: bad cron expression "0 3 * *": expected 5 fields (minute hour day '
        'month weekday), or 6 with seconds first, found 4',
    ),
    "cron weekday out of range": (
        '[schedule]\ncron = "0 3 * * 8"\n',
        "schedule.cron[0]: bad cron expression",
    ),
    "no cron expression": ("[schedule]\ncron = []\n", "schedule.cron: needs at least 1"),
    "unknown time zone": ('[schedule]\ntimezone = "Mars/Olympus"\n', "schedule.timezone"),
    "unknown section": ('[databse]\nurl = "x.db"\n', 'databse: unknown key; did you mean '
                        '"database"?'),
    "unknown key in a section": ("[schedule]\njiter_s = 5\n",
                                 'schedule.jiter_s: unknown key; did you mean "jitter_s"?'),
    "string for a list": ("[targets]\naccounts = 123456789012\n",
                          "targets.accounts: expected a list, got 123456789012"),
    "bad account ID": ('[targets]\naccounts = ["1234"]\n',
                       'targets.accounts[0]: expected a 12-digit account ID, got "1234"'),
    "bad region": ('[targets]\nregions = ["us-eest-1x"]\n', "targets.regions[0]"),
    "negative bound": ("[limits]\nmax_in_flight = 0\n", "limits.max_in_flight: must be >= 1"),
    "unknown rate-limited service": ("[limits.rate_limits]\nsagemakr = 5\n",
                                     "limits.rate_limits: unknown service 'sagemakr'"),
    "unknown severity": ('[notifications]\nmin_severity = "urgent"\n',
                         "notifications.min_severity: expected one of"),
    "not an SNS topic": ('[notifications]\nsns_topic_arn = "arn:aws:sqs:us-east-1:1:q"\n',
                         "notifications.sns_topic_arn: expected an SNS topic ARN"),
    "unknown output format": ('[outputs]\nformats = ["pdf"]\n', "outputs.formats[0]"),
    "missing mute file": ('[mutes]\npath = "nope.toml"\n', "mutes.path: file not found"),
    "unsupported database": ('[database]\nurl = "mysql://h/db"\n',
                             "database.url: unsupported database 'mysql'"),
    "scalar for a section": ("limits = 5\n", "limits: expected a table, got 5"),
    "unknown objective metric": (
        '[[objectives.workloads]]\nname = "api"\nendpoint = "api-*"\np95_latency_ms = 200\n',
        'objectives.workloads[0].p95_latency_ms: unknown key; did you mean "p99_latency_ms"?'),
    "objective target of the wrong type": (
        '[[objectives.workloads]]\nname = "api"\nendpoint = "api-*"\n'
        'max_5xx_rate_pct = "low"\n',
        'objectives.workloads[0].max_5xx_rate_pct: expected a number, got "low"'),
    "objective selecting nothing": (
        '[[objectives.workloads]]\nname = "api"\np99_latency_ms = 200\n',
        "objectives.workloads[0]: objective 'api' selects nothing"),
    "objective without a target": (
        '[[objectives.workloads]]\nname = "api"\ntags = { team = "fraud" }\n',
        "objectives.workloads[0]: objective 'api' sets no target"),
    "objective rate over 100 percent": (
        '[[objectives.workloads]]\nname = "api"\nendpoint = "a"\nmax_5xx_rate_pct = 150\n',
        "objectives.workloads[0].max_5xx_rate_pct: must be <= 100, got 150"),
    "objectives window too long": ("[objectives]\nwindow_days = 30\n",
                                   "objectives.window_days: must be <= 14, got 30"),
    "price for something not an instance type": (
        '[objectives.prices]\n"m5.xlarge" = 0.2\n',
        'objectives.prices."m5.xlarge": expected an ML instance type'),
    "two objectives with one name": (
        '[[objectives.workloads]]\nname = "a"\nendpoint = "x"\nmax_5xx_rate_pct = 1\n'
        '[[objectives.workloads]]\nname = "a"\nendpoint = "y"\nmax_5xx_rate_pct = 1\n',
        "objectives: two objectives are named 'a'"),
    "invalid TOML": ("[schedule\n", "invalid TOML"),
}


@pytest.mark.parametrize("text,expected", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_config_check_bad_input_is_one_line_exit_2(
    tmp_path: Path, text: str, expected: str
) -> None:
    """Each kind of bad input gives one line naming the key, and exit code 2."""
    code, out, err = run("config", "check", str(write(tmp_path, text)))
    assert code == 2, (out, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("mllens: config error: ")
    assert expected in lines[0]
    assert "Traceback" not in err and out == ""


def test_config_check_secret_values_are_not_echoed(tmp_path: Path) -> None:
    """A bad webhook URL or database URL is named by key, its value never printed."""
    path = write(tmp_path, '[notifications]\nwebhook_url = "ftp://hooks.example/T0/s3cr3t"\n')
    code, _, err = run("config", "check", str(path))
    assert code == 2 and "notifications.webhook_url" in err and "s3cr3t" not in err
    path = write(tmp_path, '[database]\nurl = "mysql://u:pa55@h/db"\n')
    code, _, err = run("config", "check", str(path))
    assert code == 2 and "database.url" in err and "pa55" not in err


def test_config_check_missing_file_is_usage_error(tmp_path: Path) -> None:
    """A settings file that does not exist is a one-line error with exit code 2."""
    code, _, err = run("config", "check", str(tmp_path / "absent.toml"))
    assert code == 2
    assert "absent.toml: no such file" in err


def test_config_check_several_errors_names_first_and_counts_rest(tmp_path: Path) -> None:
    """Several problems: the first is described, the others are counted and named."""
    path = write(tmp_path, '[limits]\nmax_in_flight = "x"\nper_service = "y"\n')
    code, _, err = run("config", "check", str(path))
    assert code == 2
    assert 'limits.max_in_flight: expected an integer, got "x" (and 1 more: limits.per_service)' \
        in err


def test_config_env_override_wrong_type_names_variable(tmp_path: Path) -> None:
    """A bad value from the environment names the key path and the variable it came from."""
    var = "MLLENS_CHECKS__PARAMS__SAGEMAKER_TRAINING_NO_MANAGED_SPOT__SPOT_MIN_RUNTIME_S"
    code, _, err = run("config", "check", str(write(tmp_path, "")), env={var: "abc"})
    assert code == 2
    assert ('checks.params.sagemaker_training_no_managed_spot.spot_min_runtime_s: expected an '
            f'integer, got "abc" (from ${var})') in err


def test_config_env_override_unparsable_table_is_usage_error(tmp_path: Path) -> None:
    """A table-valued variable that is not JSON is one line naming the variable."""
    code, _, err = run("config", "check", env={"MLLENS_LIMITS__RATE_LIMITS": "{sagemaker"})
    assert code == 2
    assert "$MLLENS_LIMITS__RATE_LIMITS: cannot parse the value" in err


def test_load_settings_env_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Environment values win over the file, nested keys and comma lists included."""
    path = write(tmp_path, (
        '[targets]\nregions = ["eu-west-1"]\n'
        "[checks.params.sagemaker_training_no_managed_spot]\nspot_min_runtime_s = 60\n"
        "[notifications]\nretries = 1\n"
    ))
    monkeypatch.setenv("MLLENS_TARGETS__REGIONS", "us-east-1, us-west-2")
    monkeypatch.setenv(
        "MLLENS_CHECKS__PARAMS__SAGEMAKER_TRAINING_NO_MANAGED_SPOT__SPOT_MIN_RUNTIME_S", "7200"
    )
    monkeypatch.setenv("MLLENS_SCHEDULE__CRON", '["*/5 * * * *", "0 3 * * mon-fri"]')
    monkeypatch.setenv("MLLENS_NOTIFICATIONS__MIN_SEVERITY", "critical")
    s = load_settings(path)
    assert s.targets.regions == ("us-east-1", "us-west-2")
    assert s.checks.params_for("sagemaker_training_no_managed_spot") == {
        "spot_min_runtime_s": 7200
    }
    assert s.schedule.cron == ("*/5 * * * *", "0 3 * * mon-fri")
    assert s.notifications.min_severity is Severity.CRITICAL
    assert s.notifications.retries == 1


def test_load_settings_ignores_unrelated_mllens_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Variables that are not settings (MLLENS_DB, MLLENS_LOG_LEVEL, ...) are left alone."""
    monkeypatch.setenv("MLLENS_DB", "x.db")
    monkeypatch.setenv("MLLENS_LOG_LEVEL", "debug")
    monkeypatch.setenv("MLLENS_TEST_PG_URL", "postgresql+psycopg://x@h/db")
    assert load_settings(None).database.url is None


def test_settings_are_frozen(tmp_path: Path) -> None:
    """Validated settings cannot be changed afterwards, at any depth."""
    s = load_settings(write(tmp_path, "[limits]\nmax_in_flight = 8\n"))
    with pytest.raises(ValidationError):
        s.limits.max_in_flight = 9  # type: ignore[misc]
    with pytest.raises(ValidationError):
        s.checks.params.sagemaker_training_no_managed_spot.spot_min_runtime_s = 1  # type: ignore[attr-defined]
    assert isinstance(s.targets.regions, tuple)


def test_load_settings_relative_paths_follow_the_file(tmp_path: Path) -> None:
    """A relative mute file or output directory is read relative to the settings file."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "mutes.toml").write_text("")
    s = load_settings(write(conf, '[mutes]\npath = "mutes.toml"\n[outputs]\ndirectory = "out"\n'))
    assert s.mutes.path == conf / "mutes.toml"
    assert s.outputs.directory == conf / "out"


def test_config_example_passes_check(tmp_path: Path) -> None:
    """`mllens config example` prints a file that `mllens config check` accepts."""
    code, out, _ = run("config", "example")
    assert code == 0 and "[checks.params." in out
    assert "# [[objectives.workloads]]" in out and "# p99_latency_ms = " in out
    code, ok, err = run("config", "check", str(write(tmp_path, out)))
    assert code == 0, err
    assert ok.startswith("config OK: ")


def test_config_example_uncommented_passes_check(tmp_path: Path) -> None:
    """Every commented-out example line in it is valid too, every check parameter included."""
    _, out, _ = run("config", "example")
    uncommented = "\n".join(
        re.sub(r"^# (?=\[|\w+ = |\"[^\"]+\" = )", "", line) for line in out.splitlines()
    )
    # The example sets a key or shows it commented out, never both, so this stays valid TOML.
    (tmp_path / "mutes.toml").write_text("")
    path = write(tmp_path, uncommented)
    code, out, err = run("config", "check", str(path))
    assert code == 0 and out.startswith("config OK"), err
    s = load_settings(path)
    assert s.notifications.sns_topic_arn and s.notifications.webhook_url
    tuned = {c.id for c in all_checks() if c.params}
    assert {c for c in tuned if s.checks.params_for(c)} == tuned
    [workload] = s.objectives.workloads
    assert workload.p99_latency_ms and workload.tags and s.objectives.prices


def test_config_example_documents_every_parameter() -> None:
    """Every parameter of every check appears in the example with its default."""
    _, out, _ = run("config", "example")
    for chk in all_checks():
        for p in chk.params:
            assert f"# [checks.params.{chk.id}]" in out
            assert f"# {p.name} = " in out


def test_config_show_round_trips(tmp_path: Path) -> None:
    """The settings `config show` prints validate back to the same settings."""
    path = write(tmp_path, (
        '[targets]\nregions = ["eu-west-1"]\naccounts = ["111122223333"]\n'
        "[checks.params.glue_job_unsupported_version]\nmin_glue_version = \"4.0\"\n"
    ))
    code, shown, err = run("config", "show", str(path))
    assert code == 0, err
    again = load_settings(write(tmp_path, shown, "shown.toml"))
    assert again.model_dump() == load_settings(path).model_dump()


def test_config_check_summary_counts_checks_and_channels(tmp_path: Path) -> None:
    """The OK line says how many checks run, which are tuned and where notifications go."""
    path = write(tmp_path, (
        '[checks]\ndisabled = ["sagemaker_endpoint_unhealthy_status"]\n'
        "[checks.params.glue_job_timeout_unset_or_excessive]\nglue_timeout_max_min = 600\n"
        '[notifications]\nsns_topic_arn = "arn:aws:sns:eu-west-1:111122223333:t"\n'
    ))
    code, out, _ = run("config", "check", str(path))
    total = len(all_checks())
    assert code == 0
    assert f"{total - 1}/{total} checks (1 with parameters)" in out
    assert "notifications sns at high+" in out


def test_cron_trigger_reads_weekdays_as_crontab_does() -> None:
    """Weekday 1 is Monday and 0/7 Sunday, unlike APScheduler 3's own numbering."""
    friday = datetime(2026, 12, 4, 12, tzinfo=UTC)
    cases = {"0 3 * * 1": "Monday", "0 3 * * 0": "Sunday", "0 3 * * 7": "Sunday",
             "0 3 * * 1-5": "Monday", "0 3 * * 6": "Saturday", "0 3 * * */2": "Saturday"}
    for expr, day in cases.items():
        fire = cron_trigger(expr).get_next_fire_time(None, friday)
        assert fire.strftime("%A") == day, expr


def test_scan_request_carries_settings(tmp_path: Path) -> None:
    """The scan request built from settings has their checks, parameters, bounds and window."""
    path = write(tmp_path, (
        '[targets]\nregions = ["eu-west-1"]\n'
        "[limits]\nmax_in_flight = 8\nper_service = 2\ncall_timeout_s = 5\n"
        "[collect]\ntraining_lookback_days = 30\n"
        '[checks]\nenabled = ["glue_job_timeout_unset_or_excessive", '
        '"sagemaker_endpoint_unhealthy_status"]\n'
        "[checks.params.glue_job_timeout_unset_or_excessive]\nglue_timeout_max_min = 600\n"
    ))
    catalog = all_checks()
    req = scan_request(load_settings(path, catalog), catalog)
    assert req.spec.regions == ("eu-west-1",)
    assert {c.id for c in req.checks} == {"glue_job_timeout_unset_or_excessive",
                                          "sagemaker_endpoint_unhealthy_status"}
    assert req.params == {"glue_job_timeout_unset_or_excessive": {"glue_timeout_max_min": 600}}
    assert (req.limits.max_in_flight, req.limits.per_service, req.limits.call_timeout) == (8, 2, 5)
    assert req.collect.training_lookback_days == 30


def test_scan_request_carries_objectives_to_checks_and_collector(tmp_path: Path) -> None:
    """The objectives reach the evaluation options (milliseconds, prices, window) and the
    collector reads exactly the window and the endpoints their globs may select."""
    path = write(tmp_path, (
        '[targets]\nregions = ["eu-west-1"]\n'
        "[objectives]\nwindow_days = 3\n"
        '[objectives.prices]\n"ml.g5.xlarge" = 1.5\n'
        '[[objectives.workloads]]\nname = "fraud"\nendpoint = "fraud-*"\n'
        "p99_latency_ms = 250\nmax_monthly_cost_usd = 900\n"
        '[[objectives.workloads]]\nname = "churn"\nendpoint = "churn"\n'
        'tags = { team = "growth" }\nmin_invocations_per_day = 10\n'
    ))
    catalog = all_checks()
    req = scan_request(load_settings(path, catalog), catalog)
    objectives = req.evaluation.objectives
    assert objectives.window_days == 3 and objectives.prices == (("ml.g5.xlarge", 1.5),)
    fraud, churn = objectives.workloads
    assert (fraud.name, fraud.endpoint, fraud.p99_latency_ms) == ("fraud", "fraud-*", 250.0)
    assert churn.tags == (("team", "growth"),) and churn.min_invocations_per_day == 10
    assert (req.collect_options.objective_window_days,
            req.collect_options.objective_endpoints) == (3, ("churn", "fraud-*"))
    plain = scan_request(load_settings(None, catalog), catalog)
    assert not plain.evaluation.objectives.configured
    assert plain.collect_options.objective_window_days == 0


def test_scan_request_defaults_scan_the_callers_account_everywhere() -> None:
    """Without targets, a scan covers the caller's own account with its own credentials, in
    every region the account has enabled (no role, no region list)."""
    catalog = tuple(by_id().values())
    spec = scan_request(load_settings(None, catalog), catalog).spec
    assert (spec.regions, spec.role_name, spec.multi_account) == ((), None, False)


def test_scan_request_carries_organisation_targets(tmp_path: Path) -> None:
    """Organisation targets keep their role, external ID, filters and rate limits."""
    path = write(tmp_path, (
        '[targets]\norganization = true\nrole_name = "Audit"\nexternal_id = "ext-123"\n'
        'exclude = ["*sandbox*"]\n'
        "[limits]\naccounts_in_parallel = 2\nmax_attempts = 3\ndefault_rate = 4\n"
        "[limits.rate_limits]\nsagemaker = 7\n"
    ))
    catalog = all_checks()
    req = scan_request(load_settings(path, catalog), catalog)
    spec = req.spec
    assert (spec.organization, spec.role_name, spec.external_id, spec.exclude) == (
        True, "Audit", "ext-123", ("*sandbox*",))
    assert (req.limits.accounts_in_parallel, req.limits.max_attempts,
            req.limits.default_rate) == (2, 3, 4)
    assert req.limits.rates["sagemaker"] == 7 and req.limits.rates["glue"] == 20


def test_configuration_docs_cover_every_key() -> None:
    """docs/configuration.md has a row for every key of every section."""
    from agent.cli.config_cmd import model_of
    from agent.config import settings_model

    doc = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text()
    model = settings_model(all_checks())
    for name, info in model.model_fields.items():
        section = doc.split(f"### `[{name}]`", 1)
        assert len(section) == 2, f"no section for [{name}]"
        body = section[1].split("\n### ", 1)[0]
        section_model = model_of(info)
        assert section_model is not None
        for key in section_model.model_fields:
            if key != "params":
                assert f"| `{key}` |" in body, f"{name}.{key} is not documented"
