"""Role permissions, read once per process and reused until they change.

FAB answers every permission check with queries: the Public role and its permissions (twice per
REST call), then the permissions of the user's database roles. Here one query reads every
database role's (permission, view) pairs into an immutable ``Snapshot``; checks are set lookups.

Staying correct with several processes: the ``ab_permission_version`` row holds a number that
goes up in the same transaction as every change of a role, permission, view or their links. A
``before_flush`` hook sees every change made through ORM objects (FAB's security screens and APIs,
``flask sync-roles``); ``sync-roles`` also raises it outright, for changes made by hand in SQL or
by bulk statements. Each request reads that number once (one primary-key SELECT) and reloads the
snapshot when it differs from the one the snapshot was read at. Because the number commits
together with the change, a process that sees the new number also sees the change: a revoked
permission is refused on the very next request in every process, never served from an older copy.
The number is read *before* the permissions, so a change committed between the two reads can only
make the snapshot newer than its number (and it is read again on the next request), never older.

Redis was considered and not used: bumping a key there cannot be part of the database transaction,
so a process could read the new number before the change commits and keep the old permissions
under the new number. Users and their roles are not cached: the user is loaded on each request
(one query, roles included), so a user's new or removed role counts at once.

Roles declared in configuration (``FAB_ROLES``) never change while the process runs; their
pattern checks are remembered per (role, permission, view).
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Iterable, Mapping, Sequence

from flask import g, has_request_context
from flask_appbuilder.security.sqla.models import Permission, PermissionView, Role, ViewMenu, assoc_permissionview_role
from sqlalchemy import event, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.models.access import PermissionVersion

Grant = tuple[str, str]  # (permission name, view name), e.g. ("can_read", "Patient")
WATCHED = (Role, PermissionView, Permission, ViewMenu)
_REQUEST_KEY = "_clinic_permissions"


@dataclass(frozen=True)
class RoleRef:
    """What a permission check needs of a role (the Public role of an anonymous visitor)."""

    id: int
    name: str


@dataclass(frozen=True)
class Snapshot:
    """Every database role's grants, as read at ``version``."""

    version: int
    grants: Mapping[int, frozenset[Grant]]  # role id -> grants
    roles: Mapping[str, RoleRef]  # role name -> role
    public_role_name: str

    @property
    def public_role(self) -> RoleRef | None:
        return self.roles.get(self.public_role_name)

    def role_grants(self, role_id: int) -> frozenset[Grant]:
        return self.grants.get(role_id, frozenset())

    @property
    def public_grants(self) -> frozenset[Grant]:
        role = self.public_role
        return self.role_grants(role.id) if role is not None else frozenset()


def read_version(session: Session) -> int:
    """The current number (0 when the row is missing: a database built without the migration)."""
    # Core on the session's connection (same transaction), not the ORM: this runs on every request,
    # and the ORM's statement handling cost more than the query itself.
    version = session.connection().execute(_VERSION_QUERY).scalar_one_or_none()
    return version or 0


# Built once: composing a SELECT costs more in Python than running this one.
_VERSION_QUERY = select(PermissionVersion.__table__.c.version).where(PermissionVersion.__table__.c.id == 1)


def load_snapshot(session: Session, version: int, public_role_name: str) -> Snapshot:
    """Every role and its grants, in one query."""
    rows = session.execute(
        select(Role.id, Role.name, Permission.name, ViewMenu.name)
        .select_from(Role)
        .outerjoin(assoc_permissionview_role, assoc_permissionview_role.c.role_id == Role.id)
        .outerjoin(PermissionView, PermissionView.id == assoc_permissionview_role.c.permission_view_id)
        .outerjoin(Permission, Permission.id == PermissionView.permission_id)
        .outerjoin(ViewMenu, ViewMenu.id == PermissionView.view_menu_id)
    ).all()
    grants: dict[int, set[Grant]] = {}
    roles: dict[str, RoleRef] = {}
    for role_id, role_name, permission, view in rows:
        roles.setdefault(role_name, RoleRef(role_id, role_name))
        found = grants.setdefault(role_id, set())
        if permission is not None and view is not None:
            found.add((permission, view))
    return Snapshot(version, {k: frozenset(v) for k, v in grants.items()}, roles, public_role_name)


