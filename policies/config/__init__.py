"""Policies as code: teams, channels, routes and policies from one YAML file (or LiteLLM's
config.yaml).

``parse``/``load_file`` read and check a file without touching the database; ``apply_config``
writes it, all or nothing. The format: docs/apply-config.md.
"""

from policies.config.apply import Outcome, Report, apply_config
from policies.config.parse import load_file, parse
from policies.config.places import ConfigError, Place
from policies.config.spec import ChannelSpec, Config, PolicySpec, RouteSpec, TeamSpec

__all__ = [
    "ChannelSpec",
    "Config",
    "ConfigError",
    "Outcome",
    "Place",
    "PolicySpec",
    "Report",
    "RouteSpec",
    "TeamSpec",
    "apply_config",
    "load_file",
    "parse",
]
