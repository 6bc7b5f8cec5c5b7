"""``/docs``: the API reference as a server-rendered page (no script, nothing from a CDN: it reads
offline), built from the app's own OpenAPI document (``/openapi.json`` serves the same document)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool
    description: str = ""


@dataclass(frozen=True)
class Response:
    status: str
    description: str
    schema: str


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    description: str
    parameters: tuple[Field, ...]
    #: The parameter's place (``path``, ``query``, ``header``) by name.
    places: dict[str, str]
    body: str
    responses: tuple[Response, ...]

    @property
    def anchor(self) -> str:
        return "op-" + self.method.lower() + "-" + "".join(c if c.isalnum() else "-" for c in self.path)


@dataclass(frozen=True)
class Model:
    name: str
    description: str
    fields: tuple[Field, ...]


def type_of(schema: dict[str, Any]) -> str:
    """A schema as one short phrase: a model's name, ``list of X``, ``A or B``, ``one of a, b``."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " or ".join(type_of(s) for s in schema[key])
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        return "list of " + type_of(schema.get("items") or {})
    if kind == "object" and "additionalProperties" in schema:
        extra = schema["additionalProperties"]
        return "object of " + (type_of(extra) if isinstance(extra, dict) else "anything")
    return str(kind or "anything")


def _content_schema(content: dict[str, Any] | None) -> str:
    for mime, media in (content or {}).items():
        schema = media.get("schema")
        return type_of(schema) if schema else mime
    return ""


def _operation(path: str, method: str, op: dict[str, Any]) -> Operation:
    params = tuple(
        Field(
            p["name"],
            type_of(p.get("schema") or {}),
            bool(p.get("required")),
            str(p.get("description") or ""),
        )
        for p in op.get("parameters") or ()
    )
    return Operation(
        method=method.upper(),
        path=path,
        summary=str(op.get("summary") or ""),
        description=str(op.get("description") or ""),
        parameters=params,
        places={p["name"]: str(p.get("in", "")) for p in op.get("parameters") or ()},
        body=_content_schema((op.get("requestBody") or {}).get("content")),
        responses=tuple(
            Response(str(code), str(r.get("description") or ""), _content_schema(r.get("content")))
            for code, r in sorted((op.get("responses") or {}).items())
        ),
    )


def reference(spec: dict[str, Any]) -> tuple[list[Operation], list[Model]]:
    """Every operation (in the document's order of paths, then GET, POST, ...) and every schema."""
    operations = [
        _operation(path, method, item[method])
        for path, item in (spec.get("paths") or {}).items()
        for method in METHODS
        if method in item
    ]
    models = []
    for name, schema in sorted(((spec.get("components") or {}).get("schemas") or {}).items()):
        required = set(schema.get("required") or ())
        fields = tuple(
            Field(field, type_of(s), field in required, str(s.get("description") or s.get("title") or ""))
            for field, s in (schema.get("properties") or {}).items()
        )
        about = str(schema.get("description") or "")
        if "enum" in schema:  # an enumeration has values, not fields
            about = (about + " " if about else "") + type_of({"enum": schema["enum"]}).capitalize() + "."
        models.append(Model(name, about, fields))
    return operations, models
