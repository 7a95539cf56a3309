"""FAB's ``@rison(schema)`` decorator (on every ``ModelRestApi`` GET: one record, lists, ``_info``)
validates the ``q`` argument with ``jsonschema.validate``, which first checks the *schema itself*
against the JSON Schema meta-schema, on every request: about a third of the CPU time of a
single-record GET (1.5 of 5 ms here). The schemas are constants, so here each one is checked and
compiled once, and a request only validates its own argument, with the same errors as before."""
from __future__ import annotations

from typing import Any

import flask_appbuilder.api as fab_api
import jsonschema
from jsonschema.exceptions import best_match


class SchemaCheckedOnce:
    """Stands in for the ``jsonschema`` module inside ``flask_appbuilder.api``: the two names the
    decorator uses, ``validate`` and ``ValidationError``."""

    ValidationError = jsonschema.ValidationError

    def __init__(self) -> None:
        # id(schema) -> (schema, validator); holding the schema keeps its id from being reused.
        self._validators: dict[int, tuple[Any, Any]] = {}

    def validate(self, instance: Any, schema: Any) -> None:
        entry = self._validators.get(id(schema))
        if entry is None or entry[0] is not schema:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            entry = (schema, cls(schema))
            self._validators[id(schema)] = entry
        error = best_match(entry[1].iter_errors(instance))
        if error is not None:
            raise error


def install() -> None:
    """Once per process (idempotent)."""
    if not isinstance(fab_api.jsonschema, SchemaCheckedOnce):
        fab_api.jsonschema = SchemaCheckedOnce()
