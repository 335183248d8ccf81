"""Value types and validators for the settings: names, IDs, regions, cron expressions."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
)
from pydantic_settings import (
    NoDecode,
)

# Formats the report module writes today; the outputs work adds its formats here.
OUTPUT_FORMATS = ("json", "csv", "ocsf", "asff", "sarif", "html")

REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
ACCOUNT = re.compile(r"^\d{12}$")
OU = re.compile(r"^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$")
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
SNS_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-\d+:\d{12}:[\w-]{1,256}(\.fifo)?$")

# -- value types -------------------------------------------------------------------------------


def _not_bool(expected: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        # pydantic's lax mode reads `true` as 1; in a config file that is always a mistake.
        if isinstance(value, bool):
            raise ValueError(f"expected {expected}")
        return value

    return check


def names(value: Any) -> Any:
    """Lists from the environment: a JSON array, or comma-separated names."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a JSON list: {exc.msg}") from exc
        return [p.strip() for p in text.split(",") if p.strip()]
    return value


def matching(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"expected {what}")
        return value

    return check


_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _weekdays(field: str) -> str:
    """Crontab weekday numbers (0 and 7 are Sunday) as names.

    APScheduler 3 numbers weekdays from Monday = 0, so `from_crontab("0 3 * * 1")` would fire
    on Tuesdays. Names mean the same to both, so numbers are expanded into names.
    """
    if not any(ch.isdigit() for ch in field.split("/")[0]) and "/" not in field:
        return field
    days: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() else (0 if step_text else 1)
        if step < 1:
            raise ValueError(f"bad weekday step in {part!r}")
        if base == "*":
            lo, hi = 0, 6
        elif "-" in base:
            lo, hi = (_day_number(x) for x in base.split("-", 1))
        else:
            lo = hi = _day_number(base)
            if step_text:
                hi = 6
        if lo > hi:
            raise ValueError(f"weekday range {base!r} runs backwards")
        days.update(d % 7 for d in range(lo, hi + 1, step))
    return ",".join(_DAY_NAMES[d] for d in sorted(days))


def _day_number(token: str) -> int:
    token = token.strip().lower()
    if token.isdigit():
        if int(token) > 7:
            raise ValueError(f"weekday {token} is out of range 0-7")
        return int(token)
    if token[:3] in _DAY_NAMES and len(token) == 3:
        return _DAY_NAMES.index(token)
    raise ValueError(f"unknown weekday {token!r}")


def cron_trigger(expr: str, timezone: str = "UTC", jitter: int | None = None) -> Any:
    """An APScheduler 3 trigger for a crontab expression, read as crontab reads it: the standard
    five fields, or six with a leading seconds field as Quartz and Spring write it.

    Crontab semantics that APScheduler 3 does not share are translated here: weekday numbers
    (1 is Monday, 0 and 7 Sunday), and when both the day of month and the day of week are
    restricted (neither starts with `*`, as cron decides it) a day matching either fires, so
    `0 3 1 * 1` runs on the 1st and on every Monday. The daemon and `config check` must build
    their triggers here, not with `CronTrigger.from_crontab` directly.
    """
    from apscheduler.triggers.combining import OrTrigger
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), or 6 with "
                         f"seconds first, found {len(fields)}")
    second, minute, hour, day, month, weekday = fields
    days = _weekdays(weekday)

    def trigger(day: str, day_of_week: str, jitter: int | None) -> CronTrigger:
        return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                           day_of_week=day_of_week, timezone=timezone, jitter=jitter or None)

    if day.startswith("*") or weekday.startswith("*"):
        return trigger(day, days, jitter)
    # Each half fires on its own days; the jitter is applied once, to the earlier of the two.
    return OrTrigger([trigger(day, "*", None), trigger("*", days, None)], jitter=jitter or None)


def _cron(expr: str) -> str:
    try:
        trigger = cron_trigger(expr)
    except ValueError as exc:
        raise ValueError(f'bad cron expression "{expr}": {exc}') from exc
    # No year field: an expression that fires at all fires within a few years (29 February
    # within eight), so "no next time" means never, as for `0 3 31 2 *`.
    if trigger.get_next_fire_time(None, datetime(2000, 1, 1, tzinfo=UTC)) is None:
        raise ValueError(f'cron expression "{expr}" never fires: no date matches its day and '
                         "month fields")
    return expr


def timezone_name(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("unknown time zone") from exc
    return name


def known_services(value: dict[str, float]) -> dict[str, float]:
    from agent.aws.ratelimit import rate_problem
    from agent.iam import unknown_service

    for service, rate in value.items():
        problem = unknown_service(service)
        if problem is not None:
            raise ValueError(problem)
        problem = rate_problem(rate)
        if problem is not None:
            raise ValueError(f"the rate for {service} {problem}")
    return value


def http_url(value: SecretStr | None) -> SecretStr | None:
    if value is not None and not re.match(r"^https?://[^\s/]+", value.get_secret_value()):
        raise ValueError("expected an http:// or https:// URL")
    return value


def database_url(value: str | None) -> str | None:
    """A URL must name a backend the store supports; anything else is a SQLite file path."""
    if value is None or "://" not in value:
        return value
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        backend = make_url(value).get_backend_name()
    except (ArgumentError, ValueError):
        raise ValueError("not a database URL") from None
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(
            f"unsupported database {backend!r}; use sqlite:///path or postgresql+psycopg://..."
        )
    return value


def existing_file(value: Path | None) -> Path | None:
    if value is not None and not value.is_file():
        raise ValueError("file not found")
    return value


def _boolean(value: Any) -> Any:
    """true or false only: pydantic's lax mode also reads 1, 0.0, "yes" and "off", and in a
    settings file any of those is a mistake that would silently switch something on (the
    whole organisation, say). The environment gives strings: "true" and "false" stand."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError("expected true or false")


Bool = Annotated[bool, BeforeValidator(_boolean)]
Int = Annotated[int, BeforeValidator(_not_bool("an integer"))]
Float = Annotated[float, BeforeValidator(_not_bool("a number"))]
Names = Annotated[tuple[str, ...], NoDecode, BeforeValidator(names)]
Regions = Annotated[
    tuple[Annotated[str, AfterValidator(matching(REGION, "an AWS region name"))], ...],
    NoDecode,
    BeforeValidator(names),
]
AccountIds = Annotated[
    tuple[Annotated[str, AfterValidator(matching(ACCOUNT, "a 12-digit account ID"))], ...],
    NoDecode,
    BeforeValidator(names),
]
OuIds = Annotated[
    tuple[Annotated[str, AfterValidator(matching(OU, "an OU or root ID"))], ...],
    NoDecode,
    BeforeValidator(names),
]
CronList = Annotated[
    tuple[Annotated[str, AfterValidator(_cron)], ...],
    NoDecode,
    BeforeValidator(lambda v: [v] if isinstance(v, str) and not v.startswith("[") else names(v)),
    Field(min_length=1),
]

SECTION = ConfigDict(extra="forbid", frozen=True)

