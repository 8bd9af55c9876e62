"""The admin is the console's UI for people: one module per model module, as in ``models/``
(the channel form and the inbox have modules of their own)."""

from policies.admin import channel, inbox, incident, policy, routing, silence, system, team

__all__ = ["channel", "inbox", "incident", "policy", "routing", "silence", "system", "team"]
