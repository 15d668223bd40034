"""``GET /api/openapi.json``: an OpenAPI 3.1 document generated from the router's routes.

Each route's path pattern becomes an OpenAPI path (named groups become ``{parameters}``) and its
handler's docstring becomes the summary and description, so the document cannot drift from the
endpoints that exist. Every operation needs a bearer token except ``POST /api/login`` and ``/healthz``.
"""

from __future__ import annotations

import re
from typing import Any

from engine.api.http import Request, Router

_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>[^)]*)\)")
OPEN = {("POST", "/api/login")}


def document(router: Router) -> dict[str, Any]:
    """The OpenAPI document describing every route registered on ``router``."""
    paths: dict[str, dict[str, Any]] = {}
    for method, pattern, handler in router.routes:
        raw = pattern.pattern.removeprefix("^").removesuffix("$")
        path = _GROUP.sub(lambda m: "{" + m["name"] + "}", raw).replace("(?:", "(")
        doc = " ".join((handler.__doc__ or handler.__name__).split())
        operation: dict[str, Any] = {
            "operationId": f"{method.lower()}_{handler.__name__}",
            "summary": doc.split(". ")[0].rstrip("."),
            "description": doc,
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string", "pattern": f"^(?:{body})$"}}
                for name, body in _GROUP.findall(raw)
            ],
            "responses": {
                "200": {"description": "OK"},
                "4XX": {
                    "description": "Refused",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        }
        if method in ("POST", "PATCH", "PUT"):
            operation["requestBody"] = {"content": {"application/json": {"schema": {"type": "object"}}}}
        if (method, path) in OPEN:
            operation["security"] = []
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "hotline", "version": "1", "description": "Contact-centre engine: ACD, CRM and CTI API."},
        "paths": paths,
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "properties": {"error": {"type": "string"}}}},
        },
    }


def register(router: Router) -> None:
    """Serve the document at ``/api/openapi.json`` (any valid token)."""

    @router.route("GET", "/api/openapi.json")
    def openapi(req: Request) -> Any:
        """This OpenAPI document."""
        req.require("admin", "supervisor", "agent")
        return document(router)
