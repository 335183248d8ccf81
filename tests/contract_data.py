"""Contract cases for the training, notebook, Glue, CloudWatch alarm, instance-type and tag
checks."""

from __future__ import annotations

from datetime import timedelta

from agent.domain import Inventory, Kind, Resource, Status
from tests.contract_build import (
    DROP,
    KEY,
    Case,
    Contract,
    alarm,
    cfg,
    composite,
    ep,
    gapped,
    glue_job,
    glue_runs,
    lifecycle,
    notebook,
    schedule,
    security_configuration,
    serverless_cfg,
    tags_of,
    training,
    undescribed,
)
from tests.factories import NOW, inv, res

P, F, N, U = Status.PASS, Status.FAIL, Status.NOT_APPLICABLE, Status.UNKNOWN


def _family(*statuses: str) -> Inventory:
    return inv(*(training(f"churn-train-{i:04d}", TrainingJobStatus=s)
                 for i, s in enumerate(statuses)))


TRAINING: dict[str, Contract] = {
    "sagemaker_training_network_isolation_disabled": {
        P: Case(inv(training()), "train"),
        F: Case(inv(training(EnableNetworkIsolation=False)), "train"),
        N: "every training job is judged: isolation applies to any job",
        U: Case(inv(training(EnableNetworkIsolation=DROP)), "train"),
    },
    "sagemaker_training_not_in_vpc": {
        P: Case(inv(training()), "train"),
        F: Case(inv(training(VpcConfig=DROP)), "train"),
        N: "every training job is judged: a job without VpcConfig is the finding",
        U: Case(inv(undescribed(Kind.TRAINING_JOBS, "train")), "train"),
    },
    "sagemaker_training_intercontainer_encryption_disabled": {
        P: Case(inv(training()), "train"),
        F: Case(inv(training(EnableInterContainerTrafficEncryption=False, ResourceConfig={
            "InstanceType": "ml.m5.xlarge", "InstanceCount": 2})), "train"),
        N: Case(inv(training(EnableInterContainerTrafficEncryption=False)), "train"),
        U: Case(inv(training(EnableInterContainerTrafficEncryption=False, ResourceConfig={
            "InstanceType": "ml.m5.xlarge"})), "train"),
    },
    "sagemaker_training_encryption_at_rest_missing": {
        P: Case(inv(training()), "train"),
        F: Case(inv(training(OutputDataConfig={"S3OutputPath": "s3://b/out"})), "train"),
        N: Case(inv(training(
            OutputDataConfig={"S3OutputPath": "s3://fast--usw2-az1--x-s3/out"},
            ResourceConfig={"InstanceType": "ml.g5.xlarge", "InstanceCount": 1})), "train"),
        U: Case(inv(training(OutputDataConfig=DROP)), "train"),
    },
    "sagemaker_training_no_managed_spot": {
        P: Case(inv(training()), "train"),
        F: Case(inv(training(EnableManagedSpotTraining=False)), "train"),
        N: Case(inv(training(EnableManagedSpotTraining=False, TrainingTimeInSeconds=60)),
                "train"),
        U: Case(inv(training(EnableManagedSpotTraining=DROP)), "train"),
    },
    "sagemaker_training_spot_without_checkpointing": {
        P: Case(inv(training()), "train"),
        F: Case(inv(training(CheckpointConfig=DROP)), "train"),
        N: Case(inv(training(EnableManagedSpotTraining=False)), "train"),
        U: Case(inv(training(EnableManagedSpotTraining=DROP)), "train"),
    },
    "sagemaker_training_debug_profiling_disabled": {
        P: Case(inv(training(ResourceConfig={"InstanceType": "ml.g5.xlarge",
                                             "InstanceCount": 1})), "train"),
        F: Case(inv(training(ProfilingStatus="Disabled", ResourceConfig={
            "InstanceType": "ml.g5.xlarge", "InstanceCount": 1})), "train"),
        N: Case(inv(training()), "train"),
        U: Case(inv(training(ProfilingStatus=DROP, ResourceConfig={
            "InstanceType": "ml.g5.xlarge", "InstanceCount": 1})), "train"),
    },
    "sagemaker_training_no_lineage_tracking": {
        P: Case(inv(training()), "train"),
        F: Case(inv(training(ExperimentConfig=DROP)), "train"),
        N: "every training job is judged: tracking is opt-in for any job",
        U: Case(inv(undescribed(Kind.TRAINING_JOBS, "train")), "train"),
    },
    "sagemaker_training_warm_pool_waste": {
        P: Case(inv(training(WarmPoolStatus={"Status": "Reused"})), "train"),
        F: Case(inv(training(WarmPoolStatus={"Status": "Available"})), "train"),
        N: Case(inv(training()), "train"),
        U: Case(inv(training(ResourceConfig={"InstanceType": "ml.m5.xlarge",
                                             "InstanceCount": 1,
                                             "KeepAlivePeriodInSeconds": 600})), "train"),
    },
    "sagemaker_training_high_failure_rate": {
        P: Case(_family(*["Completed"] * 5), "region/churn-train"),
        F: Case(_family(*["Failed"] * 3, *["Completed"] * 2), "region/churn-train"),
        N: Case(_family("Completed", "Failed"), "region/churn-train"),
        U: Case(gapped(training(), missing=Kind.TRAINING_JOBS), "region"),
    },
    "ml_previous_generation_instance_types_training": {
        P: Case(inv(training()), "train"),
        F: Case(inv(training(ResourceConfig={"InstanceType": "ml.p3.2xlarge",
                                             "InstanceCount": 1})), "train"),
        N: "every training job is judged: each runs on some instance type",
        U: Case(inv(training(ResourceConfig={"InstanceCount": 1})), "train"),
    },
}

