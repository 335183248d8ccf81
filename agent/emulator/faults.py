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

Beyond rules, the middleware models three things real accounts do that moto does not:
- regions an account has not enabled (`disable_region`): DescribeRegions reports them
  `not-opted-in` and every call signed for them is rejected as AWS rejects it;
  `reject_region` only rejects the credentials (an enabled region that refuses them);
- `strict_roles`: AssumeRole fails, as on AWS, when the role does not exist in the target
  account or its trust policy requires another ExternalId (moto hands out keys for any ARN);
- DescribeRegions is answered here (moto would build a whole EC2 backend per account first,
  seconds each) and, without `AllRegions=true`, lists enabled regions only, as AWS does.
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

from agent.emulator.accounts import assume_role_refusal, describe_regions, rejected_credentials

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
    `after`: let the first N matching calls through before the rule applies.
    `per_key`: count `after` and `times` per access key, so a rule can model a session that
    expires after N calls: keys issued by a fresh AssumeRole start counting from zero.
    `hook`: run this with the call first (e.g. delete the resource the call is about), then
    answer with the error or let moto answer the call for real.
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
    after: int = 0
    per_key: bool = False
    hook: Callable[[CallInfo], None] | None = None

    def __post_init__(self) -> None:
        if self.code is None and self.delay <= 0 and self.hook is None:
            raise ValueError("a FaultRule needs an error code, a delay or a hook")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1 (or None for every call)")
        if self.after < 0:
            raise ValueError("after must be 0 or more")

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


def expiring_sessions(account: str, calls: int, **match: Any) -> FaultRule:
    """Every access key of `account` expires after `calls` calls: a role session that runs out
    mid-scan. A new AssumeRole gives a new key, which starts counting afresh."""
    return expired_token(account=account, after=calls, per_key=True, **match)


@dataclass(frozen=True, slots=True)
class CallInfo:
    """Who called what, as far as the middleware can tell from headers and form body."""

    service: str
    operation: str
    account: str
    region: str
    protocol: str  # "json", "query" or "other"
    access_key: str = ""

    @property
    def key(self) -> str:
        return f"{_SIGNING_ALIASES.get(self.service, self.service)}:{self.operation}"


class Fault:
    """One installed rule and how many calls it has hit so far."""

    def __init__(self, rule: FaultRule) -> None:
        self.rule = rule
        self._hits = 0
        self._seen: Counter[str] = Counter()  # matching calls per access key (or "" for all)
        self._applied: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def hits(self) -> int:
        return self._hits

    def take(self, call: CallInfo) -> bool:
        """Count the call against this rule if it matches and has uses left."""
        if not self.rule.matches(call):
            return False
        key = call.access_key if self.rule.per_key else ""
        with self._lock:
            self._seen[key] += 1
            if self._seen[key] <= self.rule.after:
                return False
            if self.rule.times is not None and self._applied[key] >= self.rule.times:
                return False
            self._applied[key] += 1
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
        # (account, region) pairs: not enabled at all / enabled but rejecting the credentials.
        self.disabled_regions: set[tuple[str, str]] = set()
        self.rejecting_regions: set[tuple[str, str]] = set()
        self.strict_roles = False

    def add(self, rule: FaultRule) -> Fault:
        fault = Fault(rule)
        with self._lock:
            self._faults.append(fault)
        return fault

    def disable_region(self, account: str, region: str) -> None:
        """`region` is not enabled in `account`: listed `not-opted-in`, every call rejected."""
        with self._lock:
            self.disabled_regions.add((account, region))

    def reject_region(self, account: str, region: str) -> None:
        """`region` is enabled in `account` but rejects its credentials on every call."""
        with self._lock:
            self.rejecting_regions.add((account, region))

    def clear(self) -> None:
        """Remove every rule, region state and role check, and forget the call counts."""
        with self._lock:
            self._faults = []
            self.calls = Counter()
            self.disabled_regions = set()
            self.rejecting_regions = set()
            self.strict_roles = False

    @property
    def active(self) -> tuple[Fault, ...]:
        return tuple(self._faults)

    def count(self, call: CallInfo) -> None:
        with self._lock:
            self.calls[call.key] += 1

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
        if call is None:
            return self.app(environ, start_response)
        refused = self._account_behaviour(environ, call)
        if refused is not None:
            return self._answer(start_response, call, *refused)
        fault = self.faults.first_match(call)
        if fault is None:
            return self._serve(environ, start_response, call)
        rule = fault.rule
        if rule.hook is not None:
            rule.hook(call)
        if rule.delay > 0:
            time.sleep(rule.delay)
        if rule.code is None:
            return self._serve(environ, start_response, call)
        return self._answer(start_response, call, rule.code, rule.message, rule.status)

    def _account_behaviour(
        self, environ: dict[str, Any], call: CallInfo
    ) -> tuple[str, str, int] | None:
        """The error AWS itself would give for this account (region off, role missing)."""
        where = (call.account, call.region)
        if where in self.faults.disabled_regions or where in self.faults.rejecting_regions:
            self.faults.count(call)
            return rejected_credentials(call.service, call.protocol)
        if self.faults.strict_roles and call.key == "sts:AssumeRole":
            refusal = assume_role_refusal(_form(environ), call.account)
            if refusal is not None:
                self.faults.count(call)
                return refusal
        return None

    def _serve(
        self, environ: dict[str, Any], start_response: StartResponse, call: CallInfo
    ) -> Iterable[bytes]:
        if call.key != "ec2:DescribeRegions":
            return self.app(environ, start_response)
        disabled = {r for a, r in self.faults.disabled_regions if a == call.account}
        body = describe_regions(_form(environ), disabled)
        start_response("200 OK", [("Content-Type", "text/xml"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    @staticmethod
    def _answer(
        start_response: StartResponse, call: CallInfo, code: str, message: str, status_code: int
    ) -> Iterable[bytes]:
        status, headers, body = error_response(call.protocol, code, message, status_code)
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
        access_key=access_key,
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
    return _form(environ).get("Action")


def _form(environ: dict[str, Any]) -> dict[str, str]:
    """A query-protocol request's parameters (first value each); the body is left readable."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        query = parse_qs(environ.get("QUERY_STRING", ""))
        return {k: v[0] for k, v in query.items() if v}
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    form = parse_qs(body.decode("utf-8", errors="replace"))
    return {k: v[0] for k, v in form.items() if v}


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
