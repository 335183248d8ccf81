"""Corrections to moto answers that break botocore's model or the scanner's paging.

Each wrapper takes moto's own handler and returns a replacement; `extensions.install` puts them
on moto's response classes. Listed with reasons in GAPS.md.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult

from agent.emulator.echo import recorded, request_params
from agent.emulator.paging import page
from agent.emulator.store import backend

Handler = Callable[[Any], Any]


def _mark(fn: Handler) -> Handler:
    fn._mllens_wrapped = True  # type: ignore[attr-defined]
    return fn


# --- SageMaker DescribeEndpoint ------------------------------------------------------------


def _capture_summary(config: dict[str, Any], status: str) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "EnableCapture": bool(config.get("EnableCapture")),
        "CaptureStatus": status,
        "CurrentSamplingPercentage": config.get("InitialSamplingPercentage", 0),
        "DestinationS3Uri": config.get("DestinationS3Uri", ""),
    }
    # The model calls KmsKeyId required, but inventing a key would make an unencrypted capture
    # look encrypted: it is left out when the config set none (see GAPS.md).
    if config.get("KmsKeyId"):
        summary["KmsKeyId"] = config["KmsKeyId"]
    return summary


def _variant_summary(variant: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {"VariantName": variant["VariantName"]}
    if variant.get("InitialVariantWeight") is not None:
        summary["CurrentWeight"] = summary["DesiredWeight"] = variant["InitialVariantWeight"]
    if variant.get("InitialInstanceCount") is not None:
        count = variant["InitialInstanceCount"]
        summary["CurrentInstanceCount"] = summary["DesiredInstanceCount"] = count
    if variant.get("ServerlessConfig"):
        summary["CurrentServerlessConfig"] = copy.deepcopy(variant["ServerlessConfig"])
        summary["DesiredServerlessConfig"] = copy.deepcopy(variant["ServerlessConfig"])
    return summary


def describe_endpoint(original: Handler) -> Handler:
    """Data capture as a DataCaptureConfigSummary (moto echoes the config shape, which lacks
    CaptureStatus and CurrentSamplingPercentage), plus the shadow variants moto drops."""

    @functools.wraps(original)
    def handler(self: Any) -> Any:
        result = original(self)
        if not isinstance(result, ActionResult) or not isinstance(result.result, dict):
            return result
        answer = dict(result.result)
        config = recorded(
            self.current_account,
            self.region,
            "CreateEndpointConfig",
            answer.get("EndpointConfigName"),
        ) or {}
        capture = config.get("DataCaptureConfig") or answer.get("DataCaptureConfig")
        answer.pop("DataCaptureConfig", None)
        if capture:
            store = backend(self.current_account, self.region)
            with store.lock:
                status = store.capture_status.get(answer["EndpointName"])
            if status is None:
                status = "Started" if capture.get("EnableCapture") else "Stopped"
            answer["DataCaptureConfig"] = _capture_summary(capture, status)
        shadows = config.get("ShadowProductionVariants")
        if shadows:
            answer["ShadowProductionVariants"] = [_variant_summary(v) for v in shadows]
        if config.get("AsyncInferenceConfig"):
            answer["AsyncInferenceConfig"] = copy.deepcopy(config["AsyncInferenceConfig"])
        return ActionResult(answer)

    return _mark(handler)


# --- Listings moto does not page -------------------------------------------------------------


def paged_json(key: str, default_max: int) -> Callable[[Handler], Handler]:
    """Re-page a JSON answer that ignores MaxResults: AWS never answers more than asked."""

    def wrap(original: Handler) -> Handler:
        @functools.wraps(original)
        def handler(self: Any) -> Any:
            params = request_params(self)
            token = params.get("NextToken")
            if token:
                # moto would read our token as its own: ask moto for everything, page here.
                self.params = {k: v for k, v in params.items() if k != "NextToken"}
            result = original(self)
            if isinstance(result, ActionResult) and isinstance(result.result, dict):
                answer = dict(result.result)
                answer[key], answer["NextToken"] = page(
                    answer.get(key) or [], params.get("MaxResults"), token, default_max
                )
                return ActionResult(answer)
            return result

        return _mark(handler)

    return wrap


# --- Application Auto Scaling --------------------------------------------------------------

_SAGEMAKER_SCALING_ROLE = (
    "arn:aws:iam::{account}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)


def describe_scalable_targets(original: Handler) -> Handler:
    """moto's NextToken repeats the second page forever and RoleARN (required) is null unless
    given at registration; AWS fills in the service-linked role."""
    from moto.applicationautoscaling.responses import _build_target

    @functools.wraps(original)
    def handler(self: Any) -> str:
        self._validate_params()
        targets = self.applicationautoscaling_backend.describe_scalable_targets(
            self._get_param("ServiceNamespace"),
            self._get_param("ResourceIds"),
            self._get_param("ScalableDimension"),
        )
        items, token = page(
            list(targets), self._get_int_param("MaxResults"), self._get_param("NextToken"), 50
        )
        built = []
        for target in items:
            item = _build_target(target)
            if not item.get("RoleARN"):
                item["RoleARN"] = _SAGEMAKER_SCALING_ROLE.format(account=self.current_account)
            built.append({k: v for k, v in item.items() if v is not None})
        answer: dict[str, Any] = {"ScalableTargets": built}
        if token:
            answer["NextToken"] = token
        return json.dumps(answer)

    return _mark(handler)


def describe_scheduled_actions(original: Handler) -> Handler:
    """moto answers every action in one page whatever MaxResults says."""

    @functools.wraps(original)
    def handler(self: Any) -> str:
        params = json.loads(self.body or "{}")
        token = params.pop("NextToken", None)
        self.body = json.dumps(params)
        answer = json.loads(original(self))
        answer["ScheduledActions"], next_token = page(
            answer.get("ScheduledActions") or [], params.get("MaxResults"), token, 50
        )
        if next_token:
            answer["NextToken"] = next_token
        return json.dumps(answer)

    return _mark(handler)


def touching(collection: str, param: str) -> Callable[[Handler], Handler]:
    """moto leaves LastModifiedTime where the create put it; AWS moves it when a notebook is
    started or stopped and when an endpoint's weights or capacities change, and an incremental
    scan relies on that. Wraps the action so the named record's time moves after it worked."""

    def make(original: Handler) -> Handler:
        @functools.wraps(original)
        def handler(self: Any) -> Any:
            from moto.core.utils import utcnow
            from moto.sagemaker.models import sagemaker_backends

            result = original(self)
            records = getattr(sagemaker_backends[self.current_account][self.region], collection)
            record = records.get(self._get_param(param))
            if record is not None:
                record.last_modified_time = utcnow()
            return result

        handler._mllens_wrapped = True  # type: ignore[attr-defined]
        return handler

    return make
