"""The admin is the console's UI for people: one module per model module, as in ``models/``."""

from policies.admin import policy, routing, team

__all__ = ["policy", "routing", "team"]
