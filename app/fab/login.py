"""FAB's login form with every ``next=`` checked by ``app.redirects.safe_next``."""
from __future__ import annotations

from flask import redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import no_cache
from flask_appbuilder.security.views import AuthDBView

from app.limits import limited
from app.redirects import is_safe_path, safe_next


class ClinicAuthDBView(AuthDBView):
    """FAB's login form, with ``next=`` checked by ``safe_next``. FAB's own check
    (``flask_appbuilder.utils.base.is_safe_redirect_url``) accepts ``/\\evil.example`` and
    ``\\\\evil.example``, which browsers read as ``//evil.example`` (another site), and CR/LF. A
    login link whose ``next`` is unsafe is answered with the plain login page (no ``next``),
    before FAB reads it. Posted logins count against the login rate limits."""

    login_template = "clinic/login.html"  # FAB's form, plus "forgot your password?" and sign-up links

    @expose("/login/", methods=["GET", "POST"])
    @no_cache
    @limited("login")  # per address and per account, the API login counted together (app.limits)
    def login(self):
        target = request.args.get("next")
        if target is not None and not is_safe_path(target):
            return redirect(url_for(f"{self.endpoint}.login"), 303)
        return super().login()

    def _get_safe_next_url(self) -> str:
        return safe_next(request.args.get("next"), self.appbuilder.get_url_for_index)
