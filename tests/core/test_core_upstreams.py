"""Which upstream a service gets: configured URL, else its spec's servers, else the mock."""

from __future__ import annotations

from core_support import MakeProject, doc, op

from unispec.build import load_unified
from unispec.cli.gateway import default_upstreams
from unispec.config import load_config


def test_spec_servers_are_the_default_upstream(make_project: MakeProject) -> None:
    specs = {
        "a": doc({"/a": {"get": op("getA")}}, servers=[{"url": "http://127.0.0.1:9301/"}]),
        "b": doc({"/b": {"get": op("getB")}}, servers=[{"url": "http://127.0.0.1:9302"}]),
        "c": doc({"/c": {"get": op("getC")}}, servers=[{"url": "/relative"}]),
        "d": doc({"/d": {"get": op("getD")}}),
    }
    root = make_project(
        specs,
        services_extra={"b": {"upstream": "mock"}, "d": {"upstream": "http://127.0.0.1:9400"}},
    )
    config = load_config(root)
    chosen = {s.name: s.upstreams for s in default_upstreams(config.services, load_unified(root))}
    assert chosen == {
        "a": ("http://127.0.0.1:9301/",),
        "b": (),  # `upstream: mock` wins over the spec's servers
        "c": (),  # a relative server URL is no upstream: built-in mock
        "d": ("http://127.0.0.1:9400",),
    }