_NB = (Kind.NOTEBOOK_LIFECYCLE_CONFIGS,)
NOTEBOOKS: dict[str, Contract] = {
    "sagemaker_notebook_direct_internet_access": {
        P: Case(inv(notebook()), "nb"),
        F: Case(inv(notebook(DirectInternetAccess="Enabled")), "nb"),
        N: Case(inv(notebook(NotebookInstanceStatus="Failed")), "nb"),
        U: Case(inv(notebook(DirectInternetAccess="Sometimes")), "nb"),
    },
    "sagemaker_notebook_root_access_enabled": {
        P: Case(inv(notebook()), "nb"),
        F: Case(inv(notebook(RootAccess=DROP)), "nb"),
        N: Case(inv(notebook(NotebookInstanceStatus="Deleting")), "nb"),
        U: Case(inv(notebook(RootAccess="Sometimes")), "nb"),
    },
    "sagemaker_notebook_not_in_vpc": {
        P: Case(inv(notebook()), "nb"),
        F: Case(inv(notebook(SubnetId=DROP)), "nb"),
        N: Case(inv(notebook(NotebookInstanceStatus="Failed")), "nb"),
        U: Case(inv(undescribed(Kind.NOTEBOOK_INSTANCES, "nb")), "nb"),
    },
    "sagemaker_notebook_kms_missing": {
        P: Case(inv(notebook()), "nb"),
        F: Case(inv(notebook(KmsKeyId=DROP)), "nb"),
        N: Case(inv(notebook(NotebookInstanceStatus="Failed")), "nb"),
        U: Case(inv(undescribed(Kind.NOTEBOOK_INSTANCES, "nb")), "nb"),
    },
    "sagemaker_notebook_platform_unsupported": {
        P: Case(inv(notebook()), "nb"),
        F: Case(inv(notebook(PlatformIdentifier="notebook-al1-v1")), "nb"),
        N: Case(inv(notebook(NotebookInstanceStatus="Failed")), "nb"),
        U: Case(inv(notebook(PlatformIdentifier=DROP)), "nb"),
    },
    "sagemaker_notebook_imdsv1_allowed": {
        P: Case(inv(notebook()), "nb"),
        F: Case(inv(notebook(InstanceMetadataServiceConfiguration=DROP)), "nb"),
        N: Case(inv(notebook(NotebookInstanceStatus="Failed")), "nb"),
        U: Case(inv(undescribed(Kind.NOTEBOOK_INSTANCES, "nb")), "nb"),
    },
    "sagemaker_notebook_idle_no_autostop": {
        P: Case(inv(notebook(NotebookInstanceLifecycleConfigName="lc"), lifecycle()), "nb"),
        F: Case(inv(notebook(LastModifiedTime=NOW - timedelta(days=5)), kinds=_NB), "nb"),
        N: Case(inv(notebook(NotebookInstanceStatus="Pending"), kinds=_NB), "nb"),
        U: Case(inv(notebook(NotebookInstanceLifecycleConfigName="lc"),
                    lifecycle(autostop=None)), "nb"),
    },
    "ml_previous_generation_instance_types_notebook": {
        P: Case(inv(notebook()), "nb"),
        F: Case(inv(notebook(InstanceType="ml.t2.medium")), "nb"),
        N: Case(inv(notebook(NotebookInstanceStatus="Failed")), "nb"),
        U: Case(inv(notebook(InstanceType=DROP)), "nb"),
    },
}

