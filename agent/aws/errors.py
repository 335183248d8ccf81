"""Turn whatever an AWS call raised into a GapKind.

Services spell the same failure several ways (AccessDenied vs AccessDeniedException, three
spellings of "this region is not enabled for you", not-found disguised as ValidationException),
so classification goes by code first, then by HTTP status and message.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from botocore import exceptions as bx

from agent.domain import GapKind

_ACCESS_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "AuthorizationError",
    "AuthorizationErrorException",
    "Forbidden",
}
THROTTLE_CODES = frozenset({
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "SlowDown",
    "PriorRequestNotComplete",
    "BandwidthLimitExceeded",
    "EC2ThrottledException",
})
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
# These three are what an opt-in region that is not enabled answers, depending on protocol;
# they are also what a genuinely bad key answers. The scan decides which by asking the region
# list (see agent.targets); here they are reported as invalid credentials.
_INVALID_CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "AuthFailure",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
}
_NOT_FOUND = {
    "ResourceNotFound",
    "ResourceNotFoundException",
    "EntityNotFoundException",
    "NoSuchEntity",
    "NotFoundException",
    "ObjectNotFoundException",
}
_REGION_DISABLED = {"OptInRequired", "InvalidRegion"}
_UNSUPPORTED = {"UnknownOperationException", "InvalidAction", "NotImplemented",
                "UnsupportedOperation"}
_SERVICE = {"InternalFailure", "InternalServerError", "InternalError", "ServiceUnavailable",
            "ServiceUnavailableException", "InternalServiceError", "InternalServiceException"}
_NOT_FOUND_MESSAGE = re.compile(r"could not find|does not exist|not found|cannot be found", re.I)


@dataclass(frozen=True, slots=True)
class Classified:
    kind: GapKind
    code: str
    message: str


def classify(exc: BaseException) -> Classified:
    if isinstance(exc, bx.ClientError):
        err = exc.response.get("Error", {}) or {}
        code = str(err.get("Code", "") or "")
        message = str(err.get("Message", "") or str(exc))
        status = int((exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
        return Classified(_kind_for(code, message, status), code or str(status), message)
    if isinstance(exc, (bx.ReadTimeoutError, bx.ConnectTimeoutError, asyncio.TimeoutError,
                        TimeoutError)):
        return Classified(GapKind.TIMEOUT, type(exc).__name__, str(exc) or "call timed out")
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectionClosedError,
                        bx.HTTPClientError)):
        return Classified(GapKind.NETWORK, type(exc).__name__, str(exc))
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError,
                        bx.CredentialRetrievalError, bx.ProfileNotFound)):
        return Classified(GapKind.INVALID_CREDENTIALS, type(exc).__name__, str(exc))
    if isinstance(exc, bx.UnknownServiceError | bx.OperationNotPageableError):
        return Classified(GapKind.UNSUPPORTED, type(exc).__name__, str(exc))
    return Classified(GapKind.INTERNAL, type(exc).__name__, str(exc))


def _kind_for(code: str, message: str, status: int) -> GapKind:
    if code in _ACCESS_DENIED:
        return GapKind.ACCESS_DENIED
    if code in THROTTLE_CODES:
        return GapKind.THROTTLED
    if code in _EXPIRED:
        return GapKind.EXPIRED_CREDENTIALS
    if code in _INVALID_CREDENTIALS:
        return GapKind.INVALID_CREDENTIALS
    if code in _REGION_DISABLED:
        return GapKind.REGION_DISABLED
    if code in _NOT_FOUND:
        return GapKind.NOT_FOUND
    if code in ("ValidationException", "InvalidParameterValue", "ValidationError") and (
        _NOT_FOUND_MESSAGE.search(message)
    ):
        # SageMaker says "Could not find endpoint configuration ..." as a ValidationException.
        return GapKind.NOT_FOUND
    if code in _UNSUPPORTED or status == 501:
        return GapKind.UNSUPPORTED
    if code in _SERVICE or status >= 500:
        return GapKind.SERVICE_ERROR
    if status == 429:
        return GapKind.THROTTLED
    return GapKind.CLIENT_ERROR
