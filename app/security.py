"""The security manager: FAB's, with roles synced from ``app.permissions`` and no
internet-dependent chart view."""
from __future__ import annotations

from flask_appbuilder.security.sqla.manager import SecurityManager

from app.permissions import ROLE_CONFIGS


class ClinicSecurityManager(SecurityManager):
    # FAB's "User's Statistics" chart loads Google Charts from the internet (STACK.md trap 16).
    userstatschartview = None

    def sync_roles(self) -> None:
        """Create every permission of every registered view and API, the built-in roles, and
        Public. Run at deploy (``flask sync-roles``), never by web workers at start."""
        for role in (self.auth_role_admin, self.auth_role_public, *ROLE_CONFIGS):
            if self.find_role(role) is None:
                self.add_role(role)
        self.appbuilder.add_permissions(update_perms=True)
