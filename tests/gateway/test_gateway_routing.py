"""The route table: resolution order, parameters, 405 data, flat matching cost."""

from __future__ import annotations

import time

import pytest

from unispec.gateway.routing import RouteConflict, Router


def router(*templates: str, method: str = "GET") -> Router[str]:
    r: Router[str] = Router()
    for t in templates:
        r.add(method, t, t)
    return r


def test_static_before_partial_before_param() -> None:
    r = router("/users/{id}", "/users/me", "/users/{name}.json")
    assert r.match("GET", "/users/me").target == "/users/me"
    m = r.match("GET", "/users/bob.json")
    assert m is not None and m.target == "/users/{name}.json" and m.params == {"name": "bob"}
    m = r.match("GET", "/users/42")
    assert m is not None and m.target == "/users/{id}" and m.params == {"id": "42"}


def test_backtracks_when_static_branch_dead_ends() -> None:
    r = router("/a/b/c", "/a/{x}/d")
    m = r.match("GET", "/a/b/d")
    assert m is not None and m.target == "/a/{x}/d" and m.params == {"x": "b"}


def test_parameter_names_per_template() -> None:
    r: Router[str] = Router()
    r.add("GET", "/users/{id}", "get")
    r.add("DELETE", "/users/{userId}", "delete")
    assert r.match("GET", "/users/7").params == {"id": "7"}  # type: ignore[union-attr]
    assert r.match("DELETE", "/users/7").params == {"userId": "7"}  # type: ignore[union-attr]


def test_percent_decoding_of_params_only() -> None:
    r = router("/files/{name}")
    m = r.match("GET", "/files/a%2Fb%20c")
    assert m is not None and m.params == {"name": "a/b c"}
    assert r.match("GET", "/files/a/b") is None


def test_method_mismatch_reports_allowed() -> None:
    r: Router[str] = Router()
    r.add("GET", "/x", "g")
    r.add("POST", "/x", "p")
    m = r.match("PUT", "/x")
    assert m is not None and m.target is None and m.allowed == ("GET", "HEAD", "POST")
    head = r.match("HEAD", "/x")
    assert head is not None and head.target == "g"  # HEAD is served by the GET operation
    r.add("HEAD", "/z", "h")
    r.add("GET", "/z", "zg")
    z = r.match("HEAD", "/z")
    assert z is not None and z.target == "h"  # a declared HEAD operation wins
    assert r.match("GET", "/y") is None
    assert r.match("GET", "/x/") is None
    assert r.match("GET", "/") is None


def test_empty_segment_does_not_match_param() -> None:
    r = router("/users/{id}")
    assert r.match("GET", "/users/") is None


def test_duplicate_route_rejected() -> None:
    r = router("/users/{id}")
    with pytest.raises(RouteConflict):
        r.add("GET", "/users/{other}", "dup")


def _cost(r: Router[str], path: str, rounds: int = 4000) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            r.match("GET", path)
        best = min(best, time.perf_counter() - start)
    return best / rounds


def test_matching_cost_is_flat_in_the_number_of_operations() -> None:
    small: Router[str] = Router()
    large: Router[str] = Router()
    for i in range(10):
        small.add("GET", f"/svc{i}/items/{{id}}", str(i))
    for i in range(5000):
        large.add("GET", f"/svc{i}/items/{{id}}", str(i))
    small_cost = _cost(small, "/svc9/items/42")
    large_cost = _cost(large, "/svc4999/items/42")
    assert large.size == 5000
    # A linear router would be ~500x slower here; allow noise on shared cores.
    assert large_cost < small_cost * 3, (small_cost, large_cost)
