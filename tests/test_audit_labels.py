"""Every action and record type the app writes to the audit trail has a label (English source, a
Vietnamese translation): the trail's action drop-down and its rows never show a raw code such as
``mfa_enrolled``. The actions are read from the source (each ``record_event(`` call of app/), so
an action added later without a label fails here."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _argument(call: ast.Call, position: int, name: str) -> ast.AST | None:
    """The argument at ``position`` (counted after ``self``-less positional ones) or named ``name``."""
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return call.args[position] if len(call.args) > position else None


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def recorded() -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(action -> where, entity -> where, calls whose action could not be read) of app/'s
    ``app.audit.record_event`` calls. An action passed in a parameter of the calling function
    (``_store(..., "password_reset", ...)``) is read from that function's calls in the module."""
    actions: dict[str, str] = {}
    entities: dict[str, str] = {}
    unread: list[str] = []
    for path in sorted(APP.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if "from app.audit import record_event" not in source and "audit.record_event" not in source:
            continue  # booking's own record_event (appointment history) is another function
        tree = ast.parse(source)
        functions = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        for function in functions.values():
            for call in ast.walk(function):
                if not isinstance(call, ast.Call) or _callee(call) != "record_event":
                    continue
                where = f"{path.relative_to(APP.parent)}:{call.lineno}"
                action, entity = _argument(call, 1, "action"), _argument(call, 2, "entity")
                if _literal(entity):
                    entities.setdefault(_literal(entity) or "", where)
                if _literal(action):
                    actions.setdefault(_literal(action) or "", where)
                    continue
                parameters = [a.arg for a in function.args.args]
                if not isinstance(action, ast.Name) or action.id not in parameters:
                    unread.append(where)
                    continue
                index = parameters.index(action.id)
                callers = [c for c in ast.walk(tree) if isinstance(c, ast.Call) and _callee(c) == function.name]
                for caller in callers:
                    value = _literal(_argument(caller, index, action.id))
                    if value is None:
                        unread.append(f"{path.relative_to(APP.parent)}:{caller.lineno}")
                    else:
                        actions.setdefault(value, f"{path.relative_to(APP.parent)}:{caller.lineno}")
    return actions, entities, unread


def test_the_walk_finds_the_account_actions():
    actions, entities, unread = recorded()
    assert unread == [], f"record_event calls whose action is not a literal: {unread}"
    assert {"mfa_enrolled", "password_reset", "read", "signup", "export", "break_glass", "refresh_reuse",
            "denied"} <= set(actions)
    assert {"User", "Patient", "UserSession"} <= set(entities)


def test_every_recorded_action_has_a_label(app):
    from app.views.audit_trail import ACTION_LABELS

    actions, _, _ = recorded()
    missing = {action: where for action, where in actions.items() if action not in ACTION_LABELS}
    assert missing == {}, "add these to ACTION_LABELS (app/views/audit_trail.py) and messages.po"


def test_every_audited_record_type_has_a_label(app):
    """The literal entities of record_event calls, and every model whose changes the trail records."""
    from flask_appbuilder import Model

    from app.audit import NOT_AUDITED
    from app.views.audit_trail import OTHER_ENTITIES
    from app.views.labels import RECORD_NAMES

    _, entities, _ = recorded()
    models = {mapper.class_.__name__ for mapper in Model.registry.mappers
              if mapper.class_.__module__.startswith("app.models.") and not issubclass(mapper.class_, NOT_AUDITED)}
    missing = sorted(name for name in set(entities) | models if name not in RECORD_NAMES and name not in OTHER_ENTITIES)
    assert missing == [], "add these to OTHER_ENTITIES (app/views/audit_trail.py) or RECORD_NAMES"


@pytest.mark.parametrize("code, english, vietnamese", [
    ("mfa_enrolled", "Two-step login turned on", "Đã bật đăng nhập hai bước"),
    ("password_reset", "Password reset by e-mail", "Đặt lại mật khẩu qua e-mail"),
    ("read", "Record read", "Đã xem hồ sơ"),
])
def test_action_labels_are_translated(app, code, english, vietnamese):
    from flask_babel import force_locale

    from app.views.audit_trail import action_label, entity_label

    with app.test_request_context():
        assert action_label(code) == english
        with force_locale("vi"):
            assert action_label(code) == vietnamese
            assert entity_label("UserSession") == "Phiên đăng nhập"


def test_every_label_is_translated(app):
    """No audit label is left in English in Vietnamese."""
    from flask_babel import force_locale

    from app.views.audit_trail import ACTION_LABELS, OTHER_ENTITIES

    with app.test_request_context(), force_locale("vi"):
        untranslated = [str(label) for label in [*ACTION_LABELS.values(), *OTHER_ENTITIES.values()]
                        if str(label) == label._args[0]]
    assert untranslated == []
