"""The generated screens' save and delete flow and their related lists, adapted from FAB's
``ModelView``: domain errors land on the form field they name (with the typed values kept), and
related lists show only what the user may read."""
from __future__ import annotations

from typing import Any, Callable

from flask import abort, flash, request
from flask_appbuilder import ModelView
from flask_appbuilder.urltools import get_filter_args, get_order_args, get_page_args, get_page_size_args

from app.fab.hooks import RulesHooks
from app.services.errors import DomainError


class FabModelView(RulesHooks, ModelView):
    """FAB's ``ModelView`` with the clinic's validation hooks. When ``pre_add``/``pre_update``
    refuse a record, FAB 5.3's ``_add``/``_edit`` flash the message and redirect away: the form
    and everything typed into it are lost. Here the form comes back with the message under the
    field it names (or flashed when it names none) and the typed values kept."""

    # No file columns and no bulk actions: FAB's download and action routes would only fail.
    exclude_route_methods = {"download", "action", "action_post"}

    def _save(self, form, item: Any, before: Callable, write: Callable, after: Callable) -> bool:
        try:
            before(item)
            write(item)
            after(item)
            return True
        except DomainError as exc:
            self.datamodel.session.rollback()
            if exc.field and exc.field in form:
                form[exc.field].errors = list(form[exc.field].errors) + [exc.message]
            elif exc.field and exc.field.removesuffix("_id") in form:
                form[exc.field.removesuffix("_id")].errors = [exc.message]
            else:
                flash(exc.message, "danger")
            return False

    def _fill_form_exclude_cols(self, exclude_cols, form) -> None:
        """The parent of a record added from its own tab ("+" under a patient's invoices) is a hidden
        field filled from the URL's filter. FAB sets only its ``data``; the required check reads
        ``raw_data`` and refused the form with a message nobody could see. Fill both."""
        super()._fill_form_exclude_cols(exclude_cols, form)
        for key in exclude_cols:
            field = getattr(form, key, None)
            if field is not None and field.data is not None:
                field.raw_data = [str(getattr(field.data, "id", field.data))]

    def _flash_hidden_errors(self, form, exclude_cols) -> None:
        """Errors on fields the page does not show (the parent given by the URL) as a message."""
        for key in exclude_cols:
            field = getattr(form, key, None)
            if field is None:
                continue
            for error in field.errors:
                flash(f"{field.label.text}: {error}", "danger")

    def _add(self):
        is_valid_form = True
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        form = self.add_form.refresh()
        if request.method == "POST":
            self._fill_form_exclude_cols(exclude_cols, form)
            if form.validate():
                self.process_form(form, True)
                item = self.datamodel.obj()
                form.populate_obj(item)
                if self._save(form, item, self.pre_add, self.datamodel.add, self.post_add):
                    flash(self.add_row_message, "success")
                    return None
            self._flash_hidden_errors(form, exclude_cols)
            is_valid_form = False
        else:
            self.prefill_add(form)
        if is_valid_form:
            self.update_redirect()
        return self._get_add_widget(form=form, exclude_cols=exclude_cols)

    def prefill_add(self, form) -> None:
        """Values an empty add form starts with (a view may override)."""

    def _edit(self, pk):
        is_valid_form = True
        pages, page_sizes, orders = get_page_args(), get_page_size_args(), get_order_args()
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            abort(404)
        pk = self.datamodel.get_pk_value(item)
        if request.method == "POST":
            form = self.edit_form.refresh(request.form)
            self._fill_form_exclude_cols(exclude_cols, form)
            form._id = pk
            if form.validate():
                self.process_form(form, False)
                form.populate_obj(item)
                if self._save(form, item, self.pre_update, self.datamodel.edit, self.post_update):
                    flash(self.edit_row_message, "success")
                    return None
                item = self.datamodel.get(pk, self._base_filters)
            is_valid_form = False
        else:
            form = self.edit_form.refresh(obj=item)
            self.prefill_form(form, pk)
        widgets = self._get_edit_widget(form=form, exclude_cols=exclude_cols)
        widgets = self._get_related_views_widgets(
            item, filters={}, orders=orders, pages=pages, page_sizes=page_sizes, widgets=widgets
        )
        if is_valid_form:
            self.update_redirect()
        return widgets

    def _delete(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            abort(404)
        try:
            self.pre_delete(item)
            self.datamodel.delete(item)
            self.post_delete(item)
            flash(self.delete_row_message, "success")
        except DomainError as exc:
            flash(exc.message, "danger")
        self.update_redirect()

    def _readable_related_views(self) -> list:
        return [view for view in self._related_views
                if self.appbuilder.sm.has_access("can_read", view.class_permission_name)]

    def render_template(self, template, **kwargs):
        """FAB's show and edit templates pair each related view with its widget by position: pass
        them the same filtered list as the widgets, or the tabs shift and the page fails (500)."""
        if kwargs.get("related_views") is not None:
            kwargs["related_views"] = self._readable_related_views()
        return super().render_template(template, **kwargs)

    def _get_related_views_widgets(self, item, orders=None, pages=None, page_sizes=None, widgets=None, **args):
        """FAB shows every related view; show only those the user may read (a receptionist never
        sees the encounters on a patient's page). Same loop as FAB's, plus the permission check."""
        widgets = widgets or {}
        widgets["related_views"] = []
        for view in self._readable_related_views():
            order_column, order_direction = (orders or {}).get(view.__class__.__name__, ("", ""))
            widgets["related_views"].append(self._get_related_view_widget(
                item, view, order_column, order_direction,
                page=(pages or {}).get(view.__class__.__name__),
                page_size=(page_sizes or {}).get(view.__class__.__name__),
            ))
        return widgets
