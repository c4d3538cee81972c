"""Copy-paste code samples that run against the gateway as written.

Each sample reads the bearer token from the ``TOKEN`` environment variable, so
the same text works in a shell, in Python and in Node without editing; path
and required query parameters are filled from the contract's examples.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

TOKEN_ENV = "TOKEN"


@dataclass(frozen=True)
class Request:
    """Everything a sample needs, already resolved from the contract."""

    method: str
    base_url: str
    path: str
    path_params: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    secured: bool = False
    media_type: str | None = None
    body: Any = None

    @property
    def url(self) -> str:
        path = self.path
        for name, value in self.path_params.items():
            path = path.replace("{" + name + "}", quote(_scalar(value), safe=""))
        url = self.base_url.rstrip("/") + path
        if self.query:
            url += "?" + urlencode({k: _scalar(v) for k, v in self.query.items()})
        return url


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _form_fields(body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        return {}
    return {str(k): _scalar(v) for k, v in body.items()}


def _is_json(media: str | None) -> bool:
    return bool(media) and (media == "application/json" or str(media).endswith("+json"))


def curl(req: Request) -> str:
    lines = [f"curl -sS -X {req.method.upper()} {shlex.quote(req.url)}"]
    if req.secured:
        lines.append(f'-H "Authorization: Bearer ${TOKEN_ENV}"')
    for name, value in req.headers.items():
        lines.append("-H " + shlex.quote(f"{name}: {value}"))
    media = req.media_type
    if media and req.body is not None:
        if media.startswith("multipart/"):
            for k, v in _form_fields(req.body).items():
                if isinstance(req.body.get(k), str) and k in ("file", "content", "data"):
                    lines.append("-F " + shlex.quote(f"{k}=@./{k}.bin"))
                else:
                    lines.append("-F " + shlex.quote(f"{k}={v}"))
        elif media == "application/x-www-form-urlencoded":
            for k, v in _form_fields(req.body).items():
                lines.append("--data-urlencode " + shlex.quote(f"{k}={v}"))
        elif _is_json(media):
            lines.append("-H 'Content-Type: " + media + "'")
            lines.append("-d " + shlex.quote(json.dumps(req.body, ensure_ascii=False)))
        else:
            lines.append("-H " + shlex.quote(f"Content-Type: {media}"))
            lines.append("--data-binary " + shlex.quote(_scalar(req.body)))
    return " \\\n  ".join(lines)


def _py(value: Any, indent: int = 4) -> str:
    """A Python literal (JSON with Python's True/False/None), indented for a call."""
    text = json.dumps(value, indent=4, ensure_ascii=False)
    text = (
        text.replace(": true", ": True").replace(": false", ": False").replace(": null", ": None")
    )
    if text in ("true", "false", "null"):
        text = {"true": "True", "false": "False", "null": "None"}[text]
    return text.replace("\n", "\n" + " " * indent)


def python_httpx(req: Request) -> str:
    lines = ["import os", "", "import httpx", "", "response = httpx.request("]
    lines.append(f"    {json.dumps(req.method.upper())},")
    lines.append(f"    {json.dumps(req.url)},")
    headers: dict[str, str] = dict(req.headers)
    header_items = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in headers.items()]
    if req.secured:
        header_items.insert(0, f'"Authorization": f"Bearer {{os.environ[\'{TOKEN_ENV}\']}}"')
    if header_items:
        lines.append("    headers={" + ", ".join(header_items) + "},")
    media = req.media_type
    if media and req.body is not None:
        if media.startswith("multipart/"):
            data = _form_fields(req.body)
            files = {k: v for k, v in data.items() if k in ("file", "content", "data")}
            rest = {k: v for k, v in data.items() if k not in files}
            if files:
                entries = ", ".join(f'"{k}": ("{k}.txt", b"hello", "text/plain")' for k in files)
                lines.append("    files={" + entries + "},")
            if rest:
                lines.append(f"    data={_py(rest)},")
        elif media == "application/x-www-form-urlencoded":
            lines.append(f"    data={_py(_form_fields(req.body))},")
        elif _is_json(media):
            lines.append(f"    json={_py(req.body)},")
        else:
            lines.append(f'    headers={{"Content-Type": {json.dumps(media)}}},')
            lines.append(f"    content={json.dumps(_scalar(req.body))}.encode(),")
    lines.append("    timeout=30,")
    lines.append(")")
    lines.append("print(response.status_code, response.text[:500])")
    return "\n".join(lines)


def javascript_fetch(req: Request) -> str:
    headers: dict[str, str] = {}
    if req.secured:
        headers["Authorization"] = "__TOKEN__"
    headers.update(req.headers)
    body_line = ""
    media = req.media_type
    if media and req.body is not None:
        if media.startswith("multipart/"):
            parts = ["const form = new FormData();"]
            for k, v in _form_fields(req.body).items():
                if k in ("file", "content", "data"):
                    parts.append(f'form.append({json.dumps(k)}, new Blob(["hello"]), "{k}.txt");')
                else:
                    parts.append(f"form.append({json.dumps(k)}, {json.dumps(v)});")
            body_line = "  body: form,\n"
            prefix = "\n".join(parts) + "\n"
        elif media == "application/x-www-form-urlencoded":
            params = json.dumps(_form_fields(req.body), indent=2, ensure_ascii=False)
            prefix = ""
            body_line = f"  body: new URLSearchParams({params}),\n"
        else:
            headers["Content-Type"] = media
            payload = json.dumps(req.body, indent=2, ensure_ascii=False).replace("\n", "\n  ")
            prefix = ""
            body_line = (
                f"  body: JSON.stringify({payload}),\n"
                if _is_json(media)
                else f"  body: {json.dumps(_scalar(req.body))},\n"
            )
    else:
        prefix = ""
    header_text = json.dumps(headers, indent=4, ensure_ascii=False).replace(
        '"__TOKEN__"', f"`Bearer ${{process.env.{TOKEN_ENV}}}`"
    )
    header_text = header_text.replace("\n}", "\n  }")
    return (
        f"{prefix}const response = await fetch({json.dumps(req.url)}, {{\n"
        f"  method: {json.dumps(req.method.upper())},\n"
        f"  headers: {header_text},\n"
        f"{body_line}"
        "});\n"
        "console.log(response.status, await response.text());"
    )
