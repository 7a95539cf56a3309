"""The back office's profile page (``/profile/``) for every signed-in staff member: no permission
of its own (it only reaches the user's own login). Patients have theirs on the public site. The
form and handler are shared with it (app/public/profile.py)."""
from __future__ import annotations

from flask import redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_login import current_user

from app.public.profile import profile_page, site_of


class ProfileView(BaseView):
    route_base = "/profile"
    default_view = "index"

    @expose("/", methods=["GET", "POST"])
    def index(self):
        if not current_user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_login_with(request.full_path.rstrip("?")))
        if site_of(current_user) != "staff":
            return redirect(url_for("public.profile"))
        return profile_page("staff", render=self.render_template)
