"""Who may change what: three roles, as Django groups (created by a migration).

- Ops admins may do everything.
- Team editors may change only their own teams' policies, routes, routing keys and silences
  (the teams that list them as editors); they see everything else read-only.
- Viewers see everything and change nothing.

Django's model permissions say what a role may do to a kind of row; the team check here says
which rows. The admin enforces both on lists, pages, saves, deletes and actions.

The groups and their permissions are created by migration ``policies/0004_roles``.
"""

from __future__ import annotations

from typing import Any

OPS_ADMINS = "Ops admins"
TEAM_EDITORS = "Team editors"
VIEWERS = "Viewers"


def is_ops_admin(user: Any) -> bool:
    """Superusers and members of the ops admins group: not bound to any team."""
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_console_ops_admin", None)
    if cached is None:
        cached = user.groups.filter(name=OPS_ADMINS).exists()
        user._console_ops_admin = cached
    return bool(cached)


def own_team_ids(user: Any) -> set[int] | None:
    """The teams whose rows this user may change; None: every row (an ops admin)."""
    if is_ops_admin(user):
        return None
    cached = getattr(user, "_console_team_ids", None)
    if cached is None:
        cached = set(user.edited_teams.values_list("pk", flat=True)) if user.is_active else set()
        user._console_team_ids = cached
    return set(cached)


def may_change_team_row(user: Any, team_ids: set[int | None]) -> bool:
    """Whether the user may change a row that belongs to these teams (None: to no team, which
    only ops admins may change)."""
    own = own_team_ids(user)
    if own is None:
        return True
    return bool(team_ids) and all(team_id in own for team_id in team_ids)
