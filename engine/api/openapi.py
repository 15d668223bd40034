"""``GET /api/openapi.json``: an OpenAPI 3.1 document generated from the router's routes and their models.

Each route's path pattern becomes an OpenAPI path (named groups become ``{parameters}``: ``\\d+``
groups integer ids, others text), its body and query models become the request body and query
parameters (the same pydantic models the router validates with, so the document and the checks
cannot disagree), and its handler's docstring the summary and description. Every operation needs a
bearer token except the routes registered ``open`` (``POST /api/login``, the desktop's pages).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from engine.api.http import Request, Route, Router
from engine.api.inputs import ID_MAX

_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>[^)]*)\)")
_REF = "#/components/schemas/{model}"
ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "field": {"type": ["string", "null"]}},
    "required": ["error"],
}


def _path_parameter(name: str, body: str) -> dict[str, Any]:
    if body == r"\d+":
        schema: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": ID_MAX}
    else:
        schema = {"type": "string", "pattern": f"^(?:{body})$", "maxLength": 128}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=_REF)
    schemas.update(schema.pop("$defs", {}))
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation(route: Route, path: str, raw: str, schemas: dict[str, Any]) -> dict[str, Any]:
    handler = route.handler
    doc = " ".join((handler.__doc__ or handler.__name__.replace("_", " ")).split())
    parameters = [_path_parameter(name, body) for name, body in _GROUP.findall(raw)]
    if route.query is not None:
        parameters += _query_parameters(route.query, schemas)
    error = {
        "description": "Refused",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    ok: dict[str, Any] = {"description": "OK"}
    if route.produces != "application/json":
        ok["content"] = {route.produces: {}}
    operation: dict[str, Any] = {
        "operationId": f"{route.method.lower()}_{handler.__name__}",
        "summary": doc.split(". ")[0].rstrip("."),
        "description": doc,
        "parameters": parameters,
        "responses": {"200": ok, "4XX": error},
    }
    if route.body is not None:
        schema = route.body.model_json_schema(ref_template=_REF, by_alias=True)
        schemas.update(schema.pop("$defs", {}))
        schemas[route.body.__name__] = schema
        operation["requestBody"] = {
            "required": bool(schema.get("required")),
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=route.body.__name__)}}},
        }
    if route.open:
        operation["security"] = []
    return operation


def document(router: Router) -> dict[str, Any]:
    """The OpenAPI document describing every route registered on ``router``."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": ERROR}
    for route in router.routes:
        raw = route.pattern.pattern.removeprefix("^").removesuffix("$")
        path = _GROUP.sub(lambda m: "{" + m["name"] + "}", raw).replace("(?:", "(")
        paths.setdefault(path, {})[route.method.lower()] = _operation(route, path, raw, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "hotline", "version": "1", "description": "Contact-centre engine: ACD, CRM and CTI API."},
        "paths": paths,
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": schemas},
    }


def register(router: Router) -> None:
    """Serve the document at ``/api/openapi.json`` (any valid token)."""

    @router.route("GET", "/api/openapi.json")
    def openapi(req: Request) -> Any:
        """This OpenAPI document."""
        req.require("admin", "supervisor", "agent")
        return document(router)
