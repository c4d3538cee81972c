"""A small OpenAPI 3.1 contract exercising every validation rule the gateway knows.

Kept as a Python dict (not YAML) so tests can build variants cheaply; it is a
unified document as merge would produce it: operationIds, ``x-service``,
components referenced with ``$ref`` (one of them circular).
"""

from __future__ import annotations

import copy
from typing import Any

from unispec.model import ServiceConfig, UnifiedSpec

ERROR = {"$ref": "#/components/responses/Error"}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "fixture", "version": "1.0.0"},
    "paths": {
        "/pets": {
            "get": {
                "operationId": "listPets",
                "x-service": "pets",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                    },
                    {
                        "name": "tags",
                        "in": "query",
                        "schema": {"type": "array", "items": {"type": "string"}},
                    },
                    {
                        "name": "ids",
                        "in": "query",
                        "style": "form",
                        "explode": False,
                        "schema": {"type": "array", "items": {"type": "integer"}},
                    },
                    {
                        "name": "filter",
                        "in": "query",
                        "style": "deepObject",
                        "schema": {
                            "type": "object",
                            "properties": {"age": {"type": "integer"}, "name": {"type": "string"}},
                        },
                    },
                    {
                        "name": "X-Client-Version",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[0-9]+\\.[0-9]+$"},
                    },
                    {
                        "name": "session",
                        "in": "cookie",
                        "schema": {"type": "string", "minLength": 3},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Pet"},
                                }
                            }
                        },
                    },
                    "default": ERROR,
                },
            },
            "post": {
                "operationId": "createPet",
                "x-service": "pets",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/NewPet"}},
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string", "minLength": 1},
                                    "age": {"type": "integer", "minimum": 0},
                                },
                            }
                        },
                    },
                },
                "responses": {
                    "201": {
                        "description": "created",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}
                        },
                    },
                    "default": ERROR,
                },
            },
        },
        "/pets/mine": {
            "get": {
                "operationId": "myPets",
                "x-service": "pets",
                "responses": {"200": {"description": "ok", "content": {"application/json": {}}}},
            }
        },
        "/pets/{id}": {
            "parameters": [{"$ref": "#/components/parameters/PetId"}],
            "get": {
                "operationId": "getPet",
                "x-service": "pets",
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}
                        },
                    },
                    "404": ERROR,
                },
            },
            "delete": {
                "operationId": "deletePet",
                "x-service": "pets",
                "responses": {"204": {"description": "gone"}},
            },
        },
        "/pets/{id}/photo.{ext}": {
            "get": {
                "operationId": "getPhoto",
                "x-service": "pets",
                "parameters": [
                    {"$ref": "#/components/parameters/PetId"},
                    {
                        "name": "ext",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": ["png", "jpg"]},
                    },
                ],
                "responses": {"200": {"description": "ok", "content": {"image/*": {}}}},
            }
        },
        "/trees": {
            "post": {
                "operationId": "createTree",
                "x-service": "pets",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Node"}}
                    },
                },
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/uploads": {
            "post": {
                "operationId": "uploadFile",
                "x-service": "files",
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file", "title"],
                                "properties": {
                                    "title": {"type": "string", "minLength": 2},
                                    "count": {"type": "integer"},
                                    "file": {"type": "string", "format": "binary"},
                                },
                            }
                        },
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        },
                    },
                },
                "responses": {"200": {"description": "ok", "content": {"application/json": {}}}},
            }
        },
        "/download": {
            "get": {
                "operationId": "download",
                "x-service": "files",
                "parameters": [{"name": "size", "in": "query", "schema": {"type": "integer"}}],
                "responses": {
                    "200": {"description": "ok", "content": {"application/octet-stream": {}}}
                },
            }
        },
        "/slow": {
            "get": {
                "operationId": "slow",
                "x-service": "files",
                "parameters": [{"name": "delay", "in": "query", "schema": {"type": "number"}}],
                "responses": {"200": {"description": "ok", "content": {"application/json": {}}}},
            }
        },
        "/echo": {
            "get": {
                "operationId": "echo",
                "x-service": "files",
                "responses": {"200": {"description": "ok", "content": {"application/json": {}}}},
            }
        },
        "/down": {
            "get": {
                "operationId": "down",
                "x-service": "ghost",
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/off": {
            "get": {
                "operationId": "off",
                "x-service": "disabled",
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/labels/{coords}": {
            "get": {
                "operationId": "labels",
                "x-service": "files",
                "parameters": [
                    {
                        "name": "coords",
                        "in": "path",
                        "required": True,
                        "style": "label",
                        "explode": False,
                        "schema": {"type": "array", "items": {"type": "integer"}, "maxItems": 3},
                    }
                ],
                "responses": {"200": {"description": "ok", "content": {"application/json": {}}}},
            }
        },
    },
    "components": {
        "parameters": {
            "PetId": {
                "name": "id",
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1},
            }
        },
        "schemas": {
            "Contact": {
                "type": "object",
                "required": ["email"],
                "properties": {
                    "email": {"type": "string", "format": "email"},
                    "phone": {"type": "string"},
                },
            },
            "NewPet": {
                "type": "object",
                "required": ["name", "contact"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "born": {"type": "string", "format": "date"},
                    "id": {"type": "string", "format": "uuid"},
                    "contact": {"$ref": "#/components/schemas/Contact"},
                },
            },
            "Pet": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {
                    "id": {"type": "integer", "readOnly": True},
                    "name": {"type": "string"},
                },
            },
            "Node": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                },
            },
            "Error": {
                "type": "object",
                "required": ["success", "error"],
                "properties": {"success": {"const": False}, "error": {"type": "object"}},
            },
        },
        "responses": {
            "Error": {
                "description": "error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        },
    },
}


def make_spec(document: dict[str, Any] | None = None) -> UnifiedSpec:
    doc = copy.deepcopy(document or DOCUMENT)
    services = (
        ServiceConfig(name="pets", spec="specs/pets.yaml"),
        ServiceConfig(name="files", spec="specs/files.yaml"),
        ServiceConfig(name="disabled", spec="specs/disabled.yaml", enabled=False),
    )
    return UnifiedSpec(document=doc, operations=(), errors=(), services=services)
