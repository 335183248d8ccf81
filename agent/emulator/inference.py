"""SageMaker inference components, which moto does not model.

An inference component is hosted on an existing endpoint (and variant); on such endpoints the
variants name no model, the components do. Methods of moto's `SageMakerResponse` once installed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import sagemaker_backends

from agent.emulator.filters import contains, equals, sorted_by, time_filters
from agent.emulator.paging import page
from agent.emulator.store import ExtensionBackend, backend, now

_SUMMARY_FIELDS = (
    "CreationTime",
    "InferenceComponentArn",
    "InferenceComponentName",
    "EndpointArn",
    "EndpointName",
    "VariantName",
    "InferenceComponentStatus",
    "LastModifiedTime",
)


def _store(self: Any) -> ExtensionBackend:
    return backend(self.current_account, self.region)


def _component(store: ExtensionBackend, name: str) -> dict[str, Any]:
    component = store.inference_components.get(name)
    if component is None:
        # What SageMaker answers: a ValidationException worded as not-found.
        raise ValidationError(f"Could not find inference component '{name}'.")
    return component


def _specification_summary(spec: dict[str, Any], resolved_at: Any) -> dict[str, Any]:
    """The Describe shape of a Create specification: the image becomes a DeployedImage."""
    summary = {k: copy.deepcopy(v) for k, v in spec.items() if k != "Container"}
    container = spec.get("Container")
    if container:
        out = {k: copy.deepcopy(v) for k, v in container.items() if k != "Image"}
        if container.get("Image"):
            out["DeployedImage"] = {
                "SpecifiedImage": container["Image"],
                "ResolvedImage": container["Image"],
                "ResolutionTime": resolved_at,
            }
        summary["Container"] = out
    return summary


def create_inference_component(self: Any) -> ActionResult:
    name = self._get_param("InferenceComponentName")
    endpoint_name = self._get_param("EndpointName")
    variant = self._get_param("VariantName")
    endpoints = sagemaker_backends[self.current_account][self.region].endpoints
    endpoint = endpoints.get(endpoint_name)
    if endpoint is None:
        raise ValidationError(f"Could not find endpoint '{endpoint_name}'.")
    variants = [v["VariantName"] for v in endpoint.production_variants]
    if variant is not None and variant not in variants:
        raise ValidationError(
            f"Could not find variant '{variant}' on endpoint '{endpoint_name}'."
        )
    copies = (self._get_param("RuntimeConfig") or {}).get("CopyCount")
    store = _store(self)
    with store.lock:
        if name in store.inference_components:
            raise ValidationError(f"Cannot create already existing inference component {name}.")
        created = now()
        component: dict[str, Any] = {
            "InferenceComponentName": name,
            "InferenceComponentArn": store.arn("inference-component", name),
            "EndpointName": endpoint_name,
            "EndpointArn": endpoint.arn,
            "VariantName": variant or variants[0],
            "Specification": _specification_summary(
                self._get_param("Specification") or {}, created
            ),
            "CreationTime": created,
            "LastModifiedTime": created,
            # Settled state at once, like moto's endpoints; the seeding API changes it.
            "InferenceComponentStatus": "InService",
        }
        if copies is not None:
            component["RuntimeConfig"] = {"DesiredCopyCount": copies, "CurrentCopyCount": copies}
        store.inference_components[name] = component
        tags = self._get_param("Tags") or []
        if tags:
            store.tags[component["InferenceComponentArn"]] = {
                str(t["Key"]): str(t.get("Value") or "") for t in tags
            }
    return ActionResult({"InferenceComponentArn": component["InferenceComponentArn"]})


def describe_inference_component(self: Any) -> ActionResult:
    store = _store(self)
    with store.lock:
        return ActionResult(
            copy.deepcopy(_component(store, self._get_param("InferenceComponentName")))
        )


def delete_inference_component(self: Any) -> ActionResult:
    store = _store(self)
    name = self._get_param("InferenceComponentName")
    with store.lock:
        _component(store, name)
        del store.inference_components[name]
    return EmptyResult()


def list_inference_components(self: Any) -> ActionResult:
    store = _store(self)
    with store.lock:
        components = [copy.deepcopy(c) for c in store.inference_components.values()]
    keep = [
        equals("EndpointName", self._get_param("EndpointNameEquals")),
        equals("VariantName", self._get_param("VariantNameEquals")),
        equals("InferenceComponentStatus", self._get_param("StatusEquals")),
        contains("InferenceComponentName", self._get_param("NameContains")),
        *time_filters(self, ("CreationTime", "LastModifiedTime")),
    ]
    selected = sorted_by(
        (c for c in components if all(f(c) for f in keep)),
        {"Name": "InferenceComponentName", "CreationTime": "CreationTime",
         "Status": "InferenceComponentStatus"}[self._get_param("SortBy") or "CreationTime"],
        self._get_param("SortOrder") or "Descending",
    )
    items, token = page(selected, self._get_param("MaxResults"), self._get_param("NextToken"), 10)
    summaries = [{k: c[k] for k in _SUMMARY_FIELDS if k in c} for c in items]
    return ActionResult({"InferenceComponents": summaries, "NextToken": token})


HANDLERS: dict[str, Callable[[Any], ActionResult]] = {
    "create_inference_component": create_inference_component,
    "describe_inference_component": describe_inference_component,
    "delete_inference_component": delete_inference_component,
    "list_inference_components": list_inference_components,
}
