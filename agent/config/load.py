"""Loading: the TOML file, the environment, and one clear line for the first problem."""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import (
    BaseModel,
    ValidationError,
)
from pydantic_settings import (
    SettingsError,
)

from agent.config.env import environment_problem
from agent.config.models import ENV_PREFIX, Settings, settings_model, unknown_check
from checks.base import Check

if TYPE_CHECKING:
    from agent.scan import ScanRequest

_SECRET_KEYS = ("url", "webhook_url", "external_id")

class ConfigError(Exception):
    """A settings problem: the dotted key path and what is wrong with it."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message

    def line(self) -> str:
        return f"config error: {self}"

# -- loading -----------------------------------------------------------------------------------


def read_toml(path: Path) -> dict[str, Any]:
    """The file's tables, with relative paths in it made relative to the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"cannot read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"invalid TOML: {exc}") from None
    for key in data:
        if key.startswith("_"):
            # BaseSettings reads `_env_file` and friends from its keyword arguments.
            raise ConfigError(key, "unknown key")
    base = path.resolve().parent
    for section, key in (("mutes", "path"), ("outputs", "directory")):
        table = data.get(section)
        if isinstance(table, dict) and isinstance(table.get(key), str):
            value = Path(table[key]).expanduser()
            table[key] = str(value if value.is_absolute() else base / value)
    return data


def load_settings(path: Path | None, catalog: Sequence[Check] | None = None) -> Settings:
    """Validate the file (if any) plus the MLLENS_* environment into frozen Settings.

    Raises ConfigError naming the first bad key (and how many more there are).
    """
    if catalog is None:
        from checks import all_checks

        catalog = all_checks()
    data = read_toml(path) if path is not None else {}
    model = settings_model(catalog)
    problem = environment_problem(model, os.environ)
    if problem is not None:
        raise ConfigError(f"${problem[0]}", problem[1])
    try:
        return model(**data)
    except ValidationError as exc:
        raise _first_error(exc, model, {c.id for c in catalog}) from None
    except SettingsError as exc:
        raise _env_error(exc) from None


def _env_error(exc: SettingsError) -> ConfigError:
    match = re.search(r'field "(\w+)"', str(exc))
    section = match.group(1) if match else ""
    prefix = f"{ENV_PREFIX}{section}".upper()
    names = sorted(k for k in os.environ if k.upper().startswith(prefix)) if section else []
    where = f"${names[0]}" if len(names) == 1 else "environment"
    return ConfigError(where, "cannot parse the value: tables and lists take JSON, e.g. "
                       '{"sagemaker": 5} or ["a", "b"]')


def _path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":
            continue  # pydantic's marker for "the key itself" of a table: the path names it
        if isinstance(part, str) and not re.match(r"^[A-Za-z0-9_-]+$", part):
            part = json.dumps(part)  # a table key such as "ml.m5.xlarge", as TOML writes it
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _env_source(loc: Sequence[int | str]) -> str:
    keys = [str(p) for p in loc if not isinstance(p, int)]
    name = (ENV_PREFIX + "__".join(keys)).upper()
    present = {k.upper() for k in os.environ}
    below = [p for p in present if p.startswith(name + "__")]
    if len(below) == 1:
        return f" (from ${below[0]})"  # an unknown table, named by a variable of a key in it
    while keys:
        name = (ENV_PREFIX + "__".join(keys)).upper()
        if name in present:
            return f" (from ${name})"
        keys.pop()
    return ""


