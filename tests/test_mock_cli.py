"""Mock upstreams as real HTTP servers: the MockFleet and the ``unispec mock`` command.

A throw-away project (unispec.yaml + two small service specs) goes through the
real load and merge, then every server listens on a free loopback port.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
import yaml
from typer.testing import CliRunner

from unispec.build import load_unified
from unispec.cli.mock import register
from unispec.gateway.mock import MockFleet

ERROR = {
    "type": "object",
    "required": ["success", "error"],
    "properties": {
        "success": {"const": False},
        "error": {
            "type": "object",
            "required": ["code", "message", "requestId"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "requestId": {"type": "string"},
            },
        },
    },
}

NOTE = {
    "type": "object",
    "required": ["id", "text"],
    "properties": {
        "id": {"type": "string", "format": "uuid", "readOnly": True},
        "text": {"type": "string", "minLength": 1, "maxLength": 200},
        "pinned": {"type": "boolean"},
    },
}
NOTE_ID = "9b2f7a1e-4c3d-4e5f-8a6b-7c8d9e0f1a2b"


def notes_spec() -> dict[str, Any]:
    ok_note = {
        "description": "The note.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["success", "data"],
                    "properties": {
                        "success": {"const": True},
                        "data": {"$ref": "#/components/schemas/Note"},
                    },
                },
                "example": {"success": True, "data": {"id": NOTE_ID, "text": "Buy milk"}},
            }
        },
    }
    missing = {
        "description": "No such note.",
        "x-error-codes": {"NOTE_NOT_FOUND": "The note does not exist."},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    note_id = {
        "name": "noteId",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
        "example": NOTE_ID,
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Notes", "version": "1.0.0"},
        "paths": {
            "/api/v1/notes": {
                "post": {
                    "operationId": "createNote",
                    "summary": "Create a note",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["text"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "text": {"type": "string", "minLength": 1},
                                        "pinned": {"type": "boolean"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            **ok_note,
                            "links": {
                                "GetNote": {
                                    "operationId": "getNote",
                                    "parameters": {"noteId": "$response.body#/data/id"},
                                },
                                "DeleteNote": {
                                    "operationId": "deleteNote",
                                    "parameters": {"noteId": "$response.body#/data/id"},
                                },
                            },
                        }
                    },
                }
            },
            "/api/v1/notes/{noteId}": {
                "get": {
                    "operationId": "getNote",
                    "summary": "Get a note",
                    "parameters": [note_id],
                    "responses": {"200": ok_note, "404": missing},
                },
                "delete": {
                    "operationId": "deleteNote",
                    "summary": "Delete a note",
                    "parameters": [note_id],
                    "responses": {"204": {"description": "Deleted."}, "404": missing},
                },
            },
        },
        "components": {"schemas": {"Note": NOTE, "Error": ERROR}},
    }


def ping_spec() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Ping", "version": "1.0.0"},
        "paths": {
            "/api/v1/ping": {
                "get": {
                    "operationId": "ping",
                    "summary": "Ping",
                    "responses": {
                        "200": {
                            "description": "Pong.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["pong", "at"],
                                        "properties": {
                                            "pong": {"const": True},
                                            "at": {"type": "string", "format": "date-time"},
                                        },
                                    }
                                }
                            },
                        }
                    },
                }
            }
        },
    }


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "notes.yaml").write_text(yaml.safe_dump(notes_spec()), encoding="utf-8")
    (tmp_path / "specs" / "ping.yaml").write_text(yaml.safe_dump(ping_spec()), encoding="utf-8")
    config = {
        "info": {"title": "Mock test", "version": "1.0.0"},
        "services": {"notes": {"spec": "specs/notes.yaml"}, "ping": {"spec": "specs/ping.yaml"}},
    }
    (tmp_path / "unispec.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return tmp_path


def test_fleet_serves_each_service_on_its_own_port(project: Path) -> None:
    spec = load_unified(project)
    fleet = MockFleet(spec, port=0)
    assert set(fleet.urls) == {"notes", "ping"}
    assert len(set(fleet.urls.values())) == 2
    fleet.start()
    try:
        with httpx.Client(base_url=fleet.urls["notes"], timeout=5) as notes:
            created = notes.post("/api/v1/notes", json={"text": "Call Ada", "pinned": True})
            assert created.status_code == 201
            note = created.json()["data"]
            assert note["text"] == "Call Ada" and note["pinned"] is True and note["id"] != NOTE_ID
            assert notes.get(f"/api/v1/notes/{note['id']}").json()["data"] == note
            assert notes.delete(f"/api/v1/notes/{note['id']}").status_code == 204
            gone = notes.get(f"/api/v1/notes/{note['id']}")
            assert gone.status_code == 404
            assert gone.json()["error"]["code"] == "NOTE_NOT_FOUND"
            assert notes.get("/api/v1/ping").status_code == 404  # other service's path
            assert notes.post("/api/v1/notes", json={"text": ""}).status_code == 422
        with httpx.Client(base_url=fleet.urls["ping"], timeout=5) as ping:
            body = ping.get("/api/v1/ping").json()
            assert body["pong"] is True and body["at"].endswith("Z")
    finally:
        fleet.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(fleet.urls["ping"] + "/api/v1/ping", timeout=2)


def test_cli_mock_serves_until_interrupted(project: Path) -> None:
    exe = Path(sys.executable).with_name("unispec")
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [str(exe), "mock", "--project", str(project), "--port", "0", "--service", "notes"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        url = None
        deadline = time.monotonic() + 30
        seen: list[str] = []
        assert proc.stdout is not None
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            m = re.search(r"notes\s.*?(http://127\.0\.0\.1:\d+)", line)
            if m:
                url = m.group(1)
        assert url is not None, "".join(seen)
        body: Any = None
        for _ in range(100):  # the table is printed just before the servers start
            try:
                body = httpx.get(f"{url}/api/v1/notes/{NOTE_ID}", timeout=2).json()
                break
            except httpx.ConnectError:
                time.sleep(0.05)
        assert body == {"success": True, "data": {"id": NOTE_ID, "text": "Buy milk"}}
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()


def test_cli_mock_rejects_unknown_service(project: Path) -> None:
    # only the mock command: importing unispec.cli would import every area (slow)
    cli_app = typer.Typer()
    cli_app.callback()(lambda: None)
    register(cli_app)
    result = CliRunner().invoke(cli_app, ["mock", "--project", str(project), "--service", "nope"])
    assert result.exit_code == 2
    assert "no service named 'nope'" in result.output


def test_cli_mock_port_in_use_is_a_clean_error(project: Path) -> None:
    cli_app = typer.Typer()
    cli_app.callback()(lambda: None)
    register(cli_app)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            cli_app, ["mock", "--project", str(project), "--service", "ping", "--port", str(port)]
        )
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
