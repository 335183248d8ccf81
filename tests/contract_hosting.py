"""Contract cases for the endpoint, model, registry and Model Monitor checks."""

from __future__ import annotations

from datetime import timedelta

from agent.domain import Inventory, Kind, Resource, Status
from tests.contract_build import (
    AAS,
    DROP,
    KEY,
    Case,
    Contract,
    alarm,
    capture,
    cfg,
    ep,
    gapped,
    hourly,
    job,
    metrics,
    model,
    package,
    package_arn,
    policy,
    schedule,
    series,
    serverless_cfg,
    target,
    undescribed,
)
from tests.factories import inv, res

P, F, N, U = Status.PASS, Status.FAIL, Status.NOT_APPLICABLE, Status.UNKNOWN
CAPTURE_CFG = {"EnableCapture": True, "KmsKeyId": KEY,
               "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]}
EP05_KINDS = (Kind.ENDPOINTS, Kind.INFERENCE_COMPONENTS, Kind.ALARMS, *AAS)
REGISTERED = package_arn("churn", 2)


def _ep_cfg(*extra: Resource, e: Resource | None = None, c: Resource | None = None,
            kinds: tuple[Kind, ...] = ()) -> Inventory:
    """An endpoint on its config (both well configured unless given), plus `extra`."""
    return inv(e or ep(), c or cfg(), *extra, kinds=kinds)


HOSTING: dict[str, Contract] = {
    "sagemaker_endpoint_unhealthy_status": {
        P: Case(inv(ep()), "ep"),
        F: Case(inv(ep(status="Failed")), "ep"),
        N: Case(inv(ep(status="Creating")), "ep"),
        U: Case(inv(undescribed(Kind.ENDPOINTS, "ep")), "ep"),
    },
    "sagemaker_endpoint_stuck_in_transition": {
        P: Case(_ep_cfg(e=ep(status="Updating", modified_days=0)), "ep"),
        F: Case(_ep_cfg(e=ep(status="Creating", age_days=2)), "ep"),
        N: Case(_ep_cfg(), "ep"),
        U: Case(_ep_cfg(e=ep(status="Updating", LastModifiedTime=DROP)), "ep"),
    },
    "sagemaker_endpoint_no_auto_rollback": {
        P: Case(_ep_cfg(alarm("rollback"), e=ep(modified_days=1, LastDeploymentConfig={
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "rollback"}]}})), "ep"),
        F: Case(_ep_cfg(e=ep(modified_days=1), kinds=(Kind.ALARMS,)), "ep"),
        N: Case(_ep_cfg(kinds=(Kind.ALARMS,)), "ep"),
        U: Case(_ep_cfg(e=ep(CreationTime=DROP), kinds=(Kind.ALARMS,)), "ep"),
    },
    "sagemaker_endpoint_single_instance_no_autoscaling": {
        P: Case(inv(ep(count=2), kinds=AAS), "ep/AllTraffic"),
        F: Case(inv(ep(), kinds=AAS), "ep/AllTraffic"),
        N: Case(inv(ep(status="Failed"), kinds=AAS), "ep"),
        U: Case(inv(ep(variants=[{"VariantName": "AllTraffic"}]), kinds=AAS), "ep/AllTraffic"),
    },
    "sagemaker_endpoint_config_initial_instance_count_le_1": {
        P: Case(_ep_cfg(c=cfg(count=2)), "cfg/AllTraffic"),
        F: Case(_ep_cfg(), "cfg/AllTraffic"),
        N: Case(_ep_cfg(c=serverless_cfg()), "cfg/AllTraffic"),
        U: Case(inv(ep(), undescribed(Kind.ENDPOINT_CONFIGS, "cfg")), "cfg"),
    },
    "sagemaker_endpoint_autoscaling_misconfigured": {
        P: Case(inv(target(), policy(), ep(), kinds=EP05_KINDS),
                "AllTraffic/sagemaker:variant:DesiredInstanceCount"),
        F: Case(inv(target(), ep(), kinds=EP05_KINDS),
                "AllTraffic/sagemaker:variant:DesiredInstanceCount"),
        N: "every SageMaker scalable target is judged: no target is out of scope",
        U: Case(inv(target(), undescribed(Kind.ENDPOINTS, "ep"),
                    kinds=EP05_KINDS),
                "AllTraffic/sagemaker:variant:DesiredInstanceCount"),
    },
    "sagemaker_endpoint_config_kms_key_missing": {
        P: Case(_ep_cfg(c=cfg(KmsKeyId=KEY)), "cfg"),
        F: Case(_ep_cfg(), "cfg"),
        N: Case(_ep_cfg(c=serverless_cfg()), "cfg"),
        U: Case(_ep_cfg(c=cfg(instance="ml.weird.xlarge")), "cfg"),
    },
    "sagemaker_endpoint_data_capture_disabled": {
        P: Case(_ep_cfg(e=ep(DataCaptureConfig=capture()),
                        c=cfg(DataCaptureConfig=CAPTURE_CFG)), "ep"),
        F: Case(_ep_cfg(), "ep"),
        N: Case(_ep_cfg(e=ep(status="Creating")), "ep"),
        U: Case(inv(ep(config="deleted", DataCaptureConfig=capture()),
                    kinds=(Kind.ENDPOINT_CONFIGS,)), "ep"),
    },
    "sagemaker_endpoint_data_capture_not_active": {
        P: Case(inv(ep(DataCaptureConfig=capture()), kinds=(Kind.MONITORING_SCHEDULES,)), "ep"),
        F: Case(inv(ep(DataCaptureConfig=capture("Stopped")),
                    kinds=(Kind.MONITORING_SCHEDULES,)), "ep"),
        N: Case(inv(ep(), kinds=(Kind.MONITORING_SCHEDULES,)), "ep"),
        U: Case(inv(ep(DataCaptureConfig={"EnableCapture": True}),
                    kinds=(Kind.MONITORING_SCHEDULES,)), "ep"),
    },
    "sagemaker_endpoint_data_capture_unencrypted": {
        P: Case(_ep_cfg(c=cfg(DataCaptureConfig=CAPTURE_CFG)), "cfg"),
        F: Case(_ep_cfg(c=cfg(DataCaptureConfig={**CAPTURE_CFG, "KmsKeyId": ""})), "cfg"),
        N: Case(_ep_cfg(), "cfg"),
        U: Case(inv(ep(), undescribed(Kind.ENDPOINT_CONFIGS, "cfg")), "cfg"),
    },
    "sagemaker_endpoint_not_reproducible": {
        P: Case(_ep_cfg(model(package=REGISTERED), kinds=(Kind.INFERENCE_COMPONENTS,)), "ep"),
        F: Case(inv(ep(config="deleted"), kinds=(Kind.ENDPOINT_CONFIGS, Kind.MODELS,
                                                 Kind.INFERENCE_COMPONENTS)), "ep"),
        N: Case(_ep_cfg(model(), e=ep(status="Failed"), kinds=(Kind.INFERENCE_COMPONENTS,)),
                "ep"),
        U: Case(_ep_cfg(undescribed(Kind.MODELS, "m"), kinds=(Kind.INFERENCE_COMPONENTS,)),
                "ep"),
    },
    "sagemaker_endpoint_consolidation_candidate": {
        P: Case(_ep_cfg(model()), "ep"),
        F: Case(inv(*(ep(f"ep{i}", config=f"c{i}") for i in range(3)),
                    *(cfg(f"c{i}") for i in range(3)), model()), "ep0"),
        N: Case(_ep_cfg(model(), e=ep(status="Creating")), "ep"),
        U: Case(inv(ep(config="deleted"), model(), kinds=(Kind.ENDPOINT_CONFIGS,)), "ep"),
    },
    "sagemaker_endpoint_no_error_alarm": {
        P: Case(inv(ep(), alarm("errors")), "ep/AllTraffic"),
        F: Case(inv(ep(), kinds=(Kind.ALARMS,)), "ep/AllTraffic"),
        N: Case(inv(ep(status="Failed"), kinds=(Kind.ALARMS,)), "ep"),
        U: Case(inv(ep(variants=[]), kinds=(Kind.ALARMS,)), "ep"),
    },
    "sagemaker_endpoint_no_latency_alarm": {
        P: Case(inv(ep(), alarm("latency", "ModelLatency", Threshold=500_000.0)),
                "ep/AllTraffic"),
        F: Case(inv(ep(), alarm("errors")), "ep/AllTraffic"),
        N: Case(inv(ep(status="Failed"), kinds=(Kind.ALARMS,)), "ep"),
        U: Case(inv(ep(), kinds=(Kind.ALARMS,)), "ep/AllTraffic",
                {"alarm_account_ids": ("999988887777",)}),
    },
    "sagemaker_endpoint_idle": {
        P: Case(_ep_cfg(metrics("ep", series("Invocations", [5.0], period=86400))), "ep"),
        F: Case(_ep_cfg(metrics("ep")), "ep"),
        N: Case(_ep_cfg(metrics("ep"), e=ep(age_days=2)), "ep"),
        U: Case(_ep_cfg(e=ep(), kinds=(Kind.ENDPOINT_METRICS,)), "ep"),
    },
    "sagemaker_endpoint_underutilized": {
        P: Case(_ep_cfg(metrics("ep", hourly("CPUUtilization", 120.0))), "ep/AllTraffic"),
        F: Case(_ep_cfg(metrics("ep", hourly("CPUUtilization", 4.0))), "ep/AllTraffic"),
        N: Case(_ep_cfg(metrics("ep"), c=serverless_cfg()), "ep/AllTraffic"),
        U: Case(_ep_cfg(metrics("ep", hourly("CPUUtilization", 4.0)),
                        c=cfg(instance="ml.inf2.xlarge")), "ep/AllTraffic"),
    },
    "sagemaker_endpoint_serving_unapproved_model_package": {
        P: Case(_ep_cfg(model(package=REGISTERED), package("churn", 2, "Approved"),
                        kinds=(Kind.INFERENCE_COMPONENTS,)), "ep"),
        F: Case(_ep_cfg(model(package=REGISTERED), package("churn", 2, "Rejected"),
                        kinds=(Kind.INFERENCE_COMPONENTS,)), "ep"),
        N: Case(_ep_cfg(model(), kinds=(Kind.INFERENCE_COMPONENTS, Kind.MODEL_PACKAGES)), "ep"),
        U: Case(_ep_cfg(model(package=package_arn("churn", 2, "999988887777")),
                        kinds=(Kind.INFERENCE_COMPONENTS, Kind.MODEL_PACKAGES)), "ep"),
    },
    "sagemaker_model_network_isolation_disabled": {
        P: Case(inv(model()), "m"),
        F: Case(inv(model(EnableNetworkIsolation=False)), "m"),
        N: "every model is judged: isolation applies to any container",
        U: Case(inv(model(EnableNetworkIsolation=DROP)), "m"),
    },
    "sagemaker_model_not_in_vpc": {
        P: Case(inv(model()), "m"),
        F: Case(inv(model(VpcConfig=DROP)), "m"),
        N: "every model is judged: a model without VpcConfig is the finding",
        U: Case(inv(undescribed(Kind.MODELS, "m")), "m"),
    },
    "sagemaker_model_image_not_private_registry": {
        P: Case(inv(model()), "m"),
        F: Case(inv(model(image="docker.io/library/python:3.11")), "m"),
        N: "every model is judged: every container pulls an image from some registry",
        U: Case(inv(model(PrimaryContainer={"ModelPackageName": REGISTERED})), "m"),
    },
    "sagemaker_model_registry_not_used": {
        P: Case(inv(ep(), res(Kind.MODEL_PACKAGE_GROUPS, "churn",
                              ModelPackageGroupName="churn")), "region"),
        F: Case(inv(ep(), kinds=(Kind.MODEL_PACKAGE_GROUPS,)), "region"),
        N: Case(inv(kinds=(Kind.ENDPOINTS, Kind.MODEL_PACKAGE_GROUPS)), "region"),
        U: Case(gapped(ep(), missing=Kind.MODEL_PACKAGE_GROUPS), "region"),
    },
}

