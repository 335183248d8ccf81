"""Fault injection for the emulator: a WSGI middleware in front of moto.

A rule matches a request by service, operation, account and region (each optional) and then
answers with an AWS error in the protocol the client speaks, or delays the call, or both. The
middleware also counts every call it sees, which the benchmarks and the tests read.

How a request is identified, without parsing it the way moto does:
- service and region come from the SigV4 credential scope
  (`Credential=<key>/<date>/<region>/<service>/aws4_request`); CloudWatch signs as
  `monitoring`, so rules may name either `monitoring` or `cloudwatch`;
- the operation comes from `X-Amz-Target` (JSON protocols: SageMaker, Glue, Application Auto
  Scaling) or from the `Action` form field (query protocol: CloudWatch, STS, IAM);
- the account is the one moto itself would pick: `MOTO_ACCOUNT_ID`, else the
  `x-moto-account-id` header, else the account owning the access key (keys handed out by
  moto's STS AssumeRole belong to the role's account), else moto's default 123456789012.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

DEFAULT_ACCOUNT_ID = "123456789012"

# Signing names that differ from the boto3 client name.
_SIGNING_ALIASES = {"monitoring": "cloudwatch"}

_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True, slots=True)
class FaultRule:
    """What to break. Every matcher left as None matches anything.

    `code` set: answer with that AWS error (HTTP `status`) instead of calling moto.
    `delay` > 0: sleep that many seconds first (alone, it only slows the call down: use it with
    a client read timeout shorter than the delay to simulate a timeout).
    `times`: apply to the first N matching calls only, then let calls through.
    """

    service: str | None = None
    operation: str | None = None
    account: str | None = None
    region: str | None = None
    code: str | None = None
    message: str = "Injected fault"
    status: int = 400
    delay: float = 0.0
    times: int | None = None

    def __post_init__(self) -> None:
        if self.code is None and self.delay <= 0:
            raise ValueError("a FaultRule needs an error code, a delay, or both")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1 (or None for every call)")

    def matches(self, call: CallInfo) -> bool:
        if self.service is not None and self.service.lower() not in (
            call.service,
            _SIGNING_ALIASES.get(call.service, call.service),
        ):
            return False
        return (
            (self.operation is None or self.operation == call.operation)
            and (self.account is None or self.account == call.account)
            and (self.region is None or self.region == call.region)
        )


# Ready-made errors, spelled and numbered the way the services answer them.
def access_denied(**match: Any) -> FaultRule:
    return FaultRule(code="AccessDeniedException", status=400,
                     message="User is not authorized to perform this action", **match)


def throttled(**match: Any) -> FaultRule:
    return FaultRule(code="ThrottlingException", status=400, message="Rate exceeded", **match)


def internal_failure(**match: Any) -> FaultRule:
    return FaultRule(code="InternalFailure", status=500,
                     message="An internal error occurred", **match)


def expired_token(**match: Any) -> FaultRule:
    return FaultRule(code="ExpiredTokenException", status=400,
                     message="The security token included in the request is expired", **match)


@dataclass(frozen=True, slots=True)
class CallInfo:
    """Who called what, as far as the middleware can tell from headers and form body."""

    service: str
    operation: str
    account: str
    region: str
    protocol: str  # "json", "query" or "other"

    @property
    def key(self) -> str:
        return f"{_SIGNING_ALIASES.get(self.service, self.service)}:{self.operation}"


class Fault:
    """One installed rule and how many calls it has hit so far."""

    def __init__(self, rule: FaultRule) -> None:
        self.rule = rule
        self._hits = 0
        self._lock = threading.Lock()

    @property
    def hits(self) -> int:
        return self._hits

    def take(self, call: CallInfo) -> bool:
        """Count the call against this rule if it matches and has uses left."""
        if not self.rule.matches(call):
            return False
        with self._lock:
            if self.rule.times is not None and self._hits >= self.rule.times:
                return False
            self._hits += 1
            return True

    def __repr__(self) -> str:
        return f"Fault({self.rule!r}, hits={self._hits})"


class Faults:
    """The rule set of one emulator. Rules are tried in the order they were added."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()  # "service:Operation" -> calls seen, faults included

    def add(self, rule: FaultRule) -> Fault:
        fault = Fault(rule)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every rule and forget the call counts."""
        with self._lock:
            self._faults = []
            self.calls = Counter()

    @property
    def active(self) -> tuple[Fault, ...]:
        return tuple(self._faults)

    def first_match(self, call: CallInfo) -> Fault | None:
        with self._lock:
            self.calls[call.key] += 1
            faults = tuple(self._faults)
        for fault in faults:
            if fault.take(call):
                return fault
        return None


class FaultMiddleware:
    """WSGI middleware: identify the call, apply latency and the first matching rule."""

    def __init__(self, app: WsgiApp, faults: Faults, latency: float = 0.0) -> None:
        self.app = app
        self.faults = faults
        self.latency = latency

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            return self.app(environ, start_response)
        call = identify(environ)
        if self.latency > 0:
            time.sleep(self.latency)
        fault = self.faults.first_match(call) if call is not None else None
        if fault is None:
            return self.app(environ, start_response)
        rule = fault.rule
        if rule.delay > 0:
            time.sleep(rule.delay)
        if rule.code is None:
            return self.app(environ, start_response)
        assert call is not None
        status, headers, body = error_response(call.protocol, rule.code, rule.message, rule.status)
        start_response(status, headers)
        return [body]


def identify(environ: dict[str, Any]) -> CallInfo | None:
    """The call a WSGI request makes, or None for an unsigned or non-SigV4 request."""
    scope = _credential_scope(environ.get("HTTP_AUTHORIZATION", ""))
    if scope is None:
        return None
    access_key, region, service = scope
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        operation, protocol = target.rsplit(".", 1)[-1], "json"
    else:
        action = _form_action(environ)
        operation, protocol = (action, "query") if action else ("", "other")
    return CallInfo(
        service=service,
        operation=operation,
        account=_account_for(environ, access_key),
        region=region,
        protocol=protocol,
    )


def _credential_scope(auth: str) -> tuple[str, str, str] | None:
    # "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sagemaker/aws4_request, ..."
    marker = "Credential="
    start = auth.find(marker)
    if start < 0:
        return None
    credential = auth[start + len(marker):].split(",", 1)[0].strip()
    parts = credential.split("/")
    if len(parts) != 5:
        return None
    access_key, _date, region, service, _terminator = parts
    return access_key, region, service.lower()


def _form_action(environ: dict[str, Any]) -> str | None:
    """The `Action` of a query-protocol request; the body is put back for moto to read."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        query = parse_qs(environ.get("QUERY_STRING", ""))
        return (query.get("Action") or [None])[0]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    form = parse_qs(body.decode("utf-8", errors="replace"))
    return (form.get("Action") or [None])[0]