_SC = (Kind.GLUE_SECURITY_CONFIGURATIONS,)
GLUE: dict[str, Contract] = {
    "glue_job_no_security_configuration": {
        P: Case(inv(glue_job(), security_configuration()), "j"),
        F: Case(inv(glue_job(SecurityConfiguration=DROP), kinds=_SC), "j"),
        N: "every Glue job is judged: any job type can take a security configuration",
        U: Case(gapped(glue_job(), missing=Kind.GLUE_SECURITY_CONFIGURATIONS), "j"),
    },
    "glue_security_configuration_weak": {
        P: Case(inv(security_configuration(), glue_job()), "sc"),
        F: Case(inv(security_configuration(s3="DISABLED"), glue_job()), "sc"),
        N: "every security configuration is judged (unused ones fail at info)",
        U: Case(inv(res(Kind.GLUE_SECURITY_CONFIGURATIONS, "sc", Name="sc",
                        EncryptionConfiguration={}), glue_job()), "sc"),
    },
    "glue_job_continuous_logging_disabled": {
        P: Case(inv(glue_job()), "j"),
        F: Case(inv(glue_job(DefaultArguments={})), "j"),
        N: Case(inv(glue_job(kind="pythonshell")), "j"),
        U: Case(inv(glue_job(kind="mystery")), "j"),
    },
    "glue_job_metrics_disabled": {
        P: Case(inv(glue_job()), "j"),
        F: Case(inv(glue_job(DefaultArguments={})), "j"),
        N: Case(inv(glue_job(kind="pythonshell")), "j"),
        U: Case(inv(glue_job(kind="mystery")), "j"),
    },
    "glue_job_bookmarks_disabled": {
        P: Case(inv(glue_job()), "j"),
        F: Case(inv(glue_job(DefaultArguments={})), "j"),
        N: Case(inv(glue_job(kind="gluestreaming")), "j"),
        U: Case(inv(glue_job(kind="mystery")), "j"),
    },
    "glue_job_no_retries": {
        P: Case(inv(glue_job()), "j"),
        F: Case(inv(glue_job(MaxRetries=0, kind="pythonshell")), "j"),
        N: Case(inv(glue_job(kind="gluestreaming")), "j"),
        U: Case(inv(glue_job(MaxRetries=DROP)), "j"),
    },
    "glue_job_timeout_unset_or_excessive": {
        P: Case(inv(glue_job()), "j"),
        F: Case(inv(glue_job(Timeout=DROP)), "j"),
        N: Case(inv(glue_job(kind="gluestreaming")), "j"),
        U: Case(inv(glue_job(kind="mystery")), "j"),
    },
    "glue_job_unsupported_version": {
        P: Case(inv(glue_job()), "j"),
        F: Case(inv(glue_job(GlueVersion="2.0")), "j"),
        N: Case(inv(glue_job(kind="glueray")), "j"),
        U: Case(inv(glue_job(kind="pythonshell", Command={"Name": "pythonshell"})), "j"),
    },
    "glue_job_last_run_failed": {
        P: Case(inv(glue_job(), glue_runs("j", "SUCCEEDED")), "j"),
        F: Case(inv(glue_job(), glue_runs("j", "FAILED", "SUCCEEDED")), "j"),
        N: Case(inv(glue_job(), glue_runs("j")), "j"),
        U: Case(inv(glue_job(), kinds=(Kind.GLUE_JOB_RUNS,)), "j"),
    },
    "glue_job_secrets_in_arguments": {
        P: Case(inv(glue_job()), "j"),
        F: Case(inv(glue_job(DefaultArguments={"--db_password": "hunter2-not-a-secret"})), "j"),
        N: "every Glue job is judged: any job can carry arguments",
        U: Case(gapped(glue_job(), missing=Kind.GLUE_JOBS), "j"),
    },
    "glue_data_catalog_encryption_disabled": {
        P: Case(inv(res(Kind.GLUE_CATALOG_ENCRYPTION, "catalog", EncryptionAtRest={
            "CatalogEncryptionMode": "SSE-KMS", "SseAwsKmsKeyId": KEY},
            ConnectionPasswordEncryption={"ReturnConnectionPasswordEncrypted": True})),
            "catalog"),
        F: Case(inv(res(Kind.GLUE_CATALOG_ENCRYPTION, "catalog", EncryptionAtRest={
            "CatalogEncryptionMode": "DISABLED"},
            ConnectionPasswordEncryption={"ReturnConnectionPasswordEncrypted": False})),
            "catalog"),
        N: "the region's Data Catalog always exists and is always judged",
        U: Case(inv(res(Kind.GLUE_CATALOG_ENCRYPTION, "catalog")), "catalog"),
    },
    "glue_job_cost_controls_missing": {
        P: Case(inv(glue_job()), "j"),
        F: Case(inv(glue_job(NumberOfWorkers=20)), "j"),
        N: Case(inv(glue_job(kind="pythonshell")), "j"),
        U: Case(inv(glue_job(NumberOfWorkers=DROP)), "j"),
    },
}

