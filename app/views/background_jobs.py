"""Administration → Background jobs: the RQ queues (queued, running, scheduled, failed jobs) with
Retry and Delete, and the periodic jobs with their interval (Admin only: the permission
``BackgroundJob`` is in no role's configuration). Without Redis the page says jobs run in the web
process; with Redis down it says so (no error page)."""
from __future__ import annotations

from flask import current_app, flash, redirect, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from redis.exceptions import RedisError

from app.jobs.queue import connect
from app.services import background_jobs
from app.services.errors import DomainError
from app.views.fields import format_local

# A reader's name for each job function the app enqueues (the dotted name stays visible, small, for admins).
JOB_LABELS = {
    "app.jobs.reminders.run_due": _l("Queue the appointment reminders that are due"),
    "app.jobs.messages.sweep": _l("Send the messages still waiting"),
    "app.jobs.messages.deliver": _l("Send a message"),
    "app.jobs.digest.send_if_due": _l("Stock digest to pharmacists and managers"),
    "app.jobs.reports.send_monthly": _l("Monthly report to its recipients"),
    "app.jobs.billing_mail.send": _l("E-mail an invoice"),
    "app.jobs.billing_mail.send_receipt": _l("E-mail a payment receipt"),
    "app.jobs.billing_mail.retry_failed": _l("Retry invoice e-mails that failed"),
    "app.jobs.maintenance.prune_sessions": _l("Remove old login sessions"),
    "app.jobs.maintenance.delete_expired_recordings": _l("Delete video call recordings past their retention"),
    "app.jobs.maintenance.stop_abandoned_recordings": _l("Stop video call recordings left open"),
    "app.jobs.maintenance.retire_guest_logins": _l("Deactivate video visit guests' logins once their call is over"),
    "app.jobs.maintenance.purge_log_events": _l("Delete log events past their retention"),
    "app.jobs.maintenance.announce_expiring_batches": _l("Announce the batches coming to their expiry"),
    "app.jobs.webhooks.fan_out": _l("Webhooks: make deliveries for new events"),
    "app.jobs.webhooks.sweep": _l("Webhooks: send again the deliveries that are due"),
    "app.jobs.webhooks.deliver": _l("Webhooks: send one event to one endpoint"),
    "app.jobs.notices.appointment_event": _l("Notices about an appointment"),
    "app.jobs.notices.lab_results_released": _l("Notices about lab results released"),
    "app.jobs.notices.prescription_dispensed": _l("Notices about a prescription ready for pickup"),
}


def job_label(func: str | None) -> str:
    """The job in words ("Send a message"); a function not listed: its dotted name."""
    label = JOB_LABELS.get(func or "")
    return str(label) if label is not None else (func or "?")


def every(seconds: int) -> str:
    """"every 10 minutes", "every day": a periodic job's interval in words."""
    if seconds % 86400 == 0:
        days = seconds // 86400
        return _("every day") if days == 1 else _("every %(num)d days", num=days)
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return _("every hour") if hours == 1 else _("every %(num)d hours", num=hours)
    if seconds % 60 == 0:
        minutes = seconds // 60
        return _("every minute") if minutes == 1 else _("every %(num)d minutes", num=minutes)
    return _("every %(num)d seconds", num=seconds)


class JobActionForm(FlaskForm):
    """The Retry and Delete buttons: a POST with the CSRF token (the job is in the URL)."""


class BackgroundJobsView(BaseView):
    route_base = "/background-jobs"
    default_view = "index"
    class_permission_name = "BackgroundJob"
    base_permissions = ["can_read", "can_write"]
    method_permission_name = {"index": "read", "retry": "write", "delete": "write"}

    @expose("/")
    @has_access
    def index(self):
        config = current_app.config
        mode, boards, error = "redis", [], ""
        connection = None
        if not config.get("REDIS_URL"):
            mode = "in_process"
        else:
            try:
                connection = connect(config)
                boards = background_jobs.job_board(config, connection)
            except RedisError as exc:
                current_app.logger.warning("background jobs page: Redis unreachable: %s", exc)
                mode, error, connection = "down", type(exc).__name__, None
        try:
            periodic = background_jobs.periodic_jobs(config, connection)
        except RedisError:
            periodic = background_jobs.periodic_jobs(config, None)
        return self.render_template("clinic/background_jobs.html", mode=mode, boards=boards, error=error,
                                    periodic=periodic, form=JobActionForm(), format_local=format_local,
                                    job_label=job_label,
                                    every=every, in_process=bool(config.get("SCHEDULER_IN_PROCESS")))

    def _act(self, job_id: str, action, done: str):
        if JobActionForm().validate_on_submit():
            config = current_app.config
            if not config.get("REDIS_URL"):
                flash(_("Jobs run in the web process: there is no queue to change."), "warning")
            else:
                try:
                    action(config, connect(config), job_id)
                    flash(done, "success")
                except DomainError as exc:
                    flash(exc.message, "warning")
                except RedisError:
                    flash(_("Redis cannot be reached: nothing was changed."), "danger")
        return redirect(url_for(f"{self.endpoint}.index"), 303)

    @expose("/<job_id>/retry", methods=["POST"])
    @has_access
    def retry(self, job_id: str):
        return self._act(job_id, background_jobs.retry_job, _("The job is back on its queue."))

    @expose("/<job_id>/delete", methods=["POST"])
    @has_access
    def delete(self, job_id: str):
        return self._act(job_id, background_jobs.delete_job, _("The job is deleted."))