def _account_for(environ: dict[str, Any], access_key: str) -> str:
    # Same precedence as moto's BaseResponse.get_current_account, so a rule scoped to an
    # account hits exactly the calls moto serves from that account's backends.
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    header = environ.get("HTTP_X_MOTO_ACCOUNT_ID")
    if header:
        return str(header)
    from moto.iam.models import get_account_id_from  # imported late: moto is heavy

    return str(get_account_id_from(access_key))


def error_response(
    protocol: str, code: str, message: str, status: int
) -> tuple[str, list[tuple[str, str]], bytes]:
    """An AWS error answer that botocore parses into ClientError with this code."""
    request_id = str(uuid.uuid4())
    status_line = f"{status} {_REASONS.get(status, 'Error')}"
    if protocol == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        return status_line, [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", request_id),
            ("Content-Length", str(len(body))),
        ], body
    error_type = "Receiver" if status >= 500 else "Sender"
    xml = (
        "<ErrorResponse><Error>"
        f"<Type>{error_type}</Type><Code>{escape(code)}</Code>"
        f"<Message>{escape(message)}</Message>"
        f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
    return status_line, [
        ("Content-Type", "text/xml"),
        ("x-amzn-RequestId", request_id),
        ("Content-Length", str(len(xml))),
    ], xml