MONITOR_KINDS = (Kind.ENDPOINTS,)
MONITOR: dict[str, Contract] = {
    "sagemaker_endpoint_no_model_monitor": {
        P: Case(inv(ep(), schedule()), "ep"),
        F: Case(inv(ep(), kinds=(Kind.MONITORING_SCHEDULES,)), "ep"),
        N: Case(inv(ep(status="Creating"), kinds=(Kind.MONITORING_SCHEDULES,)), "ep"),
        U: Case(inv(ep(CreationTime=DROP), kinds=(Kind.MONITORING_SCHEDULES,)), "ep"),
    },
    "sagemaker_endpoint_monitor_without_data_capture": {
        P: Case(inv(schedule(), ep(DataCaptureConfig=capture())), "dq"),
        F: Case(inv(schedule(), ep()), "dq"),
        N: Case(inv(schedule(status="Stopped"), ep()), "dq"),
        U: Case(inv(schedule(endpoint=None, definition=job(MonitoringInputs=[])), ep()), "dq"),
    },
    "model_monitor_schedule_not_active": {
        P: Case(inv(schedule(), ep()), "dq"),
        F: Case(inv(schedule(status="Failed"), ep()), "dq"),
        N: Case(inv(schedule(status="Stopped"), kinds=MONITOR_KINDS), "dq"),
        U: Case(inv(schedule(status=DROP), ep()), "dq"),  # type: ignore[arg-type]
    },
    "model_monitor_schedule_orphaned": {
        P: Case(inv(schedule(), ep()), "dq"),
        F: Case(inv(schedule(), kinds=MONITOR_KINDS), "dq"),
        N: Case(inv(schedule(status="Stopped"), ep()), "dq"),
        U: Case(inv(schedule(endpoint=None, definition=job(MonitoringInputs=[])), ep()), "dq"),
    },
    "model_monitor_last_execution_failed": {
        P: Case(inv(schedule(last="Completed")), "dq"),
        F: Case(inv(schedule(last="Failed")), "dq"),
        N: Case(inv(schedule()), "dq"),
        U: Case(inv(schedule(last="InProgress")), "dq"),
    },
    "model_monitor_violations_detected": {
        P: Case(inv(schedule(last="Completed")), "dq"),
        F: Case(inv(schedule(last="CompletedWithViolations")), "dq"),
        N: Case(inv(schedule()), "dq"),
        U: Case(inv(schedule(last="InProgress")), "dq"),
    },
    "model_monitor_execution_stale": {
        P: Case(inv(schedule(last="Completed")), "dq"),
        F: Case(inv(schedule(last="Completed", last_age=timedelta(days=1))), "dq"),
        N: Case(inv(schedule(status="Stopped")), "dq"),
        U: Case(inv(schedule(expression="rate(1 hour)")), "dq"),
    },
    "model_monitor_no_baseline": {
        P: Case(inv(schedule()), "dq"),
        F: Case(inv(schedule(definition=job(BaselineConfig=DROP))), "dq"),
        N: "every schedule is judged: any monitor needs a baseline to compare against",
        U: Case(inv(schedule(MonitoringScheduleConfig={"MonitoringType": "DataQuality"})), "dq"),
    },
    "model_monitor_network_isolation_disabled": {
        P: Case(inv(schedule()), "dq"),
        F: Case(inv(schedule(definition=job(NetworkConfig=DROP))), "dq"),
        N: "every schedule is judged: isolation applies to any monitoring job",
        U: Case(inv(schedule(MonitoringScheduleConfig={"MonitoringType": "DataQuality"})), "dq"),
    },
    "model_monitor_intercontainer_encryption_disabled": {
        P: Case(inv(schedule()), "dq"),
        F: Case(inv(schedule(definition=job(NetworkConfig={}, MonitoringResources={
            "ClusterConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.xlarge"}}))), "dq"),
        N: "every schedule is judged: a single-instance cluster fails at low severity",
        U: Case(inv(schedule(MonitoringScheduleConfig={"MonitoringType": "DataQuality"})), "dq"),
    },
    "model_monitor_encryption_at_rest_missing": {
        P: Case(inv(schedule()), "dq"),
        F: Case(inv(schedule(definition=job(MonitoringOutputConfig={}))), "dq"),
        N: "every schedule is judged: reports and volumes always exist",
        U: Case(inv(schedule(definition=job(MonitoringResources={
            "ClusterConfig": {"InstanceCount": 1}}))), "dq"),
    },
    "model_monitor_metrics_not_alarmed": {
        P: Case(inv(schedule(), alarm("drift", "feature_baseline_drift_age",
                                      "/aws/sagemaker/Endpoints/data-metrics",
                                      {"Endpoint": "ep", "MonitoringSchedule": "dq"})), "dq"),
        F: Case(inv(schedule(), kinds=(Kind.ALARMS,)), "dq"),
        N: Case(inv(schedule(status="Stopped"), kinds=(Kind.ALARMS,)), "dq"),
        U: Case(inv(schedule(), kinds=(Kind.ALARMS,)), "dq",
                {"alarm_account_ids": ("999988887777",)}),
    },
}
