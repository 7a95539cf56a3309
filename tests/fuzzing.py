"""The one way the suite fuzzes REST operations with schemathesis: every operation of the OpenAPI
document that ``wanted`` selects, called with a login's JWT, a bounded and seeded number of
generated requests each; each failing operation is collected (not only the first) with a short
summary. schemathesis' own pytest plugin (``from_fixture``) does not run under pytest 9, so each
operation's strategy is driven by hypothesis here."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.factories import token_headers

CHECKS = [not_a_server_error, response_schema_conformance]


def examples(default: int) -> int:
    """Generated requests per operation: ``default``, or ``SCHEMATHESIS_EXAMPLES`` to dig deeper."""
    return int(os.environ.get("SCHEMATHESIS_EXAMPLES", str(default)))


def summary(exc: BaseException) -> str:
    """The failure's kinds and the request that shows it (schemathesis' report, shortened)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    kinds = [line for line in lines if line.startswith("- ")]
    curl = [line for line in lines if line.startswith("curl ")]
    text = "; ".join(kinds + [f"{type(exc).__name__}: {lines[0] if lines else ''}"] + curl[:1])
    return text[:900]


def fuzz_operations(app: Any, username: str, wanted: Callable[[Any], bool], *, examples: int,
                    checks: Sequence[Any] = CHECKS, prepare: Callable[[Any], None] | None = None
                    ) -> tuple[int, list[str]]:
    """How many operations ``wanted`` chose, and the failures (one line each). ``prepare(case)``
    may aim a generated request at real records before it is sent."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/_openapi", app, headers=token_headers(app, "admin"))
    headers = token_headers(app, username)
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not wanted(operation):
            continue
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            if prepare is not None:
                prepare(case)
            case.call_and_validate(headers=headers, checks=list(checks))

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every failing operation is reported at once
            failures.append(f"{operation.label}: {summary(exc)}")
    return operations, failures


def under(*prefixes: str) -> Callable[[Any], bool]:
    """``wanted``: the operations whose path starts with one of ``prefixes``."""
    return lambda operation: operation.path.startswith(prefixes)


def report(failures: list[str]) -> str:
    return f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)
