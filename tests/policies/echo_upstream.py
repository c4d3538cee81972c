"""A counting echo upstream for the policy end-to-end tests (its own process).

Every request is answered with JSON: the instance name, the path and the
headers it received. ``?status=N`` answers with status N. ``GET /__count``
returns how many requests each path received (the tests ask it directly, not
through the gateway). Usage: ``echo_upstream.py NAME [PORT]``; prints
``READY <url>`` when listening.
"""

from __future__ import annotations

import json
import socket
import sys
from collections import Counter
from typing import Any
from urllib.parse import parse_qs

import uvicorn

NAME = sys.argv[1] if len(sys.argv) > 1 else "upstream"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 0
COUNTS: Counter[str] = Counter()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        msg = await receive()
        more = msg.get("more_body", False)
    path = scope["path"]
    query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
    status = 200
    if path == "/__count":
        payload: Any = dict(COUNTS)
    else:
        COUNTS[path] += 1
        status = int(query.get("status", "200"))
        payload = {
            "instance": NAME,
            "path": path,
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
        }
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", PORT))
    sock.listen(1024)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, loop="uvloop", http="httptools", log_level="warning", access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    print(f"READY http://127.0.0.1:{port}", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
