from policies.models.channel import Channel, InboxMessage
from policies.models.delivery import Delivery, DeliveryAttempt
from policies.models.heartbeat import Heartbeat
from policies.models.incident import Incident, IncidentEvent, IncidentStatus, PolicyState
from policies.models.maintenance import Maintenance
from policies.models.policy import (
    KIND_DEFAULTS,
    AlertPolicy,
    GroupBy,
    PolicyKind,
    Severity,
)
from policies.models.probe import Probe
from policies.models.routing import LITELLM_KIND_NAMES, Route, alert_kinds
from policies.models.silence import Silence, Subject
from policies.models.team import Team

__all__ = [
    "KIND_DEFAULTS",
    "LITELLM_KIND_NAMES",
    "AlertPolicy",
    "Channel",
    "Delivery",
    "DeliveryAttempt",
    "GroupBy",
    "Heartbeat",
    "InboxMessage",
    "Incident",
    "IncidentEvent",
    "IncidentStatus",
    "Maintenance",
    "PolicyKind",
    "PolicyState",
    "Probe",
    "Route",
    "Severity",
    "Silence",
    "Subject",
    "Team",
    "alert_kinds",
]
