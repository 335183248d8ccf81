"""The settings sections, and the Settings class built for one check catalog."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    SecretStr,
    create_model,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from agent.config.objectives import ObjectivesSettings
from agent.config.values import (
    EXTERNAL_ID,
    OUTPUT_FORMATS,
    ROLE_NAME,
    SECTION,
    SESSION_NAME,
    SNS_ARN,
    AccountIds,
    Bool,
    CronList,
    Float,
    Int,
    Names,
    OuIds,
    Regions,
    database_url,
    existing_file,
    http_url,
    known_services,
    matching,
    names,
    timezone_name,
)
from agent.domain import Severity
from checks.base import Check, Range

ENV_PREFIX = "MLLENS_"

# -- sections ----------------------------------------------------------------------------------


class DatabaseSettings(BaseModel):
    model_config = SECTION

    url: Annotated[str, AfterValidator(database_url)] | None = Field(
        default=None,
        description="Store URL (sqlite:///path, postgresql+psycopg://user@host/db) or a SQLite "
        "file path. Default: $MLLENS_DB, else mllens.db in the user data directory.",
        json_schema_extra={"example": "postgresql+psycopg://mllens@db.internal:5432/mllens"},
    )


class ScheduleSettings(BaseModel):
    model_config = SECTION

    cron: CronList = Field(
        default=("0 3 * * *",),
        description="When the agent scans: one or more crontab expressions "
        "(minute hour day month weekday).",
    )
    timezone: Annotated[str, AfterValidator(timezone_name)] = Field(
        default="UTC", description="Time zone the cron expressions are read in."
    )
    run_at_start: Bool = Field(default=False, description="Also scan once when the agent starts.")
    jitter_s: Int = Field(
        default=0,
        ge=0,
        le=3600,
        description="Start each scheduled scan up to this many seconds late, at random, so "
        "many agents do not call AWS at the same instant.",
    )
    misfire_grace_s: Int = Field(
        default=3600,
        ge=1,
        description="A scan missed (agent down or busy) still runs if it is at most this many "
        "seconds late; missed runs are coalesced into one.",
    )
    lock_wait_s: Int = Field(
        default=3600,
        ge=0,
        description="How long a scheduled scan waits while another agent scans into the same "
        "store before it gives up on this run (0: give up at once).",
    )


class TargetsSettings(BaseModel):
    """Mirrors `agent.targets.TargetSpec`: which accounts and regions one scan covers."""

    model_config = SECTION

    organization: Bool = Field(
        default=False, description="Scan every active account of the AWS Organization."
    )
    ou_ids: OuIds = Field(
        default=(), description="Only accounts under these OUs (ou-... or r-...)."
    )
    accounts: AccountIds = Field(
        default=(),
        description="Scan these account IDs. Empty, and no organization: the caller's account.",
    )
    include: Names = Field(
        default=(),
        description="Keep only accounts matching one of these IDs or names (glob patterns).",
    )
    exclude: Names = Field(
        default=(), description="Drop accounts matching one of these IDs or names (glob patterns)."
    )
    role_name: Annotated[str, AfterValidator(matching(ROLE_NAME, "an IAM role name"))] = Field(
        default="mllens-audit",
        description="Read-only audit role assumed in each member account (with organization, "
        "ou_ids or accounts; the caller's own account is read with the caller's credentials).",
    )
    external_id: (
        Annotated[str, AfterValidator(matching(EXTERNAL_ID, "a valid ExternalId"))] | None
    ) = Field(
        default=None,
        description="ExternalId the audit role's trust policy requires.",
        json_schema_extra={"example": "mllens-7f3a9c"},
    )
    session_name: Annotated[
        str, AfterValidator(matching(SESSION_NAME, "a valid role session name"))
    ] = Field(
        default="mllens", description="Role session name, visible in the member's CloudTrail."
    )
    regions: Regions = Field(
        default=(),
        description="Regions to scan. Empty: every region each account has enabled.",
        json_schema_extra={"example": ["us-east-1", "eu-west-1"]},
    )


class LimitsSettings(BaseModel):
    model_config = SECTION

    max_in_flight: Int = Field(
        default=64, ge=1, le=1024, description="API calls in flight, in all."
    )
    per_service: Int = Field(
        default=16, ge=1, le=256, description="API calls in flight per account, region and service."
    )
    accounts_in_parallel: Int = Field(
        default=4, ge=1, le=256, description="Accounts scanned at once."
    )
    call_timeout_s: Float = Field(
        default=60.0,
        gt=0,
        le=900,
        description="Seconds one logical API call may take, botocore's retries included.",
    )
    max_attempts: Int = Field(
        default=5, ge=1, le=20,
        description="Attempts per call, the first included (botocore standard retries).",
    )
    rate_limits: Annotated[dict[str, Float], AfterValidator(known_services)] = Field(
        default_factory=dict,
        description="Ceiling of calls per second per API operation, per account and region, "
        "by service or `service:Operation`, over the built-in defaults (sagemaker 20, "
        "cloudwatch 9, glue 20, ...).",
        json_schema_extra={"example": {"sagemaker": 10.0}},
    )
    default_rate: Float = Field(
        default=10.0, gt=0, le=1000,
        description="Calls per second for a service not named in rate_limits.",
    )


class CollectSettings(BaseModel):
    model_config = SECTION

    training_lookback_days: Int = Field(
        default=90, ge=1, le=3650, description="Collect training jobs created in the last N days."
    )
    history_max_age_hours: Float = Field(
        default=6.0, ge=0, le=720,
        description="Hours a kept Glue job run or monitoring execution history is reused "
        "before it is read again; 0 reads it every scan.",
    )


class ChecksSettings(BaseModel):
    """Which checks run, and their parameters. Subclassed per catalog by `settings_model`."""

    model_config = SECTION

    enabled: Names = Field(default=(), description="Only these check IDs. Empty: every check.")
    disabled: Names = Field(
        default=(),
        description="Never these check IDs.",
        json_schema_extra={"example": ["sagemaker_endpoint_consolidation_candidate"]},
    )
    params: BaseModel = Field(
        default_factory=lambda: _EmptyParams(),
        description="Per-check parameters: [checks.params.<check_id>].",
    )

    def params_for(self, check_id: str) -> dict[str, Any]:
        """The parameters the file or environment set for one check (defaults left out)."""
        section = getattr(self.params, check_id, None)
        if section is None:
            return {}
        return cast(dict[str, Any], section.model_dump(exclude_unset=True))


class _EmptyParams(BaseModel):
    model_config = SECTION


class OutputsSettings(BaseModel):
    model_config = SECTION

    formats: tuple[Literal["json", "csv", "ocsf", "asff", "sarif", "html"], ...] = Field(
        default=(),
        description=f"Report files written after each scan: {', '.join(OUTPUT_FORMATS)}.",
    )
    directory: Path | None = Field(
        default=None,
        description="Where report files go (relative to this file).",
        json_schema_extra={"example": "reports"},
    )


class NotificationsSettings(BaseModel):
    model_config = SECTION

    min_severity: Severity = Field(
        default=Severity.HIGH, description="Notify about new findings of this severity or above."
    )
    sns_topic_arn: Annotated[str, AfterValidator(matching(SNS_ARN, "an SNS topic ARN"))] | None = (
        Field(
            default=None,
            description="Publish one summary per scan to this SNS topic.",
            json_schema_extra={"example": "arn:aws:sns:us-east-1:123456789012:mllens-findings"},
        )
    )
    webhook_url: Annotated[SecretStr, AfterValidator(http_url)] | None = Field(
        default=None,
        description="POST one Slack-compatible summary per scan here (kept secret in logs).",
        json_schema_extra={"example": "https://hooks.slack.com/services/T000/B000/XXXX"},
    )
    retries: Int = Field(
        default=3, ge=0, le=10, description="Retries after a 5xx answer or a timeout."
    )
    timeout_s: Float = Field(
        default=10.0, gt=0, le=120, description="Seconds one delivery attempt may take."
    )
    top_n: Int = Field(default=10, ge=1, le=40, description="Findings listed in the summary.")


class MutesSettings(BaseModel):
    model_config = SECTION

    path: Annotated[Path, AfterValidator(existing_file)] | None = Field(
        default=None,
        description="Mute file of suppressed findings (relative to this file).",
        json_schema_extra={"example": "mutes.toml"},
    )


class Settings(BaseSettings):
    """Everything the agent needs, validated and frozen. Build it with `load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    database: DatabaseSettings = Field(
        default=DatabaseSettings(), description="Where scans and findings are stored."
    )
    schedule: ScheduleSettings = Field(
        default=ScheduleSettings(), description="When `mllens agent` scans."
    )
    targets: TargetsSettings = Field(
        default=TargetsSettings(), description="Which accounts and regions a scan covers."
    )
    limits: LimitsSettings = Field(
        default=LimitsSettings(), description="Concurrency, time and rate bounds on AWS calls."
    )
    collect: CollectSettings = Field(
        default=CollectSettings(), description="What the collectors read."
    )
    checks: ChecksSettings = Field(
        default=ChecksSettings(), description="Which checks run, and their parameters."
    )
    objectives: ObjectivesSettings = Field(
        default=ObjectivesSettings(),
        description="Targets per workload (latency, 5XX rate, traffic floor, monthly cost), "
        "checked against CloudWatch by the objective checks.",
    )
    outputs: OutputsSettings = Field(
        default=OutputsSettings(), description="Report files written after each scan."
    )
    notifications: NotificationsSettings = Field(
        default=NotificationsSettings(),
        description="One summary per scan of the findings that are new in it.",
    )
    mutes: MutesSettings = Field(
        default=MutesSettings(), description="Suppressed findings: stored and shown as muted."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file arrives as init values; the environment overrides it, key by key.
        return (env_settings, init_settings)

    def enabled_checks(self, catalog: Sequence[Check]) -> tuple[Check, ...]:
        chosen = set(self.checks.enabled) or {c.id for c in catalog}
        skip = set(self.checks.disabled)
        return tuple(c for c in catalog if c.id in chosen and c.id not in skip)


# -- the catalog-specific model ----------------------------------------------------------------

_PARAM_TYPES: dict[Any, Any] = {
    int: Int,
    float: Float,
    bool: bool,
    str: str,
    tuple[str, ...]: Names,
}


def _param_model(chk: Check) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for p in chk.params:
        if p.type not in _PARAM_TYPES:
            raise TypeError(f"check {chk.id}: parameter {p.name} has unsupported type {p.type}")
        bounds = p.range or Range()
        fields[p.name] = (_PARAM_TYPES[p.type], Field(default=p.default, ge=bounds.ge,
                                                      le=bounds.le))
    return create_model(f"Params_{chk.id}", __config__=SECTION, **fields)


def settings_model(catalog: Sequence[Check]) -> type[Settings]:
    """A Settings class whose `checks` section knows these checks and their parameters."""
    ids = {c.id for c in catalog}

    def known(check_id: str) -> str:
        if check_id not in ids:
            raise ValueError(unknown_check(check_id, ids))
        return check_id

    per_check = {c.id: _param_model(c) for c in catalog if c.params}
    params = create_model(  # type: ignore[call-overload]
        "CheckParams",
        __config__=SECTION,
        **{cid: (cls, cls()) for cid, cls in per_check.items()},
    )
    check_ids = Annotated[
        tuple[Annotated[str, AfterValidator(known)], ...], NoDecode, BeforeValidator(names)
    ]

    def some_left(section: ChecksSettings) -> ChecksSettings:
        chosen = set(section.enabled) or ids
        if not chosen - set(section.disabled):
            raise ValueError("no checks left to run: every enabled check is disabled")
        return section

    checks_cls = create_model(
        "CatalogChecksSettings",
        __base__=ChecksSettings,
        enabled=(check_ids, _same_field(ChecksSettings, "enabled")),
        disabled=(check_ids, _same_field(ChecksSettings, "disabled")),
        params=(params, Field(default_factory=params, description=_doc(ChecksSettings, "params"))),
    )
    checks_type = Annotated[checks_cls, AfterValidator(some_left)]  # type: ignore[valid-type]
    return cast(
        type[Settings],
        create_model(
            "CatalogSettings",
            __base__=Settings,
            checks=(
                checks_type,
                Field(default_factory=checks_cls, description=_doc(Settings, "checks")),
            ),
        ),
    )


def _doc(model: type[BaseModel], name: str) -> str | None:
    return model.model_fields[name].description


def _same_field(model: type[BaseModel], name: str) -> Any:
    """A copy of a base class's field (default, description, example) for a subclass."""
    info = model.model_fields[name]
    return Field(
        default=info.default, description=info.description,
        json_schema_extra=info.json_schema_extra,
    )


def unknown_check(check_id: str, ids: Iterable[str]) -> str:
    close = difflib.get_close_matches(check_id, sorted(ids), n=1)
    hint = f'; did you mean "{close[0]}"?' if close else ""
    return f'unknown check ID "{check_id}"{hint} (see `mllens checks list`)'
