"""Bundles (search results, ``$everything``) and the server's ``CapabilityStatement``."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from app.services.fhir.mapping import validated
from app.services.fhir.search import PARAM_TYPES, PARAMS, RESOURCE_TYPES, Page

FHIR_VERSION = "4.0.1"
MEDIA_TYPE = "application/fhir+json"


def _url(base: str, type_name: str, pairs: list[tuple[str, str]], offset: int, count: int) -> str:
    kept = [(k, v) for k, v in pairs if k not in ("_offset", "_count")]
    return f"{base}/{type_name}?" + urlencode([*kept, ("_count", str(count)), ("_offset", str(offset))])


def search_bundle(base: str, type_name: str, pairs: list[tuple[str, str]], page: Page, now: datetime) -> dict[str, Any]:
    """A ``searchset`` Bundle: ``total``, ``self``/``first``/``next``/``previous`` links (by
    ``_offset``), each entry with its ``fullUrl``."""
    links = [{"relation": "self", "url": _url(base, type_name, pairs, page.offset, page.count)},
             {"relation": "first", "url": _url(base, type_name, pairs, 0, page.count)}]
    if page.count and page.offset + page.count < page.total:
        links.append({"relation": "next", "url": _url(base, type_name, pairs, page.offset + page.count, page.count)})
    if page.count and page.offset > 0:
        previous = max(0, min(page.offset - page.count, page.total - page.count))
        links.append({"relation": "previous", "url": _url(base, type_name, pairs, previous, page.count)})
    return validated({
        "resourceType": "Bundle", "type": "searchset", "timestamp": now.isoformat(), "total": page.total,
        "link": links,
        "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
                  for r in page.resources],
    })


def everything_bundle(base: str, patient_id: str, resources: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    return validated({
        "resourceType": "Bundle", "type": "searchset", "timestamp": now.isoformat(), "total": len(resources),
        "link": [{"relation": "self", "url": f"{base}/Patient/{patient_id}/$everything"}],
        "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
                  for r in resources],
    })


def capability_statement(base: str, software: str, now: datetime) -> dict[str, Any]:
    """What this server does: read and search-type on each resource type, with its search parameters."""
    resources = []
    for type_name in RESOURCE_TYPES:
        params = [{"name": name, "type": PARAM_TYPES[name]} for name in ("_id", *PARAMS[type_name])]
        params.append({"name": "_count", "type": "number"})
        params.append({"name": "_offset", "type": "number"})
        entry: dict[str, Any] = {"type": type_name, "interaction": [{"code": "read"}, {"code": "search-type"}],
                                 "searchParam": params}
        if type_name == "Patient":
            entry["operation"] = [{"name": "everything",
                                   "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"}]
        resources.append(entry)
    return validated({
        "resourceType": "CapabilityStatement", "status": "active", "date": now.date().isoformat(),
        "kind": "instance", "fhirVersion": FHIR_VERSION, "format": [MEDIA_TYPE, "json"],
        "software": {"name": software},
        "implementation": {"description": software, "url": base},
        "rest": [{"mode": "server",
                  "security": {"cors": False, "description": "OAuth-less bearer JWT from /api/v1/security/login",
                               "service": [{"coding": [{
                                   "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                   "code": "OAuth"}], "text": "Bearer JWT"}]},
                  "resource": resources}],
    })
