"""Install the emulator's handlers on moto's response classes.

moto's server dispatches an action to the method named after it (snake_case) on the service's
response class, so adding or replacing a method there is all an extension needs. `install()` is
called by `Emulator.start()`, never at import; running it again changes nothing, because each
replacement is marked and a marked method is never wrapped twice.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from agent.emulator import (
    catalog,
    cloudwatch,
    fixes,
    inference,
    monitoring,
    percentiles,
    securityhub,
)
from agent.emulator.echo import Pair, echoing, recording

_lock = threading.Lock()

# Create/Describe pairs whose describe must give the created configuration back.
ECHO_PAIRS = (
    Pair("sagemaker", "CreateModel", "DescribeModel", "ModelName"),
    Pair("sagemaker", "CreateEndpointConfig", "DescribeEndpointConfig", "EndpointConfigName"),
    Pair("sagemaker", "CreateTrainingJob", "DescribeTrainingJob", "TrainingJobName"),
    Pair("sagemaker", "CreateNotebookInstance", "DescribeNotebookInstance",
         "NotebookInstanceName"),
    Pair("sagemaker", "CreateDataQualityJobDefinition", "DescribeDataQualityJobDefinition",
         "JobDefinitionName"),
    Pair("sagemaker", "CreateModelQualityJobDefinition", "DescribeModelQualityJobDefinition",
         "JobDefinitionName"),
    Pair("sagemaker", "CreateModelBiasJobDefinition", "DescribeModelBiasJobDefinition",
         "JobDefinitionName"),
    Pair("sagemaker", "CreateModelExplainabilityJobDefinition",
         "DescribeModelExplainabilityJobDefinition", "JobDefinitionName"),
)


def _snake(operation: str) -> str:
    from botocore import xform_name

    return str(xform_name(operation))


def _replace(cls: type, name: str, make: Callable[[Callable[[Any], Any]], Any]) -> None:
    """Wrap moto's `cls.name` with `make`, unless it is already one of ours."""
    current = getattr(cls, name)
    if getattr(current, "_mllens_wrapped", False):
        return
    setattr(cls, name, make(current))


def _add(cls: type, handlers: dict[str, Callable[[Any], Any]]) -> None:
    """Add handlers for actions moto lacks (replacing any earlier copy of ours)."""
    for name, handler in handlers.items():
        setattr(cls, name, handler)


def install() -> None:
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.glue.responses import GlueResponse
    from moto.resourcegroupstaggingapi.responses import ResourceGroupsTaggingAPIResponse
    from moto.sagemaker.responses import SageMakerResponse
    from moto.securityhub import urls as securityhub_urls
    from moto.securityhub.responses import SecurityHubResponse

    with _lock:
        _add(SageMakerResponse, monitoring.HANDLERS)
        _add(SageMakerResponse, inference.HANDLERS)
        for pair in ECHO_PAIRS:
            _replace(SageMakerResponse, _snake(pair.create), functools.partial(recording, pair))
            _replace(SageMakerResponse, _snake(pair.describe), functools.partial(echoing, pair))
        _replace(SageMakerResponse, "describe_endpoint", fixes.describe_endpoint)
        for action, collection, param in (
            ("start_notebook_instance", "notebook_instances", "NotebookInstanceName"),
            ("stop_notebook_instance", "notebook_instances", "NotebookInstanceName"),
            ("update_endpoint_weights_and_capacities", "endpoints", "EndpointName"),
        ):
            _replace(SageMakerResponse, action, fixes.touching(collection, param))
        _replace(SageMakerResponse, "list_models", fixes.paged_json("Models", 10))
        _add(SageMakerResponse, {"list_notebook_instance_lifecycle_configs":
                                 catalog.list_notebook_instance_lifecycle_configs,
                                 "update_endpoint": catalog.update_endpoint})
        _replace(SageMakerResponse, "list_tags", catalog.list_tags)

        _add(CloudWatchResponse, {
            "put_composite_alarm": cloudwatch.put_composite_alarm,
            "describe_alarms": cloudwatch.describe_alarms,
        })
        _replace(CloudWatchResponse, "put_metric_alarm", cloudwatch.put_metric_alarm)
        _replace(CloudWatchResponse, "list_metrics", catalog.list_metrics)
        _replace(CloudWatchResponse, "get_metric_data", percentiles.get_metric_data)
        _replace(CloudWatchResponse, "get_metric_statistics", percentiles.get_metric_statistics)

        _replace(ApplicationAutoScalingResponse, "describe_scalable_targets",
                 fixes.describe_scalable_targets)
        _replace(ApplicationAutoScalingResponse, "describe_scheduled_actions",
                 fixes.describe_scheduled_actions)

        _replace(GlueResponse, "get_security_configurations",
                 fixes.paged_json("SecurityConfigurations", 100))
        _replace(GlueResponse, "get_job_runs", catalog.get_job_runs)
        _replace(ResourceGroupsTaggingAPIResponse, "get_resources", catalog.get_resources)

        _replace(SecurityHubResponse, "batch_import_findings",
                 securityhub.batch_import_findings)
        securityhub_urls.url_paths.setdefault("{0}/findings/batchupdate$",
                                              SecurityHubResponse.dispatch)
        _add(SecurityHubResponse, {"batch_update_findings": securityhub.batch_update_findings,
                                   "get_findings": securityhub.get_findings})
