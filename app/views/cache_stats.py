"""Administration → Cache: the two-level cache's hits and misses per namespace (all processes'
when Redis is there, else this process's), its state, and a Reset button (POST with the CSRF
token). Admin only: the permission ``CacheStats`` is in no role's configuration."""
from __future__ import annotations

from flask import current_app, flash, redirect, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import format_percent, gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from redis.exceptions import RedisError

from app.services import cache

NAMESPACE_LABELS = {
    cache.SERVICES: _l("Services (public list)"),
    cache.DOCTORS: _l("Doctors (public list and pages)"),
    cache.SLOTS: _l("Free times of doctors"),
    cache.REVENUE: _l("Revenue per day"),
}


class ResetForm(FlaskForm):
    """The Reset button: a POST with the CSRF token."""


class CacheStatsView(BaseView):
    route_base = "/cache"
    default_view = "index"
    class_permission_name = "CacheStats"
    base_permissions = ["can_read", "can_write"]
    method_permission_name = {"index": "read", "reset": "write"}

    @expose("/")
    @has_access
    def index(self):
        store: cache.TwoLevelCache = current_app.extensions["cache"]
        return self.render_template("clinic/cache_stats.html", rows=cache.counters(store), state=store.status(),
                                    labels=NAMESPACE_LABELS, form=ResetForm(),
                                    format_percent=format_percent)

    @expose("/reset", methods=["POST"])
    @has_access
    def reset(self):
        if ResetForm().validate_on_submit():
            try:
                current_app.extensions["cache"].reset_stats()
                flash(_("The counters are back to zero."), "success")
            except RedisError:
                flash(_("Redis cannot be reached: only this process's counters were reset."), "warning")
        return redirect(url_for(f"{self.endpoint}.index"), 303)
