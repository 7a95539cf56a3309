"""Who a login is, by its roles: one answer for every rule that treats staff and patients apart
(password length, idle time, invoices, where a login lands, two-step login)."""
from __future__ import annotations

from typing import Any, Iterable

PATIENT_ROLE = "Patient"


def role_names(user: Any) -> frozenset[str]:
    """The names of the user's roles and of their groups' roles (as FAB's permission checks count them)."""
    names = {role.name for role in getattr(user, "roles", None) or ()}
    for group in getattr(user, "groups", None) or ():
        names.update(role.name for role in group.roles or ())
    return frozenset(names)


def is_staff(role_names: Iterable[str]) -> bool:
    """Staff: any role other than Patient (a login with no role counts as a patient's)."""
    return any(name != PATIENT_ROLE for name in role_names)
