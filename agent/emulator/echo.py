"""Give back what was created: Describe answers that keep every field the Create request set.

moto's models keep only the fields their authors needed, so a describe can silently lose what
the create said (DescribeModel answers EnableNetworkIsolation=false after it was created true;
DescribeEndpointConfig forgets ShadowProductionVariants, VpcConfig, ExecutionRoleArn). AWS
answers a describe with the configuration as created, so the emulator records each create
request and lays it over moto's describe: every member the two operations share, by name and
by shape, comes from the request.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from moto.core.responses import ActionResult

from agent.emulator.shapes import operation_model
from agent.emulator.store import backend

Handler = Callable[[Any], Any]

# Members a describe never echoes even when the shapes match: tags have their own API.
_NEVER = frozenset({"Tags"})


@dataclass(frozen=True, slots=True)
class Pair:
    """A create operation and the describe that must give its configuration back."""

    service: str
    create: str
    describe: str
    key: str  # the request member naming the resource, in both operations


def shared_members(service: str, create: str, describe: str) -> tuple[str, ...]:
    """Members of the create input and describe output with the same name and shape."""
    return _shared(service, create, describe, None)


def shared_with_shape(service: str, create: str, shape: str) -> tuple[str, ...]:
    """Members of the create input and of a named output structure (e.g. MetricAlarm)."""
    return _shared(service, create, None, shape)


@functools.cache
def _shared(
    service: str, create: str, describe: str | None, shape: str | None
) -> tuple[str, ...]:
    sent = operation_model(service, create).input_shape.members
    if describe is not None:
        answered = operation_model(service, describe).output_shape.members
    else:
        answered = operation_model(service, create).service_model.shape_for(shape).members
    return tuple(
        name
        for name, member in sent.items()
        if name not in _NEVER and name in answered and answered[name].name == member.name
    )


def request_params(self: Any) -> dict[str, Any]:
    """The request as parsed by moto against botocore's model (or its JSON body)."""
    params = getattr(self, "params", None)
    if params is None:
        params = json.loads(self.body or "{}")
    return _plain(params)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def recording(pair: Pair, original: Handler) -> Handler:
    """Wrap a create handler: after moto accepts the request, remember it."""

    @functools.wraps(original)
    def create(self: Any) -> Any:
        # Read before moto runs: some moto handlers add defaults to the parsed request in place.
        params = copy.deepcopy(request_params(self))
        result = original(self)
        store = backend(self.current_account, self.region)
        with store.lock:
            store.created[(pair.create, str(params[pair.key]))] = params
        return result

    create._mllens_wrapped = True  # type: ignore[attr-defined]
    return create


def echoing(pair: Pair, original: Handler) -> Handler:
    """Wrap a describe handler: lay the recorded create request over moto's answer."""
    members = shared_members(pair.service, pair.create, pair.describe)

    @functools.wraps(original)
    def describe(self: Any) -> Any:
        result = original(self)
        if not isinstance(result, ActionResult) or not isinstance(result.result, dict):
            return result
        sent = recorded(self.current_account, self.region, pair.create, self._get_param(pair.key))
        # A record created behind the API (bulk seeding) has no request to replay, but its empty
        # placeholders must go all the same.
        return ActionResult(overlay(result.result, sent or {}, members))

    describe._mllens_wrapped = True  # type: ignore[attr-defined]
    return describe


def recorded(account: str, region: str, create: str, name: Any) -> dict[str, Any] | None:
    store = backend(account, region)
    with store.lock:
        sent = store.created.get((create, str(name)))
        return copy.deepcopy(sent) if sent is not None else None


def overlay(
    answer: dict[str, Any], sent: dict[str, Any], members: tuple[str, ...]
) -> dict[str, Any]:
    """moto's answer with the request's value for every shared member the request set.

    Empty values moto fills in for configuration the request left out (StoppingCondition: {},
    Containers: []) are dropped: AWS leaves such members out, and an empty structure misses
    its required members.
    """
    out = dict(answer)
    for name in members:
        if sent.get(name) is not None:
            out[name] = copy.deepcopy(sent[name])
        elif out.get(name) in ({}, []):
            del out[name]
    return out
