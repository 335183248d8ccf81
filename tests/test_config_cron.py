"""Cron expressions read as crontab reads them: day of month OR day of week, never-firing ones
refused before the agent or a scan starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from agent.config import ConfigError, cron_trigger, load_settings
from agent.daemon import Schedule

pytestmark = pytest.mark.usefixtures("clean_mllens_env")

FRIDAY = datetime(2026, 12, 4, 12, tzinfo=UTC)
TUESDAY = datetime(2026, 12, 29, 12, tzinfo=UTC)


def next_fire(expr: str, after: datetime, timezone: str = "UTC") -> datetime:
    fire = cron_trigger(expr, timezone).get_next_fire_time(None, after)
    assert fire is not None, expr
    return fire


# Known dates, each checked against a calendar: 2026-12-07 and 2027-01-04 are Mondays,
# 2026-12-30 a Wednesday, 2027-01-01 a Friday.
OR_CASES = {
    "weekday first": ("0 3 1 * 1", FRIDAY, datetime(2026, 12, 7, 3, tzinfo=UTC)),
    "day of month first": ("0 3 1 * 1", TUESDAY, datetime(2027, 1, 1, 3, tzinfo=UTC)),
    "weekday list against a day": ("0 3 15 * 3,5", TUESDAY, datetime(2026, 12, 30, 3, tzinfo=UTC)),
    "named weekday": ("0 3 1 * mon", FRIDAY, datetime(2026, 12, 7, 3, tzinfo=UTC)),
    "six fields, seconds first": ("30 0 3 1 * 1", FRIDAY, datetime(2026, 12, 7, 3, 0, 30,
                                                                 tzinfo=UTC)),
    "weekday in a month with no such day": ("0 3 31 2 1", FRIDAY,
                                            datetime(2027, 2, 1, 3, tzinfo=UTC)),
    # A field starting with * is unrestricted to cron: both must then match, as before.
    "stepped day of month is unrestricted": ("0 3 */2 * 1", FRIDAY,
                                             datetime(2026, 12, 7, 3, tzinfo=UTC)),
    "stepped day of month, even Monday skipped": ("0 3 */2 * 1", datetime(2026, 12, 8,
                                                  tzinfo=UTC), datetime(2026, 12, 21, 3,
                                                                         tzinfo=UTC)),
    "only a weekday": ("0 3 * * 1", FRIDAY, datetime(2026, 12, 7, 3, tzinfo=UTC)),
    "only a day of month": ("0 3 1 * *", FRIDAY, datetime(2027, 1, 1, 3, tzinfo=UTC)),
}


@pytest.mark.parametrize("expr,after,expected", OR_CASES.values(), ids=OR_CASES.keys())
def test_cron_trigger_day_and_weekday_either_fires(
    expr: str, after: datetime, expected: datetime
) -> None:
    """With both the day of month and the day of week restricted, a day matching either fires."""
    assert next_fire(expr, after) == expected


def test_cron_trigger_or_keeps_timezone_and_jitter() -> None:
    """The combined trigger fires at local time in its zone and keeps the jitter, once."""
    paris = ZoneInfo("Europe/Paris")
    trigger = cron_trigger("0 3 1 * 1", "Europe/Paris", jitter=60)
    assert trigger.jitter == 60
    for _ in range(20):
        fire = trigger.get_next_fire_time(None, FRIDAY)
        base = datetime(2026, 12, 7, 3, tzinfo=paris)
        assert base <= fire <= base + timedelta(seconds=60)
    assert next_fire("0 3 1 * 1", FRIDAY, "Europe/Paris") == datetime(2026, 12, 7, 3,
                                                                       tzinfo=paris)


def test_cron_trigger_or_keeps_firing_on_both_kinds_of_day() -> None:
    """Successive fire times from the combined trigger walk every matching day in order."""
    trigger = cron_trigger("0 3 1 * 1")
    fire = trigger.get_next_fire_time(None, datetime(2026, 12, 25, tzinfo=UTC))
    days = []
    while fire is not None and len(days) < 4:
        days.append(fire.date().isoformat())
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    assert days == ["2026-12-28", "2027-01-01", "2027-01-04", "2027-01-11"]


def test_daemon_schedule_uses_crontab_or() -> None:
    """The agent's schedule (and its slot) follow the same rule as `config check`."""
    schedule = Schedule(cron=("0 3 1 * 1",))
    assert schedule.trigger().get_next_fire_time(None, TUESDAY) == datetime(2027, 1, 1, 3,
                                                                             tzinfo=UTC)
    assert schedule.slot(datetime(2027, 1, 1, 3, 5, tzinfo=UTC)) == datetime(2027, 1, 1, 3,
                                                                              tzinfo=UTC)


NEVER = ("0 3 31 2 *", "0 3 30 2 *", "0 0 3 31 4,6,9,11 *", "0 3 31 2 */2")


@pytest.mark.parametrize("expr", NEVER)
def test_load_settings_refuses_cron_that_never_fires(expr: str, tmp_path: Path) -> None:
    """A valid expression with no matching date is a settings error naming the entry."""
    path = tmp_path / "m.toml"
    path.write_text(f'[schedule]\ncron = ["0 3 * * *", "{expr}"]\n')
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    assert exc.value.path == "schedule.cron[1]"
    assert "never fires" in exc.value.message


def test_load_settings_accepts_rare_cron(tmp_path: Path) -> None:
    """29 February fires every four years: rare, not never."""
    path = tmp_path / "m.toml"
    path.write_text('[schedule]\ncron = "0 3 29 2 *"\n')
    assert load_settings(path).schedule.cron == ("0 3 29 2 *",)


def test_config_check_cron_never_fires_is_one_line_exit_2(tmp_path: Path) -> None:
    """`config check` says which entry never fires, in one line with exit code 2."""
    path = tmp_path / "m.toml"
    path.write_text('[schedule]\ncron = "0 3 31 2 *"\n')
    result = CliRunner().invoke(app, ["config", "check", str(path)], env={"NO_COLOR": "1"})
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("mllens: config error: schedule.cron[0]: ")
    assert "never fires" in lines[0]


def test_config_check_summary_next_run_uses_crontab_or() -> None:
    """The summary's next run of `0 3 1 * 1` is the next Monday or 1st, whichever is first."""
    result = CliRunner().invoke(app, ["config", "check"],
                                env={"NO_COLOR": "1", "MLLENS_SCHEDULE__CRON": "0 3 1 * 1"})
    assert result.exit_code == 0, result.output
    now = datetime.now(UTC)
    expected = next_fire("0 3 1 * 1", now)
    assert expected - now <= timedelta(days=7)
    assert f"next {expected:%Y-%m-%d %H:%M}" in result.stdout