def bump_version(connection: Connection) -> None:
    """Raise the number (in the caller's transaction). A missing row (deleted by hand) is made
    again with a random number, so that it cannot equal a number some process still holds."""
    table = PermissionVersion.__table__
    result = connection.execute(update(table).where(table.c.id == 1).values(version=table.c.version + 1))
    if result.rowcount == 0:
        connection.execute(insert(table).values(id=1, version=secrets.randbelow(2**52) + 1))


def _bump_when_permissions_change(session: Session, flush_context: Any, instances: Any) -> None:
    """A flush that adds, changes or deletes a role, permission, view or permission-on-view (a
    role's permission list counts as a change of the role) raises the number in its transaction."""
    if any(isinstance(obj, WATCHED) for obj in chain(session.new, session.dirty, session.deleted)):
        bump_version(session.connection())


if not event.contains(Session, "before_flush", _bump_when_permissions_change):
    event.listen(Session, "before_flush", _bump_when_permissions_change)


@dataclass
class BuiltinRoles:
    """Roles declared as (view pattern, permission pattern) pairs, matched as FAB does
    (``re.match``), each answer remembered."""

    patterns: dict[str, list[tuple[re.Pattern[str], re.Pattern[str]]]]
    _answers: dict[tuple[str, str, str], bool] = field(default_factory=dict)

    @classmethod
    def from_config(cls, roles: Mapping[str, Sequence[Sequence[str]]]) -> BuiltinRoles:
        return cls({name: [(re.compile(view), re.compile(permission)) for view, permission in rules]
                    for name, rules in roles.items()})

    def __contains__(self, role_name: object) -> bool:
        return role_name in self.patterns

    def allows(self, role_name: str, permission: str, view: str) -> bool:
        key = (role_name, permission, view)
        answer = self._answers.get(key)
        if answer is None:
            answer = any(view_re.match(view) is not None and permission_re.match(permission) is not None
                         for view_re, permission_re in self.patterns.get(role_name, ()))
            self._answers[key] = answer
        return answer


class PermissionCache:
    """The process's snapshot, checked against the database's number once per request."""

    def __init__(self, builtin_roles: Mapping[str, Sequence[Sequence[str]]], public_role_name: str) -> None:
        self.builtin = BuiltinRoles.from_config(builtin_roles)
        self.public_role_name = public_role_name
        self._snapshot: Snapshot | None = None
        self.loads = 0  # how many times the grants were read (the tests watch it)

    def current(self, session: Session) -> Snapshot:
        """The snapshot valid for this request: the number is read once per request (on every call
        outside a request), the grants only when the number moved."""
        if has_request_context():
            snapshot = g.get(_REQUEST_KEY)
            if snapshot is not None:
                return snapshot
        version = read_version(session)
        snapshot = self._snapshot
        if snapshot is None or snapshot.version != version:
            snapshot = load_snapshot(session, version, self.public_role_name)
            self._snapshot = snapshot
            self.loads += 1
        if has_request_context():
            setattr(g, _REQUEST_KEY, snapshot)
        return snapshot

    def forget(self) -> None:
        """Drop the snapshot (and this request's copy): the next check reads the grants again."""
        self._snapshot = None
        if has_request_context():
            g.pop(_REQUEST_KEY, None)

    def allows(self, snapshot: Snapshot, roles: Iterable[Any], permission: str, view: str) -> bool:
        """Whether any of ``roles`` (objects with ``id`` and ``name``) grants ``permission`` on
        ``view``. Declared roles answer from their patterns only, as in FAB."""
        for role in roles:
            if role.name in self.builtin:
                if self.builtin.allows(role.name, permission, view):
                    return True
            elif (permission, view) in snapshot.role_grants(role.id):
                return True
        return False
