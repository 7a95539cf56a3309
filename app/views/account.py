"""The signed-in user's sessions (staff and patients alike): where they are logged in, with "end
this session" and "sign out everywhere". The profile page links here."""
from __future__ import annotations

import re
from typing import Any

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_babel import gettext as _
from flask_login import current_user

from app import web_sessions
from app.extensions import db
from app.models.types import utcnow
from app.services.accounts import sessions as session_service
from app.views.fields import format_moment

# (pattern, name) in the order they must be tried: Edge and Opera also say "Chrome", Chrome also
# says "Safari".
BROWSERS = ((r"Edg/", "Edge"), (r"OPR/|Opera", "Opera"), (r"Firefox/|FxiOS/", "Firefox"),
            (r"Chrome/|CriOS/|Chromium/", "Chrome"), (r"Safari/", "Safari"))
SYSTEMS = ((r"iPhone", "iPhone"), (r"iPad", "iPad"), (r"Android", "Android"), (r"Windows", "Windows"),
           (r"Mac OS X|Macintosh", "macOS"), (r"CrOS", "ChromeOS"), (r"Linux", "Linux"))


def describe_device(user_agent: str | None, kind: str) -> str:
    """"Firefox on Windows", from the browser's User-Agent; API logins say so."""
    agent = user_agent or ""
    browser = next((name for pattern, name in BROWSERS if re.search(pattern, agent)), None)
    system = next((name for pattern, name in SYSTEMS if re.search(pattern, agent)), None)
    if kind == "api":
        return _("App or script (API)") + (f" · {agent[:40]}" if agent and not browser else "")
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    return browser or system or _("Unknown device")


class AccountSessionsView(BaseView):
    route_base = "/account"
    default_view = "sessions"

    def _login(self) -> Any:
        return redirect(self.appbuilder.get_url_for_login_with(request.full_path.rstrip("?")))

    @expose("/sessions", methods=["GET"])
    def sessions(self) -> Any:
        if not current_user.is_authenticated:
            return self._login()
        current = web_sessions.current_session_id()
        rows = [{"id": info.id, "device": describe_device(info.user_agent, info.kind), "ip": info.ip or "",
                 "created": format_moment(info.created_at),
                 "last_seen": format_moment(info.last_seen_at),
                 "current": info.id == current}
                for info in session_service.active_sessions(db.session, current_user.id, utcnow())]
        return self.render_template("clinic/account_sessions.html", sessions=rows, title=_("Where you are logged in"))

    @expose("/sessions/<string(length=64):session_id>/end", methods=["POST"])
    def end(self, session_id: str) -> Any:
        """End one of the user's own sessions (another user's id ends nothing)."""
        if not current_user.is_authenticated:
            return self._login()
        if session_id == web_sessions.current_session_id():
            web_sessions.end_current_session("ended")
            return redirect(self.appbuilder.get_url_for_login)
        ended = session_service.end_session(db.session, session_id, utcnow(), reason="ended", user_id=current_user.id)
        db.session.commit()
        flash(_("The session is ended.") if ended else _("That session had ended already."),
              "success" if ended else "info")
        return redirect(url_for(".sessions"))

    @expose("/sessions/end-all", methods=["POST"])
    def end_all(self) -> Any:
        """Sign out everywhere: every session of the user ends, this one too."""
        if not current_user.is_authenticated:
            return self._login()
        session_service.end_user_sessions(db.session, current_user.id, utcnow(), reason="everywhere")
        db.session.commit()
        web_sessions.end_current_session("everywhere")
        flash(_("You are signed out everywhere."), "info")
        return redirect(self.appbuilder.get_url_for_login)
