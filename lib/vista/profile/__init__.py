"""The customer card: activity keyed to UIDs, one profile per UID as of a date, role views.

Public names: :class:`ProfileConfig`, :data:`FIELDS` (every card field and how it is
computed), :func:`build_profile`, :func:`role_view`, :func:`find_uid`, :func:`card`
and the stage's :func:`run`.
"""

from vista.profile.config import ProfileConfig

__all__ = ["FIELDS", "ProfileConfig", "build_profile", "card", "find_uid", "role_view", "run"]


def __getattr__(name: str):  # lazy: the Spark-heavy modules load on first use
    if name == "FIELDS":
        from vista.profile.fields import FIELDS

        return FIELDS
    if name == "build_profile":
        from vista.profile.card import build_profile

        return build_profile
    if name == "role_view":
        from vista.profile.views import role_view

        return role_view
    if name in ("find_uid", "card"):
        from vista.profile import show

        return getattr(show, name)
    if name == "run":
        from vista.profile.stage import run

        return run
    raise AttributeError(name)
