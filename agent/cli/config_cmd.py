"""`mllens config`: validate a settings file, print a commented example, show what is in effect.

The example is rendered from the settings model itself (descriptions, defaults, examples), so it
can never drift from what `config check` accepts.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from agent.cli.stores import settings_or_fail, store_url
from agent.config import Settings, cron_trigger, settings_model
from agent.redact import mask, safe_url
from checks import all_checks
from checks.base import Check

config_app = typer.Typer(help="The settings file: validate it, or start from an example.",
                         no_args_is_help=True, rich_markup_mode=None)

# Shown as set or not, never as they are (the webhook URL is a SecretStr, masked by type).
SECRET_VALUES = {("targets", "external_id")}

ConfigFile = Annotated[
    Path | None,
    typer.Argument(
        envvar="MLLENS_CONFIG",
        help="TOML settings file. Default: $MLLENS_CONFIG; without either, the environment "
        "alone (MLLENS_<SECTION>__<KEY>).",
        show_default=False,
    ),
]


@config_app.command("check")
def check(file: ConfigFile = None) -> None:
    """Validate settings (file and MLLENS_* environment).

    Prints a one-line summary, or one line naming the first bad key and exits 2.
    """
    settings = settings_or_fail(file)
    print(f"config OK: {file or '(environment only)'}: {summary(settings, all_checks())}")


@config_app.command("example")
def example() -> None:
    """Print a commented example settings file.

    Every key with its default; optional keys are shown commented out. It passes `config check`.
    """
    print(render_example(all_checks()), end="")


@config_app.command("show")
def show(file: ConfigFile = None) -> None:
    """Print the settings in effect, secrets masked.

    The file and the environment merged, with every default filled in, as TOML.
    """
    settings = settings_or_fail(file)
    print(render_values(settings), end="")


# -- the one-line summary ----------------------------------------------------------------------


def summary(settings: Settings, catalog: Sequence[Check]) -> str:
    s = settings
    enabled = s.enabled_checks(catalog)
    tuned = [c.id for c in enabled if s.checks.params_for(c.id)]
    nxt = min(
        cron_trigger(expr, s.schedule.timezone).get_next_fire_time(None, datetime.now(UTC))
        for expr in s.schedule.cron
    )
    t = s.targets
    scope = (
        "the organization" if t.organization
        else f"{len(t.ou_ids)} OU(s)" if t.ou_ids
        else f"{len(t.accounts)} account(s)" if t.accounts
        else "the caller's account"
    )
    channels = [n for n, on in (("sns", s.notifications.sns_topic_arn),
                                ("webhook", s.notifications.webhook_url)) if on]
    parts = [
        f"database {safe_url(store_url(None, s))}",
        f"{len(s.schedule.cron)} schedule(s), next {nxt:%Y-%m-%d %H:%M %Z}",
        f"targets {scope} in {', '.join(t.regions) or 'every enabled region'}",
        f"{len(enabled)}/{len(catalog)} checks ({len(tuned)} with parameters)",
        "notifications " + (f"{'+'.join(channels)} at {s.notifications.min_severity.value}+"
                            if channels else "off"),
        "outputs " + (", ".join(s.outputs.formats) or "none"),
        "mutes " + (str(s.mutes.path) if s.mutes.path else "none"),
        f"{len(s.objectives.workloads)} objective(s)"
        + (f" over {s.objectives.window_days} days" if s.objectives.workloads else ""),
    ]
    return "; ".join(parts)


# -- TOML rendering ----------------------------------------------------------------------------


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_key(key: Any) -> str:
    # "ml.m5.xlarge" unquoted would be a dotted key: three nested tables.
    text = str(key)
    return text if _BARE_KEY.match(text) else json.dumps(text, ensure_ascii=False)


def toml_value(value: Any) -> str:
    if isinstance(value, BaseModel):
        return toml_value(value.model_dump(exclude_none=True))
    if isinstance(value, SecretStr):
        return '"********"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return json.dumps(value.value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}"
                                for k, v in value.items()) + " }"
    raise TypeError(f"cannot render {type(value).__name__} as TOML")


def _comment(text: str, indent: str = "") -> Iterator[str]:
    for line in textwrap.wrap(text, 96 - len(indent)):
        yield f"{indent}# {line}"


def _example_of(info: FieldInfo) -> Any:
    extra = info.json_schema_extra
    return extra.get("example") if isinstance(extra, dict) else None


def _section_lines(name: str, model: type[BaseModel]) -> Iterator[str]:
    yield f"[{name}]"
    tables: list[Iterator[str]] = []
    for key, info in model.model_fields.items():
        if key == "params":
            continue
        default = info.get_default(call_default_factory=True)
        example = _example_of(info)
        rows = model_of(info)
        if example is not None and not default and (rows is not None or (
                isinstance(example, dict) and not _BARE_KEY.match(next(iter(example), "")))):
            # Sub-tables go after the section's own keys (TOML puts every key after a table
            # header into that table), shown commented out.
            tables.append(_table_lines(f"{name}.{key}", info, example, rows))
            continue
        yield from _comment(info.description or "")
        if example is not None and not default:
            yield f"# {key} = {toml_value(example)}"
        else:
            yield f"{key} = {toml_value(default)}"
    for table in tables:
        yield from table
    yield ""


def _table_lines(
    path: str, info: FieldInfo, example: Any, rows: type[BaseModel] | None
) -> Iterator[str]:
    """A commented-out example of a table (`[path]`) or an array of tables (`[[path]]`)."""
    yield from _comment(info.description or "")
    if rows is None:
        yield f"# [{path}]"
        yield from (f"# {toml_key(k)} = {toml_value(v)}" for k, v in example.items())
        return
    for item in example:
        yield f"# [[{path}]]"
        for key, value in item.items():
            yield from _comment(rows.model_fields[key].description or "")
            yield f"# {key} = {toml_value(value)}"


def render_example(catalog: Sequence[Check]) -> str:
    """The whole settings file: every key with its default, optional keys commented out."""
    model = settings_model(catalog)
    lines = [
        "# mllens settings. Validate with `mllens config check FILE`.",
        "# Any key can be overridden from the environment: MLLENS_<SECTION>__<KEY>, e.g.",
        "# MLLENS_DATABASE__URL, MLLENS_TARGETS__REGIONS=us-east-1,eu-west-1,",
        "# MLLENS_CHECKS__PARAMS__<CHECK_ID>__<PARAMETER>. Reference: docs/configuration.md",
        "",
    ]
    for name, info in model.model_fields.items():
        lines.extend(_comment(info.description or ""))
        section_cls = model_of(info)
        assert section_cls is not None, name
        lines.extend(_section_lines(name, section_cls))
    lines.extend(_params_lines(catalog))
    return "\n".join(lines) + "\n"


def model_of(info: FieldInfo) -> type[BaseModel] | None:
    from typing import get_args

    candidates = [info.annotation, *get_args(info.annotation)]
    for c in candidates:
        if isinstance(c, type) and issubclass(c, BaseModel):
            return c
    return None


def _params_lines(catalog: Sequence[Check]) -> Iterator[str]:
    yield "# Parameters of the checks that take any; the values shown are the defaults."
    yield "# Uncomment a table and change what you need. `mllens checks list -f json` lists them."
    for chk in sorted(catalog, key=lambda c: c.id):
        if not chk.params:
            continue
        yield ""
        yield from _comment(chk.title)
        yield f"# [checks.params.{chk.id}]"
        for p in chk.params:
            bounds = f"  # {p.range}" if p.range is not None else ""
            yield f"# {p.name} = {toml_value(p.default)}{bounds}"
    yield ""


def render_values(settings: Settings) -> str:
    """The settings in effect as TOML: every section, every value, secrets masked."""
    lines: list[str] = []
    for name in type(settings).model_fields:
        section: BaseModel = getattr(settings, name)
        lines.append(f"[{name}]")
        nested: list[tuple[str, BaseModel]] = []
        for key in type(section).model_fields:
            value = getattr(section, key)
            if isinstance(value, BaseModel):
                nested.append((key, value))
            elif value is not None:
                if (name, key) == ("database", "url"):
                    value = safe_url(value)
                elif (name, key) in SECRET_VALUES:
                    value = mask(value)
                lines.append(f"{key} = {toml_value(value)}")
        lines.append("")
        for key, sub in nested:
            for check_id in type(sub).model_fields:
                lines.append(f"[{name}.{key}.{check_id}]")
                params: BaseModel = getattr(sub, check_id)
                lines.extend(f"{k} = {toml_value(getattr(params, k))}"
                             for k in type(params).model_fields)
                lines.append("")
    return "\n".join(lines)
