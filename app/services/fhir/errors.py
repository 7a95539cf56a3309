"""FHIR's error answer: an ``OperationOutcome`` with one issue, and the HTTP status it goes with."""
from __future__ import annotations

from typing import Any

# FHIR issue types (http://hl7.org/fhir/issue-type) by HTTP status.
ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
               406: "not-supported", 409: "conflict", 422: "processing", 429: "throttled", 500: "exception"}


class FhirError(Exception):
    """A refused FHIR request: ``status`` (400/401/403/404/405), the text, and the search
    parameter at fault when there is one (named in the issue's ``expression``)."""

    def __init__(self, status: int, message: str, parameter: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameter = parameter


def operation_outcome(status: int, message: str, parameter: str | None = None) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": "error" if status < 500 else "fatal",
                             "code": ISSUE_CODES.get(status, "processing"),
                             "diagnostics": str(message)}
    if parameter:
        issue["expression"] = [parameter]
    return {"resourceType": "OperationOutcome", "issue": [issue]}