_CW = (Kind.ENDPOINTS, Kind.SCALING_POLICIES, Kind.MONITORING_SCHEDULES,
       Kind.INFERENCE_COMPONENTS, Kind.GLUE_JOBS)
ALARMS: dict[str, Contract] = {
    "cloudwatch_alarm_no_actions": {
        P: Case(inv(alarm("a"), kinds=_CW), "a"),
        F: Case(inv(alarm("a", actions=False), kinds=_CW), "a"),
        N: "every alarm is judged: any alarm needs someone to act on it",
        U: Case(gapped(alarm("a"), missing=Kind.SCALING_POLICIES, kinds=_CW), "a"),
    },
    "cloudwatch_alarm_actions_disabled": {
        P: Case(inv(alarm("a")), "a"),
        F: Case(inv(alarm("a", ActionsEnabled=False)), "a"),
        N: "every alarm is judged: any alarm can be muted",
        U: Case(inv(alarm("a", ActionsEnabled=DROP)), "a"),
    },
    "cloudwatch_alarm_stuck_insufficient_data": {
        P: Case(inv(alarm("a")), "a"),
        F: Case(inv(alarm("a", StateValue="INSUFFICIENT_DATA")), "a"),
        N: Case(inv(composite("c", 'ALARM("a")')), "c"),
        U: Case(inv(alarm("a", StateValue=DROP)), "a"),
    },
    "cloudwatch_alarm_orphaned_ml_target": {
        P: Case(inv(alarm("a"), ep(), kinds=_CW), "a"),
        F: Case(inv(alarm("a"), kinds=_CW), "a"),
        N: Case(inv(composite("c", 'ALARM("a")'), kinds=_CW), "c"),
        U: Case(inv(alarm("a", MetricName=DROP, Namespace=DROP, Dimensions=DROP, Metrics=[{
            "Id": "m1", "AccountId": "999988887777", "MetricStat": {"Metric": {
                "Namespace": "AWS/SageMaker", "MetricName": "Invocations",
                "Dimensions": [{"Name": "EndpointName", "Value": "x"}]}}}]), kinds=_CW), "a"),
    },
}

INSTANCES: dict[str, Contract] = {
    "ml_previous_generation_instance_types": {
        P: Case(inv(cfg()), "cfg/AllTraffic"),
        F: Case(inv(cfg(instance="ml.m4.xlarge")), "cfg/AllTraffic"),
        N: Case(inv(serverless_cfg()), "cfg/AllTraffic"),
        U: Case(inv(cfg(variants=[{"VariantName": "AllTraffic", "ModelName": "m"}])),
                "cfg/AllTraffic"),
    },
    "ml_previous_generation_instance_types_monitoring": {
        P: Case(inv(schedule()), "dq"),
        F: Case(inv(schedule(definition={"MonitoringResources": {"ClusterConfig": {
            "InstanceCount": 1, "InstanceType": "ml.m4.xlarge"}}})), "dq"),
        N: "every schedule is judged: each runs on some instance type",
        U: Case(inv(schedule(definition={})), "dq"),
    },
}


def _tags(subject: Resource, leaving: Resource | None) -> Contract:
    """X-02 for one kind: tagged PASS, untagged FAIL, unreadable tags UNKNOWN."""
    contract: Contract = {
        P: Case(inv(subject, tags_of(subject, project="churn")), subject.name),
        F: Case(inv(subject, tags_of(subject, **{"aws:cloudformation:stack-name": "s"})),
                subject.name),
        U: Case(inv(subject, tags_of(subject, incomplete="sagemaker:ListTags throttled")),
                subject.name),
        N: Case(inv(leaving, kinds=(Kind.TAGS,)), leaving.name) if leaving else
        "no state of this resource kind puts it out of scope",
    }
    return contract


TAGS: dict[str, Contract] = {
    "ml_cost_allocation_tags_missing": _tags(ep(), ep("gone", status="Deleting")),
    "ml_cost_allocation_tags_missing_endpoint_config": _tags(cfg(), None),
    "ml_cost_allocation_tags_missing_model": _tags(
        res(Kind.MODELS, "m", ModelName="m"), None),
    "ml_cost_allocation_tags_missing_training": _tags(
        training(), training("old", TrainingJobStatus="Deleting")),
    "ml_cost_allocation_tags_missing_notebook": _tags(
        notebook(), notebook("gone", NotebookInstanceStatus="Deleting")),
    "ml_cost_allocation_tags_missing_monitoring": _tags(schedule(), None),
    "ml_cost_allocation_tags_missing_glue": _tags(glue_job(), None),
}
