"""The built-in mock upstream on a small hand-written contract (no demo needed).

Requests go through httpx's ASGI transport (in-process), which exercises the
whole Starlette app; the real-socket path is covered by the CLI test.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from typing import Any

import httpx
import jsonschema
import pytest

from unispec.errors import GatewayConfigError
from unispec.gateway.mock import build_mock_app, parse_prefer
from unispec.model import Operation, ServiceConfig, Source, UnifiedSpec

ERROR = {
    "type": "object",
    "required": ["success", "error"],
    "properties": {
        "success": {"const": False},
        "error": {
            "type": "object",
            "required": ["code", "message", "requestId"],
            "properties": {
                "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "code", "message"],
                        "properties": {
                            "field": {"type": "string"},
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                },
                "requestId": {"type": "string"},
            },
        },
    },
}

COURSE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "title", "level", "createdAt"],
    "properties": {
        "id": {"type": "string", "format": "uuid", "readOnly": True},
        "title": {"type": "string", "minLength": 3, "maxLength": 80},
        "level": {"type": "string", "enum": ["beginner", "intermediate", "advanced"]},
        "price": {"type": "number", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
        "createdAt": {"type": "string", "format": "date-time", "readOnly": True},
    },
}
COURSE_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["title", "level"],
    "properties": {
        "title": {"type": "string", "minLength": 3, "maxLength": 80},
        "level": {"type": "string", "enum": ["beginner", "intermediate", "advanced"]},
        "price": {"type": "number", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
        "contactEmail": {"type": "string", "format": "email"},
    },
}
ENVELOPE = {
    "type": "object",
    "required": ["success", "data"],
    "properties": {
        "success": {"const": True},
        "data": {"$ref": "#/components/schemas/Course"},
    },
}
EXAMPLE_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
EXAMPLE_COURSE = {
    "id": EXAMPLE_ID,
    "title": "Python for Data Engineers",
    "level": "intermediate",
    "price": 49.0,
    "tags": ["python"],
    "createdAt": "2026-01-10T10:00:00Z",
}


def _json(schema: Any, example: Any = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"application/json": media}


def _not_found() -> dict[str, Any]:
    return {
        "description": "No such course.",
        "x-error-codes": {"COURSE_NOT_FOUND": "The course does not exist."},
        "content": _json(
            {"$ref": "#/components/schemas/Error"},
            {
                "success": False,
                "error": {
                    "code": "COURSE_NOT_FOUND",
                    "message": "No such course.",
                    "requestId": "x",
                },
            },
        ),
    }


COURSE_PARAM = {
    "name": "courseId",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
    "example": EXAMPLE_ID,
}


def make_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "fixture", "version": "1"},
        "paths": {
            "/api/v1/courses": {
                "get": {
                    "operationId": "listCourses",
                    "x-service": "courses",
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "A page.",
                            "content": _json(
                                {
                                    "type": "object",
                                    "required": ["success", "data"],
                                    "properties": {
                                        "success": {"const": True},
                                        "data": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Course"},
                                        },
                                    },
                                }
                            ),
                        },
                        "422": {"$ref": "#/components/responses/ValidationError"},
                    },
                },
                "post": {
                    "operationId": "createCourse",
                    "x-service": "courses",
                    "requestBody": {
                        "required": True,
                        "content": _json({"$ref": "#/components/schemas/CourseInput"}),
                    },
                    "responses": {
                        "201": {
                            "description": "Created.",
                            "headers": {
                                "Location": {
                                    "required": True,
                                    "schema": {"type": "string"},
                                    "example": f"/api/v1/courses/{EXAMPLE_ID}",
                                },
                                "X-RateLimit-Remaining": {
                                    "required": True,
                                    "schema": {"type": "integer"},
                                },
                            },
                            "content": _json(
                                {"$ref": "#/components/schemas/CourseResponse"},
                                {"success": True, "data": EXAMPLE_COURSE},
                            ),
                            "links": {
                                "GetCourse": {
                                    "operationId": "getCourse",
                                    "parameters": {"courseId": "$response.body#/data/id"},
                                },
                                "UpdateCourse": {
                                    "operationId": "updateCourse",
                                    "parameters": {"courseId": "$response.body#/data/id"},
                                },
                                "DeleteCourse": {
                                    "operationId": "deleteCourse",
                                    "parameters": {"courseId": "$response.body#/data/id"},
                                },
                            },
                        },
                        "409": {
                            "description": "Duplicate title.",
                            "x-error-codes": {"COURSE_EXISTS": "Title taken."},
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Error"},
                                    "examples": {
                                        "duplicate": {
                                            "value": {
                                                "success": False,
                                                "error": {
                                                    "code": "COURSE_EXISTS",
                                                    "message": "A course with this title exists.",
                                                    "requestId": "r1",
                                                },
                                            }
                                        }
                                    },
                                }
                            },
                        },
                        "422": {"$ref": "#/components/responses/ValidationError"},
                    },
                },
            },
            "/api/v1/courses/{courseId}": {
                "parameters": [COURSE_PARAM],
                "get": {
                    "operationId": "getCourse",
                    "x-service": "courses",
                    "responses": {
                        "200": {
                            "description": "The course.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/CourseResponse"},
                                    "examples": {
                                        "python": {
                                            "value": {"success": True, "data": EXAMPLE_COURSE}
                                        },
                                        "rust": {
                                            "value": {
                                                "success": True,
                                                "data": {
                                                    **EXAMPLE_COURSE,
                                                    "title": "Rust in Production",
                                                },
                                            }
                                        },
                                    },
                                }
                            },
                        },
                        "404": _not_found(),
                        "422": {"$ref": "#/components/responses/ValidationError"},
                    },
                },
                "patch": {
                    "operationId": "updateCourse",
                    "x-service": "courses",
                    "requestBody": {
                        "required": True,
                        "content": _json(
                            {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    "title": {"type": "string", "minLength": 3},
                                    "price": {"type": "number", "minimum": 0},
                                },
                            }
                        ),
                    },
                    "responses": {
                        "200": {
                            "description": "Updated.",
                            "content": _json({"$ref": "#/components/schemas/CourseResponse"}),
                        },
                        "404": _not_found(),
                        "422": {"$ref": "#/components/responses/ValidationError"},
                    },
                },
                "delete": {
                    "operationId": "deleteCourse",
                    "x-service": "courses",
                    "responses": {"204": {"description": "Deleted."}, "404": _not_found()},
                },
            },
            "/api/v1/courses/{courseId}/lessons": {
                "post": {
                    "operationId": "createLesson",
                    "x-service": "courses",
                    "parameters": [COURSE_PARAM],
                    "requestBody": {
                        "required": True,
                        "content": _json(
                            {
                                "type": "object",
                                "required": ["title"],
                                "properties": {"title": {"type": "string", "minLength": 1}},
                            }
                        ),
                    },
                    "responses": {
                        "201": {
                            "description": "Created.",
                            "content": _json(
                                {
                                    "type": "object",
                                    "required": ["success", "data"],
                                    "properties": {
                                        "success": {"const": True},
                                        "data": {"$ref": "#/components/schemas/Lesson"},
                                    },
                                }
                            ),
                            "links": {
                                "GetLesson": {
                                    "operationId": "getLesson",
                                    "parameters": {
                                        "courseId": "$request.path.courseId",
                                        "lessonId": "$response.body#/data/id",
                                    },
                                }
                            },
                        },
                        "404": _not_found(),
                    },
                }
            },
            "/api/v1/courses/{courseId}/lessons/{lessonId}": {
                "get": {
                    "operationId": "getLesson",
                    "x-service": "courses",
                    "parameters": [
                        COURSE_PARAM,
                        {
                            "name": "lessonId",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The lesson.",
                            "content": _json(
                                {
                                    "type": "object",
                                    "required": ["success", "data"],
                                    "properties": {
                                        "success": {"const": True},
                                        "data": {"$ref": "#/components/schemas/Lesson"},
                                    },
                                }
                            ),
                        },
                        "404": _not_found(),
                    },
                }
            },
            "/api/v1/courses/{courseId}/students": {
                "get": {
                    "operationId": "listStudents",
                    "x-service": "courses",
                    "parameters": [COURSE_PARAM],
                    "responses": {
                        "200": {
                            "description": "Students.",
                            "content": _json({"type": "array", "items": {"type": "string"}}),
                        },
                        "404": _not_found(),
                    },
                }
            },
            "/api/v1/courses/{courseId}/materials": {
                "post": {
                    "operationId": "uploadMaterial",
                    "x-service": "courses",
                    "parameters": [COURSE_PARAM],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["file", "title"],
                                    "properties": {
                                        "file": {"type": "string", "format": "binary"},
                                        "title": {"type": "string", "minLength": 3},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "Stored.",
                            "content": _json(
                                {
                                    "type": "object",
                                    "required": ["size"],
                                    "properties": {"size": {"type": "integer", "minimum": 0}},
                                },
                                {"size": 5},
                            ),
                        },
                        "422": {"$ref": "#/components/responses/ValidationError"},
                    },
                }
            },
            "/api/v1/courses/{courseId}/events": {
                "get": {
                    "operationId": "streamCourseEvents",
                    "x-service": "courses",
                    "parameters": [COURSE_PARAM],
                    "responses": {
                        "200": {
                            "description": "Server-sent events.",
                            "content": {
                                "text/event-stream": {
                                    "schema": {"type": "string"},
                                    "example": 'event: lesson\ndata: {"n":1}\n\n'
                                    'event: lesson\ndata: {"n":2}\n\n',
                                }
                            },
                        }
                    },
                }
            },
            "/api/v1/courses/{courseId}/cover": {
                "get": {
                    "operationId": "downloadCover",
                    "x-service": "courses",
                    "parameters": [COURSE_PARAM],
                    "responses": {
                        "200": {
                            "description": "The image bytes.",
                            "content": {
                                "application/octet-stream": {
                                    "schema": {"type": "string", "format": "binary"}
                                }
                            },
                        }
                    },
                }
            },
            "/api/v1/stats": {
                "get": {
                    "operationId": "getStats",
                    "x-service": "courses",
                    "responses": {
                        "200": {
                            "description": "No example: synthesized.",
                            "content": _json(
                                {
                                    "type": "object",
                                    "required": ["total", "updatedAt", "owner"],
                                    "properties": {
                                        "total": {"type": "integer", "minimum": 10},
                                        "updatedAt": {"type": "string", "format": "date-time"},
                                        "owner": {"type": "string", "format": "email"},
                                    },
                                }
                            ),
                        }
                    },
                }
            },
            "/api/v1/users/{userId}": {
                "get": {
                    "operationId": "getUser",
                    "x-service": "users",
                    "parameters": [
                        {
                            "name": "userId",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {"description": "A user.", "content": _json({"type": "object"})}
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Error": ERROR,
                "Course": COURSE,
                "CourseInput": COURSE_INPUT,
                "CourseResponse": ENVELOPE,
                "Lesson": {
                    "type": "object",
                    "required": ["id", "title"],
                    "properties": {
                        "id": {"type": "string", "pattern": "^les_[0-9]+$"},
                        "title": {"type": "string"},
                    },
                },
            },
            "responses": {
                "ValidationError": {
                    "description": "Invalid request.",
                    "content": _json({"$ref": "#/components/schemas/Error"}),
                }
            },
        },
    }


def make_spec(document: dict[str, Any] | None = None) -> UnifiedSpec:
    doc = document if document is not None else make_document()
    ops = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            pointer = "/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method
            ops.append(
                Operation(
                    method, path, op["operationId"], op["x-service"], Source("f.yaml"), pointer
                )
            )
    services = (ServiceConfig("courses", "courses.yaml"), ServiceConfig("users", "users.yaml"))
    return UnifiedSpec(doc, tuple(ops), (), services)


class Client:
    """Synchronous calls into an ASGI app (one event loop per call; state lives in the app)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
                return await client.request(method, url, **kwargs)

        return asyncio.run(go())


