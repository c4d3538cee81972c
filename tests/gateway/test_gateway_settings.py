"""The gateway section of unispec.yaml: defaults, overrides, errors naming the key."""

from __future__ import annotations

import pytest

from unispec.errors import GatewayConfigError
from unispec.gateway.settings import parse_settings
from unispec.model import ServiceConfig


def test_defaults_and_services() -> None:
    s = parse_settings(
        None,
        [ServiceConfig("a", "a.yaml", upstreams=("http://127.0.0.1:1/",), timeouts={"connect": 1})],
    )
    assert s.port == 8080 and s.max_body_size == 10 * 1024 * 1024
    assert s.response_validation == "report"
    assert s.services["a"].upstreams == ("http://127.0.0.1:1",)
    assert s.services["a"].connect_timeout == 1.0 and s.services["a"].read_timeout == 30.0


def test_cli_overrides_win() -> None:
    s = parse_settings(
        {"port": 1, "response_validation": "off"}, port=2, response_validation="enforce"
    )
    assert s.port == 2 and s.response_validation == "enforce"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"max_body_size": "big"}, "gateway.max_body_size"),
        ({"response_validation": "sometimes"}, "gateway.response_validation"),
        ({"cors": {"allow_origins": "*", "allow_credentials": True}}, "gateway.cors.allow_origins"),
        ({"cors": []}, "gateway.cors"),
        ({"typo": 1}, "gateway.typo"),
        ({"port": 70000}, "gateway.port"),
        ({"upstream_pool": {"max_connections": 0}}, "gateway.upstream_pool.max_connections"),
    ],
)
def test_errors_name_the_file_and_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(GatewayConfigError) as info:
        parse_settings(raw)
    assert str(info.value).startswith(f"unispec.yaml: {key}:")


def test_bad_service_settings() -> None:
    with pytest.raises(GatewayConfigError, match=r"services\.a\.upstream\[0\]"):
        parse_settings({}, [ServiceConfig("a", "a.yaml", upstreams=("ftp://x",))])
    with pytest.raises(GatewayConfigError, match=r"services\.a\.timeouts\.read"):
        parse_settings({}, [ServiceConfig("a", "a.yaml", timeouts={"read": -1})])
