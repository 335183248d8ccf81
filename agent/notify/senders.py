"""Where summaries go: an SNS topic (aioboto3) and a Slack-compatible webhook (aiohttp)."""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from agent.notify.message import Notification

log = structlog.get_logger(__name__)

class SendFailed(Exception):
    """A channel did not accept the message after its retries. The text holds no secret."""




class Sender(Protocol):
    channel: str  # the kind: "sns", "webhook"

    @property
    def destination(self) -> str:
        """Where it delivers (a topic ARN, a URL): names the channel in the ledger."""
        ...

    async def send(self, n: Notification) -> int:
        """Deliver; the number of attempts it took. Raises SendFailed."""
        ...


Sleep = Callable[[float], Awaitable[None]]


@dataclass
class SnsSender:
    """Publish through aioboto3, the scan's own async AWS stack; botocore's standard retry
    mode retries throttling, 5xx answers and connection errors."""

    topic_arn: str
    session_factory: Callable[[], Any]
    retries: int = 3
    timeout_s: float = 10.0
    endpoint_url: str | None = None
    channel: str = "sns"

    @property
    def destination(self) -> str:
        return self.topic_arn

    async def send(self, n: Notification) -> int:
        from aiobotocore.config import AioConfig
        from botocore.exceptions import BotoCoreError, ClientError

        region = self.topic_arn.split(":")[3]
        config = AioConfig(retries={"mode": "standard", "max_attempts": self.retries + 1},
                           connect_timeout=self.timeout_s, read_timeout=self.timeout_s,
                           user_agent_extra="mllens")
        params: dict[str, Any] = {
            "TopicArn": self.topic_arn,
            "Subject": n.subject,
            "Message": n.sns_message(),
            "MessageStructure": "json",
            "MessageAttributes": {
                "mllens_scan": {"DataType": "String", "StringValue": n.data["scan"]["uid"]},
                "mllens_max_severity": {"DataType": "String",
                                        "StringValue": n.max_severity.value},
            },
        }
        if self.topic_arn.endswith(".fifo"):
            params.update(MessageGroupId="mllens", MessageDeduplicationId=n.key[:128])
        try:
            async with self.session_factory().client(
                "sns", region_name=region, endpoint_url=self.endpoint_url, config=config
            ) as sns:
                resp = await sns.publish(**params)
        except ClientError as exc:
            raise SendFailed(f"sns: {exc.response.get('Error', {}).get('Code', 'error')}") \
                from exc
        except BotoCoreError as exc:
            raise SendFailed(f"sns: {type(exc).__name__}") from exc
        return 1 + int(resp.get("ResponseMetadata", {}).get("RetryAttempts") or 0)


@dataclass
class WebhookSender:
    """POST the Slack-compatible body; retry 5xx, 429 and timeouts with capped, jittered
    exponential backoff. The URL is a secret (Slack's path is the credential): only its host
    is ever logged."""

    url: str
    retries: int = 3
    timeout_s: float = 10.0
    backoff_s: float = 1.0
    sleep: Sleep = asyncio.sleep
    channel: str = "webhook"
    max_backoff_s: float = 30.0

    @property
    def destination(self) -> str:
        return self.url

    @property
    def host(self) -> str:
        return re.sub(r"^[a-z]+://([^/@]*@)?([^/:?#]+).*$", r"\2", self.url, flags=re.I)

    async def send(self, n: Notification) -> int:
        import aiohttp

        body = json.dumps(n.slack())
        headers = {"Content-Type": "application/json", "Idempotency-Key": n.key,
                   "User-Agent": "mllens"}
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        reason = ""
        async with aiohttp.ClientSession(timeout=timeout, trust_env=True) as http:
            for attempt in range(1, self.retries + 2):
                wait: float | None = None
                try:
                    async with http.post(self.url, data=body, headers=headers) as resp:
                        await resp.read()
                        if resp.status < 300:
                            return attempt
                        reason = f"HTTP {resp.status}"
                        if resp.status != 429 and resp.status < 500:
                            raise SendFailed(f"webhook {self.host}: {reason} (not retried)")
                        wait = _retry_after(resp.headers.get("Retry-After"))
                except (aiohttp.ClientError, TimeoutError) as exc:
                    reason = type(exc).__name__
                if attempt > self.retries:
                    break
                delay = wait if wait is not None else random.uniform(
                    0, min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)))
                log.warning("notification_retry", channel=self.channel, host=self.host,
                            attempt=attempt, reason=reason, delay_s=round(delay, 2))
                await self.sleep(min(delay, self.max_backoff_s))
        raise SendFailed(f"webhook {self.host}: {reason} after {self.retries + 1} attempts")


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def senders_from_settings(
    settings: Any,
    session_factory: Callable[[], Any],
    endpoint_url: str | None = None,
) -> list[Sender]:
    """The senders `agent.config.NotificationsSettings` asks for."""
    out: list[Sender] = []
    if settings.sns_topic_arn:
        out.append(SnsSender(settings.sns_topic_arn, session_factory, settings.retries,
                             settings.timeout_s, endpoint_url))
    if settings.webhook_url is not None:
        out.append(WebhookSender(settings.webhook_url.get_secret_value(), settings.retries,
                                 settings.timeout_s))
    return out


