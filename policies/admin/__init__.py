"""The admin is the console's UI for people: one module per model module, as in ``models/``."""

from policies.admin import channel, incident, policy, routing, silence, system, team

__all__ = ["channel", "incident", "policy", "routing", "silence", "system", "team"]