def _model_at(model: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return None
        current = _model_in(fields[part].annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    from typing import get_args

    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


_EXPECTED = {
    "int_parsing": "an integer", "int_type": "an integer", "int_from_float": "an integer",
    "float_parsing": "a number", "float_type": "a number", "finite_number": "a finite number",
    "bool_parsing": "true or false", "bool_type": "true or false",
    "string_type": "a string", "tuple_type": "a list", "list_type": "a list",
    "dict_type": "a table", "model_type": "a table", "model_attributes_type": "a table",
    "path_type": "a path",
}
_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<",
           "less_than_equal": "<="}


def _first_error(
    exc: ValidationError, model: type[BaseModel], check_ids: set[str]
) -> ConfigError:
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = tuple(first["loc"])
    message = _message(first, loc, model, check_ids) + _env_source(loc)
    if len(errors) > 1:
        others = ", ".join(_path(e["loc"]) for e in errors[1:4])
        message += f" (and {len(errors) - 1} more: {others}{', ...' if len(errors) > 4 else ''})"
    return ConfigError(_path(loc) or "config", message)


def _message(
    err: Mapping[str, Any],
    loc: tuple[int | str, ...],
    model: type[BaseModel],
    check_ids: set[str],
) -> str:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    secret = any(str(p) in _SECRET_KEYS for p in loc)
    echoed = isinstance(value, str) and value in str(ctx.get("error", ""))
    got = "" if secret or echoed or isinstance(value, dict) else f", got {_show(value)}"
    if kind == "extra_forbidden":
        return _unknown_key(loc, model, check_ids)
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}{got}"
    if kind in _BOUNDS:
        limit = next(iter(ctx.values()), "?")
        if isinstance(limit, float) and limit.is_integer():
            limit = int(limit)  # a float parameter's bound reads as written: <= 1, not <= 1.0
        return f"must be {_BOUNDS[kind]} {limit}{got}"
    if kind == "value_error":
        return f"{ctx.get('error', err['msg'])}{got}"
    if kind in ("literal_error", "enum"):
        return f"expected one of {ctx.get('expected', '?')}{got}"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length', 1)} item(s)"
    if kind == "missing":
        return "required"
    return f"{err['msg']}{got}"


def _unknown_key(loc: tuple[int | str, ...], model: type[BaseModel], check_ids: set[str]) -> str:
    name = str(loc[-1])
    if loc[:2] == ("checks", "params") and len(loc) == 3:
        if name in check_ids:
            return f'check "{name}" takes no parameters'
        return unknown_check(name, check_ids)
    parent = _model_at(model, loc[:-1])
    allowed = sorted(parent.model_fields) if parent is not None else []
    if loc[:2] == ("checks", "params") and len(loc) == 4:
        return f'unknown parameter of {loc[2]}; it takes: {", ".join(allowed)}'
    close = difflib.get_close_matches(name, allowed, n=1)
    if close:
        return f'unknown key; did you mean "{close[0]}"?'
    return f"unknown key (expected one of: {', '.join(allowed)})" if allowed else "unknown key"


# -- what a scan takes from the settings -------------------------------------------------------


def scan_request(
    settings: Settings,
    catalog: Sequence[Check],
    *,
    profile: str | None = None,
    endpoint_url: str | None = None,
) -> ScanRequest:
    """The `agent.scan.ScanRequest` these settings describe: targets, limits, collection
    windows, enabled checks and their parameters, objectives. Raises ConfigError for targets
    that do not hold together (an organisation without a role, say)."""
    from agent.aws.handle import Limits
    from agent.aws.ratelimit import DEFAULT_RATES
    from agent.collectors import CollectOptions
    from agent.scan import ScanRequest
    from agent.targets import TargetSpec
    from checks.options import EvaluationOptions

    t, lim = settings.targets, settings.limits
    members = t.organization or bool(t.ou_ids) or bool(t.accounts)
    try:
        targets = TargetSpec(
            organization=t.organization,
            ou_ids=tuple(t.ou_ids),
            accounts=tuple(t.accounts),
            include=tuple(t.include),
            exclude=tuple(t.exclude),
            # The caller's own account is read with the caller's credentials.
            role_name=t.role_name if members else None,
            external_id=t.external_id if members else None,
            session_name=t.session_name,
            regions=tuple(t.regions),
        )
    except ValueError as exc:
        raise ConfigError("targets", str(exc)) from None
    checks = settings.enabled_checks(catalog)
    return ScanRequest(
        checks=checks,
        targets=targets,
        profile=profile,
        endpoint_url=endpoint_url,
        limits=Limits(
            max_in_flight=lim.max_in_flight,
            per_service=lim.per_service,
            call_timeout=lim.call_timeout_s,
            max_attempts=lim.max_attempts,
            rates={**DEFAULT_RATES, **lim.rate_limits},
            default_rate=lim.default_rate,
            accounts_in_parallel=lim.accounts_in_parallel,
        ),
        collect=CollectOptions(
            training_lookback_days=settings.collect.training_lookback_days,
            history_max_age_hours=settings.collect.history_max_age_hours,
        ),
        params={c.id: p for c in checks if (p := settings.checks.params_for(c.id))},
        # The objective checks get the objectives from here; the scan derives from them what
        # the objective metrics collector reads (ScanRequest.collect_options).
        evaluation=EvaluationOptions(objectives=settings.objectives.build()),
    )