def _validate(doc: dict[str, Any], schema: Any, value: Any) -> None:
    root = {**schema, "components": doc["components"]}
    cls = jsonschema.Draft202012Validator
    cls(root, format_checker=cls.FORMAT_CHECKER).validate(value)


@pytest.fixture()
def client() -> Client:
    return Client(build_mock_app(make_spec(), "courses"))


COURSES = "/api/v1/courses"


def test_example_answer_and_headers(client: Client) -> None:
    r = client.request("GET", f"{COURSES}/{EXAMPLE_ID}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"success": True, "data": EXAMPLE_COURSE}


def test_synthesized_answer_is_valid_and_stable(client: Client) -> None:
    doc = make_document()
    first = client.request("GET", "/api/v1/stats").json()
    again = Client(build_mock_app(make_spec(), "courses")).request("GET", "/api/v1/stats").json()
    assert first == again
    schema = doc["paths"]["/api/v1/stats"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    _validate(doc, schema, first)
    assert first["total"] >= 10


def test_list_without_example_is_synthesized_from_refs(client: Client) -> None:
    body = client.request("GET", COURSES).json()
    assert body["success"] is True
    assert isinstance(body["data"], list) and body["data"]
    _validate(make_document(), {"$ref": "#/components/schemas/Course"}, body["data"][0])


def test_prefer_code_and_example(client: Client) -> None:
    r = client.request("GET", f"{COURSES}/{EXAMPLE_ID}", headers={"Prefer": "code=404"})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "COURSE_NOT_FOUND"
    r = client.request("GET", f"{COURSES}/{EXAMPLE_ID}", headers={"Prefer": "example=rust"})
    assert r.json()["data"]["title"] == "Rust in Production"
    r = client.request(
        "POST",
        COURSES,
        json={"title": "Dup", "level": "beginner"},
        headers={"Prefer": "code=409, example=duplicate", "X-Request-ID": "req-42"},
    )
    assert r.status_code == 409
    assert r.json()["error"] == {
        "code": "COURSE_EXISTS",
        "message": "A course with this title exists.",
        "requestId": "req-42",
    }
    # undocumented status: ignored, the normal answer comes back
    assert (
        client.request("GET", f"{COURSES}/{EXAMPLE_ID}", headers={"Prefer": "code=418"}).status_code
        == 200
    )


def test_prefer_dynamic_returns_synthesized_value(client: Client) -> None:
    r = client.request("GET", f"{COURSES}/{EXAMPLE_ID}", headers={"Prefer": "dynamic=true"})
    assert r.status_code == 200
    body = r.json()
    assert body["data"] != EXAMPLE_COURSE
    _validate(make_document(), {"$ref": "#/components/schemas/CourseResponse"}, body)


def test_parse_prefer() -> None:
    assert parse_prefer('code=404; example="not found", dynamic=true') == {
        "code": "404",
        "example": "not found",
        "dynamic": "true",
    }
    assert parse_prefer(None) == {}
    assert parse_prefer("respond-async") == {}


def test_validation_rejects_with_every_violation(client: Client) -> None:
    r = client.request(
        "POST",
        COURSES,
        json={"title": "x", "level": "expert", "contactEmail": "nope", "extra": 1},
        headers={"X-Request-ID": "abc"},
    )
    assert r.status_code == 422
    body = r.json()
    _validate(make_document(), ERROR, body)
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert body["error"]["requestId"] == "abc"
    fields = {d["field"] for d in body["error"]["details"]}
    assert {"body.title", "body.level", "body.contactEmail"} <= fields
    r = client.request("GET", COURSES, params={"limit": "0"})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "query.limit"
    r = client.request("GET", f"{COURSES}/not-a-uuid")
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "path.courseId"


def test_missing_body_and_wrong_media_type(client: Client) -> None:
    r = client.request("POST", COURSES)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "body"
    r = client.request("POST", COURSES, content=b"title=x", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert r.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_unknown_path_and_method(client: Client) -> None:
    r = client.request("GET", "/nope")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NOT_FOUND"
    r = client.request("PUT", COURSES)
    assert r.status_code == 405
    assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    # another service's operation is not served here
    assert client.request("GET", "/api/v1/users/u1").status_code == 404


def test_stateful_lifecycle(client: Client) -> None:
    doc = make_document()
    created = client.request(
        "POST", COURSES, json={"title": "Go Concurrency", "level": "advanced", "price": 12.5}
    )
    assert created.status_code == 201
    assert "x-ratelimit-remaining" not in created.headers  # the gateway's header, not ours
    body = created.json()
    _validate(doc, ENVELOPE, body)
    course = body["data"]
    assert course["id"] != EXAMPLE_ID
    assert created.headers["location"] == f"/api/v1/courses/{course['id']}"
    assert (course["title"], course["level"], course["price"]) == (
        "Go Concurrency",
        "advanced",
        12.5,
    )

    fetched = client.request("GET", f"{COURSES}/{course['id']}")
    assert fetched.status_code == 200
    assert fetched.json()["data"] == course

    updated = client.request("PATCH", f"{COURSES}/{course['id']}", json={"price": 20})
    assert updated.status_code == 200
    _validate(doc, ENVELOPE, updated.json())
    assert updated.json()["data"]["price"] == 20
    assert updated.json()["data"]["title"] == "Go Concurrency"
    assert client.request("GET", f"{COURSES}/{course['id']}").json()["data"]["price"] == 20

    assert client.request("DELETE", f"{COURSES}/{course['id']}").status_code == 204
    gone = client.request("GET", f"{COURSES}/{course['id']}", headers={"X-Request-ID": "r-9"})
    assert gone.status_code == 404
    _validate(doc, ERROR, gone.json())
    assert gone.json()["error"]["code"] == "COURSE_NOT_FOUND"
    assert gone.json()["error"]["requestId"] == "r-9"
    assert (
        client.request("PATCH", f"{COURSES}/{course['id']}", json={"price": 1}).status_code == 404
    )
    assert client.request("DELETE", f"{COURSES}/{course['id']}").status_code == 404


def test_created_ids_are_fresh_and_deterministic() -> None:
    def ids() -> list[str]:
        c = Client(build_mock_app(make_spec(), "courses"))
        return [
            c.request("POST", COURSES, json={"title": f"Course {i}", "level": "beginner"}).json()[
                "data"
            ]["id"]
            for i in range(3)
        ]

    first = ids()
    assert len(set(first)) == 3
    assert first == ids()


def test_unknown_id_is_404_but_the_example_id_answers(client: Client) -> None:
    other = "00000000-0000-4000-8000-000000000000"
    assert client.request("GET", f"{COURSES}/{other}").status_code == 404
    assert client.request("GET", f"{COURSES}/{EXAMPLE_ID}").status_code == 200
    assert client.request("DELETE", f"{COURSES}/{EXAMPLE_ID}").status_code == 204
    assert client.request("GET", f"{COURSES}/{EXAMPLE_ID}").status_code == 404


def test_reset_endpoint_forgets_resources(client: Client) -> None:
    course = client.request("POST", COURSES, json={"title": "Elixir", "level": "beginner"}).json()
    cid = course["data"]["id"]
    assert client.request("GET", f"{COURSES}/{cid}").status_code == 200
    assert client.request("POST", "/__mock__/reset").status_code == 204
    assert client.request("GET", f"{COURSES}/{cid}").status_code == 404


def test_stateless_mode_always_answers_the_example() -> None:
    c = Client(build_mock_app(make_spec(), "courses", stateful=False))
    other = "00000000-0000-4000-8000-000000000000"
    r = c.request("GET", f"{COURSES}/{other}")
    assert r.status_code == 200
    assert r.json()["data"] == EXAMPLE_COURSE


def test_event_stream_is_streamed_event_by_event(client: Client) -> None:
    async def go() -> tuple[int, str, list[bytes]]:
        transport = httpx.ASGITransport(app=client.app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://mock") as c,
            c.stream("GET", f"{COURSES}/{EXAMPLE_ID}/events") as r,
        ):
            chunks = [chunk async for chunk in r.aiter_raw()]
            return r.status_code, r.headers["content-type"], chunks

    status, ctype, chunks = asyncio.run(go())
    assert status == 200
    assert ctype.startswith("text/event-stream")
    assert b"".join(chunks) == b'event: lesson\ndata: {"n":1}\n\nevent: lesson\ndata: {"n":2}\n\n'


def test_binary_response_is_deterministic(client: Client) -> None:
    a = client.request("GET", f"{COURSES}/{EXAMPLE_ID}/cover")
    b = client.request("GET", f"{COURSES}/{EXAMPLE_ID}/cover")
    assert a.status_code == 200
    assert a.headers["content-type"] == "application/octet-stream"
    assert a.content == b.content and len(a.content) > 0


def test_invalid_spec_example_is_replaced_and_reported() -> None:
    doc = make_document()
    broken = copy.deepcopy(doc)
    media = broken["paths"]["/api/v1/courses"]["post"]["responses"]["201"]["content"][
        "application/json"
    ]
    media["example"] = {"success": True, "data": {"id": 5}}
    problems: list[str] = []
    app = build_mock_app(make_spec(broken), "courses", on_problem=problems.append)
    assert problems and "createCourse 201" in problems[0]
    r = Client(app).request("POST", COURSES, json={"title": "Valid", "level": "beginner"})
    assert r.status_code == 201
    _validate(doc, ENVELOPE, r.json())


def test_validation_can_be_switched_off() -> None:
    c = Client(build_mock_app(make_spec(), "courses", validate=False))
    r = c.request("GET", f"{COURSES}/not-a-uuid", headers={"Prefer": "code=200"})
    assert r.status_code == 200
    assert json.loads(r.content)["data"] == EXAMPLE_COURSE


def test_unknown_service_is_a_config_error() -> None:
    with pytest.raises(GatewayConfigError, match="no service 'billing' in the contract"):
        build_mock_app(make_spec(), "billing")


def test_service_without_operations_answers_404() -> None:
    spec = make_spec()
    spec = UnifiedSpec(
        spec.document,
        spec.operations,
        (),
        (*spec.services, ServiceConfig("hooks", "hooks.yaml")),
    )
    r = Client(build_mock_app(spec, "hooks")).request("GET", "/anything")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NOT_FOUND"


def _get_by_int(op_id: str, param: str, responses: dict[str, Any]) -> dict[str, Any]:
    """A courses GET with one integer path parameter (the real-document shapes below)."""
    schema = {"type": "integer"}
    return {
        "get": {
            "operationId": op_id,
            "x-service": "courses",
            "parameters": [{"name": param, "in": "path", "required": True, "schema": schema}],
            "responses": responses,
        }
    }


def test_operation_without_success_response_answers_a_declared_status() -> None:
    # httpbin's /redirect/{n} declares only 302, Twilio's FetchDay only 307: the mock
    # answered an undeclared 204, which the gateway then rejected as a contract violation.
    doc = make_document()
    location = {"required": True, "schema": {"type": "string"}}
    doc["paths"]["/api/v1/go/{n}"] = _get_by_int(
        "goThere",
        "n",
        {
            "404": _not_found(),
            "307": {"description": "Temporary Redirect", "headers": {"Location": location}},
            "302": {"description": "Found", "headers": {"Location": {"example": "/x"}}},
        },
    )
    r = Client(build_mock_app(make_spec(doc), "courses")).request("GET", "/api/v1/go/3")
    assert r.status_code == 302
    assert r.headers["location"] == "/x"


def test_media_range_response_is_answered_with_a_concrete_content_type() -> None:
    # springdoc (and xkcd's spec) document responses as "*/*" with an object schema:
    # the mock sent Content-Type: */* (not a media type) and 1 KB of filler bytes.
    doc = make_document()
    comic = {"type": "object", "required": ["num"], "properties": {"num": {"type": "integer"}}}
    doc["paths"]["/api/v1/comics/{id}/info.0.json"] = _get_by_int(
        "getComic", "id", {"200": {"description": "ok", "content": {"*/*": {"schema": comic}}}}
    )
    image = {"type": "string", "format": "binary"}
    doc["paths"]["/api/v1/comics/{id}/image"] = _get_by_int(
        "getComicImage", "id", {"200": {"description": "ok", "content": {"*/*": {"schema": image}}}}
    )
    client = Client(build_mock_app(make_spec(doc), "courses"))
    r = client.request("GET", "/api/v1/comics/614/info.0.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    _validate(doc, comic, r.json())
    r = client.request("GET", "/api/v1/comics/614/image")
    assert r.headers["content-type"] == "application/octet-stream" and r.content


def test_sub_resources_follow_their_parent(client: Client) -> None:
    course = client.request("POST", COURSES, json={"title": "Haskell", "level": "advanced"})
    cid = course.json()["data"]["id"]
    lesson = client.request("POST", f"{COURSES}/{cid}/lessons", json={"title": "Monads"})
    assert lesson.status_code == 201
    lid = lesson.json()["data"]["id"]
    assert re.match(r"^les_[0-9]+$", lid)  # a fresh id that honours the id's pattern
    second = client.request("POST", f"{COURSES}/{cid}/lessons", json={"title": "Functors"})
    assert second.json()["data"]["id"] != lid
    got = client.request("GET", f"{COURSES}/{cid}/lessons/{lid}")
    assert got.status_code == 200
    assert got.json()["data"] == {"id": lid, "title": "Monads"}
    assert client.request("GET", f"{COURSES}/{cid}/students").status_code == 200

    assert client.request("DELETE", f"{COURSES}/{cid}").status_code == 204
    for method, url in [
        ("GET", f"{COURSES}/{cid}/lessons/{lid}"),
        ("GET", f"{COURSES}/{cid}/students"),
        ("POST", f"{COURSES}/{cid}/lessons"),
    ]:
        r = client.request(method, url, json={"title": "x"} if method == "POST" else None)
        assert r.status_code == 404, (method, url, r.text)
        assert r.json()["error"]["code"] == "COURSE_NOT_FOUND"


def test_sub_resource_of_unknown_parent_is_404(client: Client) -> None:
    other = "00000000-0000-4000-8000-000000000000"
    r = client.request("POST", f"{COURSES}/{other}/lessons", json={"title": "x"})
    assert r.status_code == 404
    assert (
        client.request("POST", f"{COURSES}/{EXAMPLE_ID}/lessons", json={"title": "x"}).status_code
        == 201
    )


def test_list_shows_created_resources_first(client: Client) -> None:
    before = client.request("GET", COURSES).json()["data"]
    ids = [
        client.request("POST", COURSES, json={"title": t, "level": "beginner"}).json()["data"]["id"]
        for t in ("First", "Second")
    ]
    listed = client.request("GET", COURSES)
    assert listed.status_code == 200
    body = listed.json()
    _validate(make_document(), {"$ref": "#/components/schemas/Course"}, body["data"][0])
    assert [c["id"] for c in body["data"][:2]] == ids[::-1]
    assert [c["title"] for c in body["data"][:2]] == ["Second", "First"]
    assert body["data"][2:] == before
    client.request("DELETE", f"{COURSES}/{ids[0]}")
    assert [c["id"] for c in client.request("GET", COURSES).json()["data"]][:1] == [ids[1]]


def test_multipart_upload_is_validated_while_streamed(client: Client) -> None:
    url = f"{COURSES}/{EXAMPLE_ID}/materials"
    big = b"x" * (6 * 1024 * 1024)
    ok = client.request("POST", url, files={"file": ("a.bin", big)}, data={"title": "Week 1"})
    assert ok.status_code == 201, ok.text
    assert ok.json() == {"size": 5}
    bad = client.request("POST", url, files={"file": ("a.bin", b"abc")}, data={"title": "W"})
    assert bad.status_code == 422
    assert [d["field"] for d in bad.json()["error"]["details"]] == ["body.title"]
    wrong = client.request("POST", url, json={"title": "Week 1"})
    assert wrong.status_code == 415
