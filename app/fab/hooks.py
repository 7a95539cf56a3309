"""The validation hooks every generated create, edit and delete calls (screens and REST API
alike): FAB's ``pre_add``/``pre_update``/``pre_delete`` reach ``app.services.rules`` here."""
from __future__ import annotations

from typing import Any

from flask import current_app

from app.fab.actor import acting_user_id
from app.services import rules
from app.services.settings import ClinicSettings


def clinic_settings() -> ClinicSettings:
    return ClinicSettings.from_config(current_app.config)


def validate_item(session, item: Any) -> None:
    """The one hook every generated create/edit calls (screens and REST API alike)."""
    with session.no_autoflush:
        rules.validate(session, item, clinic_settings(), acting_user_id())


def after_update(session, item: Any) -> None:
    """After a generic edit is committed (screens and REST API alike): ``rules.after_update``."""
    rules.after_update(session, item, acting_user_id())


def check_delete(session, item: Any) -> None:
    with session.no_autoflush:
        rules.check_delete(session, item, clinic_settings())


class RulesHooks:
    """FAB's write hooks, for screens and REST resources alike: every create and edit is validated
    by ``app.services.rules``, every delete checked by it, and what an edit changed is announced
    after its commit (FAB calls ``post_update`` once ``datamodel.edit`` has committed). Mixed in
    before FAB's view class."""

    datamodel: Any

    def pre_add(self, item: Any) -> None:
        validate_item(self.datamodel.session, item)

    def pre_update(self, item: Any) -> None:
        validate_item(self.datamodel.session, item)

    def post_update(self, item: Any) -> None:
        after_update(self.datamodel.session, item)

    def pre_delete(self, item: Any) -> None:
        check_delete(self.datamodel.session, item)
