"""FAB's own security screens (users, roles, groups, permissions) without the ``download`` route.

FAB gives every ``ModelView`` a ``/download/<filename>`` route for file columns; it reads
``app.config["UPLOAD_FOLDER"]``, which this app does not set (attachments live in the document
store), so ``GET /users/download/x`` answered 500 with a ``KeyError``. None of these screens has a
file column: the route goes, and such a URL is a plain 404."""
from __future__ import annotations

from typing import Any

from flask_appbuilder.security.manager import BaseSecurityManager

# The security manager's attributes naming the screens it registers.
SCREEN_ATTRIBUTES = (
    "userdbmodelview", "userldapmodelview", "useroauthmodelview", "userremoteusermodelview",
    "registerusermodelview", "usersamlmodelview", "rolemodelview", "groupmodelview",
    "permissionmodelview", "viewmenumodelview", "permissionviewmodelview",
)


def without_download(view: type) -> type:
    excluded = set(getattr(view, "exclude_route_methods", set())) | {"download"}
    return type(view.__name__, (view,), {"exclude_route_methods": excluded, "__module__": view.__module__})


def screens_without_download() -> dict[str, Any]:
    """Class attributes for the security manager subclass: each of FAB's screens, minus download."""
    return {
        name: without_download(getattr(BaseSecurityManager, name))
        for name in SCREEN_ATTRIBUTES
        if getattr(BaseSecurityManager, name, None) is not None
    }
