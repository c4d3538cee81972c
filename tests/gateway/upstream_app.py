"""A stand-in upstream for the gateway's network tests (run as its own process).

Not the built-in mock: it exists to observe what the gateway forwards (echo
with a body digest), to be slow on demand, to stream a large download and to
return responses that break the contract. Prints ``READY <url>`` when listening.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import sys
from typing import Any
from urllib.parse import parse_qs

import uvicorn


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
    digest = hashlib.sha256()
    size = 0
    more = True
    while more:
        msg = await receive()
        chunk = msg.get("body", b"")
        more = msg.get("more_body", False)
        digest.update(chunk)
        size += len(chunk)
    if path == "/download":
        total = int(query.get("size", "0"))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/octet-stream"),
                    (b"content-length", str(total).encode()),
                ],
            }
        )
        block = b"x" * (256 * 1024)
        sent = 0
        while sent < total:
            part = block[: min(len(block), total - sent)]
            sent += len(part)
            await send({"type": "http.response.body", "body": part, "more_body": sent < total})
        if total == 0:
            await send({"type": "http.response.body", "body": b""})
        return
    if path == "/slow":
        await asyncio.sleep(float(query.get("delay", "1")))
    status = 200
    if path == "/pets" and scope["method"] == "GET":
        payload: Any = [{"id": 1, "name": "rex"}]
        if query.get("bad"):
            payload = [{"id": "one"}]
    elif path == "/pets" and scope["method"] == "POST":
        status = 201
        payload = {"id": 7, "name": "new"}
    else:
        payload = {
            "method": scope["method"],
            "path": path,
            "raw_path": (scope.get("raw_path") or b"").decode("latin-1"),
            "query": scope["query_string"].decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
            "body_size": size,
            "body_sha256": digest.hexdigest(),
        }
    if query.get("status"):
        status = int(query["status"])
    body = json.dumps(payload).encode()
    ctype = query.get("ctype", "application/json").encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, loop="uvloop", http="httptools", log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    print(f"READY http://127.0.0.1:{port}", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    sys.exit(main())
