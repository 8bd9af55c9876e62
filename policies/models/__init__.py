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
from policies.models.routing import Route, RoutingKey, validate_integration_key
from policies.models.silence import Silence, Subject
from policies.models.team import Team

__all__ = [
    "KIND_DEFAULTS",
    "AlertPolicy",
    "Delivery",
    "DeliveryAttempt",
    "GroupBy",
    "Heartbeat",
    "Incident",
    "IncidentEvent",
    "IncidentStatus",
    "Maintenance",
    "PolicyKind",
    "PolicyState",
    "Probe",
    "Route",
    "RoutingKey",
    "Severity",
    "Silence",
    "Subject",
    "Team",
    "validate_integration_key",
]
