"""Credentials for a member account: an assumed role that refreshes itself before it expires.

botocore's refreshable credentials do the timing: every signed request asks them for keys, and
within 15 minutes of expiry (10, mandatory) they call our refresh, which assumes the role again.
So a scan longer than the role's session keeps working without a timer of ours. What botocore
cannot know is that AWS revoked a session early (or that a clock is off): a call that comes back
ExpiredToken makes the handle call `reassume` once, then retry (see `RegionHandle.call`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aioboto3
import structlog
from aiobotocore.credentials import AioCredentialResolver, AioDeferredRefreshableCredentials
from aiobotocore.session import AioSession
from botocore.credentials import ReadOnlyCredentials, _local_now

from agent.aws.errors import Classified
from agent.aws.handle import CallFailed, RegionHandle
from agent.domain import GapKind

log = structlog.get_logger(__name__)


class AssumeRoleFailed(CallFailed):
    """The role could not be assumed: every call in that account is impossible."""

    def __init__(
        self,
        role_arn: str,
        cause: CallFailed,
        *,
        external_id_sent: bool | None = None,
        principal: str | None = None,
    ) -> None:
        c = cause.classified
        text = f"cannot assume {role_arn} ({c.kind.value}, {c.code}): {c.message}"
        if c.kind is GapKind.ACCESS_DENIED:
            text += f" ({denied_hint(external_id_sent, principal)})"
        super().__init__("sts", "AssumeRole", Classified(GapKind.ASSUME_ROLE_FAILED, c.code, text))
        self.role_arn = role_arn
        self.cause = cause


def denied_hint(external_id_sent: bool | None, principal: str | None) -> str:
    """What an AccessDenied from AssumeRole may mean. AWS answers the same for each cause, so
    the hint names them all, and says only what is known: whether an ExternalId was sent."""
    who = f" ({principal})" if principal else ""
    causes = (f"AWS gives this answer when the role does not exist in that account, when its "
              f"trust policy does not name the principal mllens runs as{who}, or when the "
              f"trust policy's sts:ExternalId condition is not met")
    if external_id_sent is None:
        return causes
    if external_id_sent:
        return (f"{causes}; an ExternalId was sent: check that it equals the one in the "
                "role's trust policy")
    return (f"{causes}; no ExternalId was sent: if the trust policy requires one (the "
            "shipped audit-role.yaml does), set targets.external_id (--external-id, "
            "MLLENS_TARGETS__EXTERNAL_ID)")


def role_arn(partition: str, account_id: str, role_name: str) -> str:
    return f"arn:{partition}:iam::{account_id}:role/{role_name.strip('/')}"


class RoleCredentials(AioDeferredRefreshableCredentials):  # type: ignore[misc]
    """Assumed-role keys: fetched on first use, refreshed ahead of expiry, re-assumable on demand.

    `generation` counts the sessions obtained so far; a caller that saw keys of generation N
    fail asks `reassume(N)`, and only the first such caller re-assumes.
    """

    def __init__(
        self,
        assume: Callable[[], Awaitable[dict[str, Any]]],
        time_fetcher: Callable[[], datetime] = _local_now,
    ) -> None:
        super().__init__(refresh_using=self._fetch, method="assume-role", time_fetcher=time_fetcher)
        self._assume = assume
        self.generation = 0

    async def _fetch(self) -> dict[str, Any]:
        resp = await self._assume()
        creds = resp["Credentials"]
        self.generation += 1
        expiration = creds["Expiration"]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": expiration.isoformat() if isinstance(expiration, datetime)
            else str(expiration),
        }

    async def _protected_refresh(self, is_mandatory: bool) -> None:
        # botocore's version logs a traceback through the stdlib root logger on every failed
        # refresh; here the failure is the caller's to record (an account-level gap), and a
        # failed advisory refresh just keeps the current keys, as botocore does.
        try:
            metadata = await self._refresh_using()
        except AssumeRoleFailed as failure:
            if is_mandatory:
                raise
            log.warning("credentials_refresh_deferred", kind=failure.cause.kind.value)
            return
        self._set_from_data(metadata)
        self._frozen_credentials = ReadOnlyCredentials(
            self._access_key, self._secret_key, self._token, self._account_id
        )

    async def start(self) -> None:
        """Assume now (not at the first call), so a role that fails is known up front."""
        await self.get_frozen_credentials()

    async def reassume(self, seen_generation: int) -> None:
        async with self._refresh_lock:
            if self.generation != seen_generation:
                return  # another call already got fresh keys
            await self._protected_refresh(is_mandatory=True)


def assume_with(
    caller: RegionHandle,
    arn: str,
    session_name: str,
    external_id: str | None,
    principal: str | None = None,
) -> Callable[[], Awaitable[dict[str, Any]]]:
    """AssumeRole through the caller's handle: regional STS, bounded, counted, classified.
    `principal` (the caller's ARN) is named in the hint of a refusal."""

    async def assume() -> dict[str, Any]:
        params: dict[str, Any] = {"RoleArn": arn, "RoleSessionName": session_name}
        if external_id:
            params["ExternalId"] = external_id
        try:
            return await caller.call("sts", "AssumeRole", **params)
        except CallFailed as failure:
            raise AssumeRoleFailed(arn, failure, external_id_sent=bool(external_id),
                                   principal=principal) from failure

    return assume


class _Provider:
    """A credential provider that always answers the given credentials."""

    METHOD = "assume-role"
    CANONICAL_NAME = "mllens-assume-role"

    def __init__(self, credentials: Any) -> None:
        self._credentials = credentials

    async def load(self) -> Any:
        return self._credentials


def shared_loader(base: Any = None) -> Any:
    """A botocore data loader to share between sessions: each session would otherwise parse
    every service model again (SageMaker's alone is megabytes of JSON) for every account.
    The base session's own loader when it has one (boto3 sessions keep theirs in `_session`)."""
    core = getattr(base, "_session", None)
    if core is not None and hasattr(core, "get_component"):
        return core.get_component("data_loader")
    return AioSession().get_component("data_loader")


def session_with(credentials: Any, region: str, loader: Any = None) -> aioboto3.Session:
    """An aioboto3 session whose every client signs with `credentials`."""
    core = AioSession()
    if loader is not None:
        core.register_component("data_loader", loader)
    core.register_component("credential_provider", AioCredentialResolver([_Provider(credentials)]))
    return aioboto3.Session(botocore_session=core, region_name=region)


__all__ = [
    "AssumeRoleFailed",
    "RoleCredentials",
    "assume_with",
    "denied_hint",
    "role_arn",
    "session_with",
    "shared_loader",
]
