"""The ML Lens best practices: current IDs, legacy IDs, phase, title, risk and WA Tool choice.

Both ID schemes are kept because the Well-Architected Tool and most third-party tools still use
the legacy one. Titles are shortened to the practice name (legacy wording is not kept).
WA choice IDs come from a snapshot of the legacy lens and must be resolved live before use.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.domain import Pillar


@dataclass(frozen=True, slots=True)
class Practice:
    id: str
    legacy_id: str
    phase: str
    title: str
    risk: str
    wa_choice: str
    pillar: Pillar

    @property
    def url(self) -> str:
        return f"https://docs.aws.amazon.com/wellarchitected/latest/machine-learning-lens/{self.id.lower()}.html"


_ROWS: tuple[tuple[str, str, str, str, str, str], ...] = (
    ('MLOPS01-BP01', 'MLOE-01', 'Business goal identification', 'Develop the right skills with accountability and empowerment', 'High', 'ops1_1'),
    ('MLOPS01-BP02', 'MLOE-02', 'Business goal identification', 'Discuss and agree on the level of model explainability', 'High', 'ops1_3'),
    ('MLOPS01-BP03', 'MLOE-03', 'Business goal identification', 'Monitor model adherence to business requirements', 'High', 'ops2_6'),
    ('MLOPS02-BP01', 'MLOE-04', 'ML problem framing', 'Establish ML roles and responsibilities', 'High', 'ops1_2'),
    ('MLOPS02-BP02', 'MLOE-05', 'ML problem framing', 'Prepare an ML profile template', 'Medium', 'ops4_2'),
    ('MLOPS02-BP03', 'MLOE-06', 'ML problem framing', 'Establish model improvement strategies', 'Medium', 'ops2_1'),
    ('MLOPS02-BP04', 'MLOE-07', 'ML problem framing', 'Establish a lineage tracker system', 'High', 'ops2_3'),
    ('MLOPS02-BP05', 'MLOE-08', 'ML problem framing', 'Establish feedback loops across ML lifecycle phases', 'High', 'ops2_2'),
    ('MLOPS02-BP06', 'MLOE-09', 'ML problem framing', 'Review fairness and explainability', 'High', 'ops4_4'),
    ('MLOPS03-BP01', 'MLOE-10', 'Data processing', 'Profile data to improve quality', 'High', 'ops2_5'),
    ('MLOPS03-BP02', 'MLOE-11', 'Data processing', 'Create tracking and version control mechanisms', 'High', 'ops2_4'),
    ('MLOPS04-BP01', 'MLOE-12', 'Model development', 'Automate operations through MLOps and CI/CD', 'High', 'ops3_1'),
    ('MLOPS04-BP02', 'MLOE-13', 'Model development', 'Establish reliable packaging patterns to access approved public libraries', 'Medium', 'ops3_3'),
    ('MLOPS05-BP01', 'MLOE-14', 'Deployment', 'Establish deployment environment metrics', 'High', 'ops4_1'),
    ('MLOPS06-BP01', 'MLOE-16', 'Monitoring', 'Synchronize architecture and configuration, and check for skew across environments', 'High', 'ops3_2'),
    ('MLOPS06-BP02', 'MLOE-15', 'Monitoring', 'Enable model observability and tracking', 'High', 'ops4_3'),
    ('MLSEC01-BP01', 'MLSEC-01', 'Business goal identification', 'Validate ML data permissions, privacy, software, and license terms', 'High', 'SEC1_1'),
    ('MLSEC02-BP01', 'MLSEC-02', 'ML problem framing', 'Design data encryption and obfuscation', 'High', 'SEC3_5'),
    ('MLSEC03-BP01', 'MLSEC-03', 'Data processing', 'Provide least privilege access', 'High', 'SEC2_1'),
    ('MLSEC03-BP02', 'MLSEC-04', 'Data processing', 'Secure data and modeling environment', 'High', 'SEC1_2'),
    ('MLSEC03-BP03', 'MLSEC-05', 'Data processing', 'Protect sensitive data privacy', 'High', 'SEC2_3'),
    ('MLSEC03-BP04', 'MLSEC-06', 'Data processing', 'Enforce data lineage', 'High', 'SEC3_1'),
    ('MLSEC03-BP05', 'MLSEC-07', 'Data processing', 'Keep only relevant data', 'High', 'SEC3_2'),
    ('MLSEC04-BP01', 'MLSEC-08', 'Model development', 'Secure governed ML environment', 'High', 'SEC1_3'),
    ('MLSEC04-BP02', 'MLSEC-09', 'Model development', 'Secure inter-node cluster communications', 'High', 'SEC3_3'),
    ('MLSEC04-BP03', 'MLSEC-10', 'Model development', 'Protect against data poisoning threats', 'High', 'SEC3_4'),
    ('MLSEC05-BP01', 'MLSEC-11', 'Deployment', 'Protect against adversarial and malicious activities', 'High', 'SEC4_2'),
    ('MLSEC06-BP01', 'MLSEC-12', 'Monitoring', 'Restrict access to intended legitimate consumers', 'High', 'SEC2_2'),
    ('MLSEC06-BP02', 'MLSEC-13', 'Monitoring', 'Monitor human interactions with data for anomalous activity', 'High', 'SEC4_1'),
    ('MLREL01-BP01', 'MLREL-01', 'ML problem framing', 'Use APIs to abstract change from model consuming applications', 'High', 'REL1_2'),
    ('MLREL01-BP02', 'MLREL-02', 'ML problem framing', 'Adopt a machine learning microservice strategy', 'Medium', 'REL1_1'),
    ('MLREL02-BP01', 'MLREL-03', 'Data processing', 'Use a data catalog', 'Medium', 'REL2_2'),
    ('MLREL02-BP02', 'MLREL-04', 'Data processing', 'Use a data pipeline', 'High', 'REL2_3'),
    ('MLREL02-BP03', 'MLREL-05', 'Data processing', 'Automate managing data changes', 'High', 'REL2_1'),
    ('MLREL03-BP01', 'MLREL-06', 'Model development', 'Enable CI/CD/CT automation with traceability', 'High', 'REL3_2'),
    ('MLREL03-BP02', 'MLREL-07', 'Model development', 'Verify feature consistency across training and inference', 'High', 'REL2_5'),
    ('MLREL03-BP03', 'MLREL-08', 'Model development', 'Validate models with relevant data', 'High', 'REL2_6'),
    ('MLREL03-BP04', 'MLREL-09', 'Model development', 'Establish data bias detection and mitigation', 'High', 'REL2_7'),
    ('MLREL04-BP01', 'MLREL-10', 'Deployment', 'Automate endpoint changes through a pipeline', 'High', 'REL2_4'),
    ('MLREL04-BP02', 'MLREL-11', 'Deployment', 'Use an appropriate deployment and testing strategy', 'High', 'REL3_1'),
    ('MLREL05-BP01', 'MLREL-12', 'Monitoring', 'Allow automatic scaling of the model endpoint', 'High', 'REL1_3'),
    ('MLREL05-BP02', 'MLREL-13', 'Monitoring', 'Create a recoverable endpoint with a managed version control strategy', 'High', 'REL3_3'),
    ('MLPERF01-BP01', 'MLPER-01', 'Business goal identification', 'Determine key performance indicators', 'High', 'PERF1_1'),
    ('MLPERF02-BP01', 'MLPER-03', 'ML problem framing', 'Define relevant evaluation metrics', 'High', 'PERF1_2'),
    ('MLPERF02-BP02', 'MLPER-02', 'ML problem framing', 'Use purpose-built AI and ML services and resources', 'Medium', 'PERF2_2'),
    ('MLPERF03-BP01', 'MLPER-04', 'Data processing', 'Use a modern data architecture', 'Medium', 'PERF2_1'),
    ('MLPERF04-BP01', 'MLPER-05', 'Model development', 'Optimize training and inference instance types', 'Medium', 'PERF2_4'),
    ('MLPERF04-BP02', 'MLPER-06', 'Model development', 'Explore alternatives for performance improvement', 'Medium', 'PERF2_5'),
    ('MLPERF04-BP03', 'MLPER-07', 'Model development', 'Establish a model performance evaluation pipeline', 'High', 'PERF3_1'),
    ('MLPERF04-BP04', 'MLPER-08', 'Model development', 'Establish feature statistics', 'High', 'PERF3_3'),
    ('MLPERF04-BP05', 'MLPER-09', 'Model development', 'Perform a performance trade-off analysis', 'High', 'PERF1_4'),
    ('MLPERF04-BP06', 'MLPER-10', 'Model development', 'Detect performance issues when using transfer learning', 'High', 'PERF3_7'),
    ('MLPERF05-BP01', 'MLPER-11', 'Deployment', 'Evaluate cloud versus edge options for machine learning deployment', 'Medium', 'PERF2_6'),
    ('MLPERF05-BP02', 'MLPER-12', 'Deployment', 'Choose an optimal deployment option in the cloud', 'Medium', 'PERF2_7'),
    ('MLPERF06-BP01', 'MLPER-18', 'Monitoring', 'Include human-in-the-loop monitoring', 'High', 'PERF3_6'),
    ('MLPERF06-BP02', 'MLPER-13', 'Monitoring', 'Evaluate model explainability', 'High', 'PERF1_3'),
    ('MLPERF06-BP03', 'MLPER-14', 'Monitoring', 'Evaluate data drift', 'High', 'PERF3_4'),
    ('MLPERF06-BP04', 'MLPER-15', 'Monitoring', 'Monitor, detect, and handle model performance degradation', 'High', 'PERF3_2'),
    ('MLPERF06-BP05', 'MLPER-16', 'Monitoring', 'Establish an automated re-training framework', 'High', 'PERF3_5'),
    ('MLPERF06-BP06', 'MLPER-17', 'Monitoring', 'Review for updated data and features for retraining', 'High', 'PERF2_3'),
    ('MLCOST01-BP01', 'MLCOST-01', 'Business goal identification', 'Define overall return on investment (ROI) and opportunity cost', 'High', 'COST1_1'),
    ('MLCOST01-BP02', 'MLCOST-02', 'Business goal identification', 'Use managed services to reduce total cost of ownership (TCO)', 'High', 'COST3_1'),
    ('MLCOST02-BP01', 'MLCOST-03', 'ML problem framing', 'Identify if machine learning is the right solution', 'High', 'COST1_2'),
    ('MLCOST02-BP02', 'MLCOST-04', 'ML problem framing', 'Perform a tradeoff analysis between custom and pre-trained models', 'Medium', 'COST2_3'),
    ('MLCOST03-BP01', 'MLCOST-05', 'Data processing', 'Use managed data labeling', 'Medium', 'COST2_4'),
    ('MLCOST03-BP02', 'MLCOST-06', 'Data processing', 'Use no-code or low-code and code generation tools for interactive analysis', 'Medium', 'COST2_5'),
    ('MLCOST03-BP03', 'MLCOST-07', 'Data processing', 'Use managed data processing capabilities', 'Medium', 'COST3_5'),
    ('MLCOST03-BP04', 'MLCOST-08', 'Data processing', 'Enable feature reusability', 'Medium', 'COST3_3'),
    ('MLCOST04-BP01', 'MLCOST-09', 'Model development', 'Select optimal computing instance size', 'Medium', 'COST2_8'),
    ('MLCOST04-BP02', 'MLCOST-10', 'Model development', 'Use managed build environments', 'Medium', 'COST4_6'),
    ('MLCOST04-BP03', 'MLCOST-11', 'Model development', 'Select local training for small scale experiments', 'Medium', 'COST4_1'),
    ('MLCOST04-BP04', 'MLCOST-12', 'Model development', 'Select an optimal ML framework', 'Medium', 'COST2_1'),
    ('MLCOST04-BP05', 'MLCOST-13', 'Model development', 'Use automated machine learning', 'Medium', 'COST2_6'),
    ('MLCOST04-BP06', 'MLCOST-14', 'Model development', 'Use managed training capabilities', 'High', 'COST4_5'),
    ('MLCOST04-BP07', 'MLCOST-15', 'Model development', 'Use distributed training', 'Medium', 'COST2_9'),
    ('MLCOST04-BP08', 'MLCOST-16', 'Model development', 'Stop resources when not in use', 'Medium', 'COST3_2'),
    ('MLCOST04-BP09', 'MLCOST-17', 'Model development', 'Start training with small datasets', 'Medium', 'COST4_2'),
    ('MLCOST04-BP10', 'MLCOST-18', 'Model development', 'Use warm start and checkpointing hyperparameter tuning', 'Medium', 'COST4_4'),
    ('MLCOST04-BP11', 'MLCOST-19', 'Model development', 'Use hyperparameter optimization technologies', 'Medium', 'COST4_3'),
    ('MLCOST04-BP12', 'MLCOST-20', 'Model development', 'Set up a budget and use resource tagging to track costs', 'Medium', 'COST3_6'),
    ('MLCOST04-BP13', 'MLCOST-21', 'Model development', 'Enable data and compute proximity', 'High', 'COST2_7'),
    ('MLCOST04-BP14', 'MLCOST-22', 'Model development', 'Select optimal algorithms', 'High', 'COST2_2'),
    ('MLCOST05-BP01', 'MLCOST-24', 'Deployment', 'Use an appropriate deployment option', 'Medium', 'COST2_10'),
    ('MLCOST05-BP02', 'MLCOST-25', 'Deployment', 'Explore cost effective hardware options', 'High', 'COST2_11'),
    ('MLCOST05-BP03', 'MLCOST-26', 'Deployment', 'Right-size the model hosting instance fleet', 'High', 'COST2_12'),
    ('MLCOST06-BP01', 'MLCOST-27', 'Monitoring', 'Monitor usage and cost by ML activity', 'Medium', 'COST1_3'),
    ('MLCOST06-BP02', 'MLCOST-28', 'Monitoring', 'Monitor return on investment for ML models', 'High', 'COST1_4'),
    ('MLCOST06-BP03', 'MLCOST-29', 'Monitoring', 'Monitor endpoint usage and right-size the instance fleet', 'High', 'COST3_7'),
    ('MLCOST06-BP04', 'MLCOST-23', 'Monitoring', 'Enable debugging and logging', 'Medium', 'COST3_4'),
    ('MLSUS01-BP01', 'MLSUS-01', 'Business goal identification', 'Define the overall environmental impact or benefit', 'High', 'SUS1_1'),
    ('MLSUS02-BP01', 'MLSUS-02', 'ML problem framing', 'Consider AI services and pre-trained models', 'Medium', 'SUS1_2'),
    ('MLSUS02-BP02', 'MLSUS-03', 'ML problem framing', 'Select sustainable Regions', 'Medium', 'SUS1_3'),
    ('MLSUS03-BP01', 'MLSUS-04', 'Data processing', 'Minimize idle resources', 'Medium', 'SUS2_2'),
    ('MLSUS03-BP02', 'MLSUS-05', 'Data processing', 'Implement data lifecycle policies aligned with your sustainability goals', 'Medium', 'SUS1_4'),
    ('MLSUS03-BP03', 'MLSUS-06', 'Data processing', 'Adopt sustainable storage options', 'Medium', 'SUS2_3'),
    ('MLSUS04-BP01', 'MLSUS-07', 'Model development', 'Define sustainable performance criteria', 'Medium', 'SUS1_5'),
    ('MLSUS04-BP02', 'MLSUS-08', 'Model development', 'Select energy-efficient algorithms', 'Medium', 'SUS2_1'),
    ('MLSUS04-BP03', 'MLSUS-09', 'Model development', 'Archive or delete unnecessary training artifacts', 'Medium', 'SUS2_4'),
    ('MLSUS04-BP04', 'MLSUS-10', 'Model development', 'Use efficient model tuning methods', 'Medium', 'SUS2_5'),
    ('MLSUS05-BP01', 'MLSUS-11', 'Deployment', 'Align SLAs with sustainability goals', 'Medium', 'SUS1_6'),
    ('MLSUS05-BP02', 'MLSUS-12', 'Deployment', 'Use efficient silicon', 'Medium', 'SUS2_6'),
    ('MLSUS05-BP03', 'MLSUS-13', 'Deployment', 'Optimize models for inference', 'Medium', 'SUS2_7'),
    ('MLSUS05-BP04', 'MLSUS-14', 'Deployment', 'Deploy multiple models behind a single endpoint', 'Medium', 'SUS2_8'),
    ('MLSUS06-BP01', 'MLSUS-15', 'Monitoring', 'Measure material efficiency', 'Medium', 'SUS1_7'),
    ('MLSUS06-BP02', 'MLSUS-16', 'Monitoring', 'Retrain only when necessary', 'Medium', 'SUS2_9'),
)

_PILLAR_BY_PREFIX = {
    'MLOPS': Pillar.OPERATIONAL_EXCELLENCE,
    'MLSEC': Pillar.SECURITY,
    'MLREL': Pillar.RELIABILITY,
    'MLPERF': Pillar.PERFORMANCE_EFFICIENCY,
    'MLCOST': Pillar.COST_OPTIMIZATION,
    'MLSUS': Pillar.SUSTAINABILITY,
}


def _pillar(practice_id: str) -> Pillar:
    return _PILLAR_BY_PREFIX[practice_id.split("-")[0].rstrip("0123456789")]


PRACTICES: dict[str, Practice] = {
    row[0]: Practice(*row, pillar=_pillar(row[0])) for row in _ROWS
}
LEGACY_TO_CURRENT: dict[str, str] = {p.legacy_id: p.id for p in PRACTICES.values()}
