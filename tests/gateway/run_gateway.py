"""Runs the gateway on the fixture contract as a real process (for network tests).

Usage: ``python run_gateway.py CONFIG.json`` where the JSON holds ``gateway``
(the raw unispec.yaml section) and ``services`` (name -> upstreams, timeouts,
enabled). Prints ``READY <url>`` once listening.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from gw_fixture_spec import make_spec

from unispec.gateway.server import run
from unispec.gateway.settings import parse_settings
from unispec.model import ServiceConfig


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    spec = make_spec()
    services = [
        ServiceConfig(
            name=name,
            spec=f"specs/{name}.yaml",
            upstreams=tuple(s.get("upstreams", ())),
            timeouts=s.get("timeouts", {"connect": 2, "read": 30}),
            enabled=s.get("enabled", True),
        )
        for name, s in config["services"].items()
    ]
    settings = parse_settings(config.get("gateway", {}), services, root=config.get("root", "."))
    run(spec, settings, mocks=False, on_ready=lambda p: print(f"READY {p.gateway_url}", flush=True))


if __name__ == "__main__":
    main()
