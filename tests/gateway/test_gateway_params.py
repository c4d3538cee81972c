"""Parameter deserialisation: every OpenAPI style/explode pair, with coercion."""

from __future__ import annotations

from typing import Any

import pytest

from unispec.gateway.params import MISSING, coerce, compile_reader

ARRAY = {"type": "array", "items": {"type": "integer"}}
OBJECT = {"type": "object", "properties": {"R": {"type": "integer"}, "G": {"type": "integer"}}}


def reader(location: str, schema: dict[str, Any], **extra: Any) -> Any:
    param = {"name": "color", "in": location, "schema": schema, **extra}
    return compile_reader(param, lambda s: s)[0]


@pytest.mark.parametrize(
    ("style", "explode", "raw", "expected"),
    [
        ("simple", False, "3,4,5", [3, 4, 5]),
        ("simple", True, "3,4,5", [3, 4, 5]),
        ("label", False, ".3,4,5", [3, 4, 5]),
        ("label", True, ".3.4.5", [3, 4, 5]),
        ("matrix", False, ";color=3,4,5", [3, 4, 5]),
        ("matrix", True, ";color=3;color=4;color=5", [3, 4, 5]),
    ],
)
def test_path_arrays(style: str, explode: bool, raw: str, expected: list[int]) -> None:
    assert reader("path", ARRAY, style=style, explode=explode).read_path(raw) == expected


@pytest.mark.parametrize(
    ("style", "explode", "raw"),
    [
        ("simple", False, "R,100,G,200"),
        ("simple", True, "R=100,G=200"),
        ("label", False, ".R,100,G,200"),
        ("label", True, ".R=100.G=200"),
        ("matrix", False, ";color=R,100,G,200"),
        ("matrix", True, ";R=100;G=200"),
    ],
)
def test_path_objects(style: str, explode: bool, raw: str) -> None:
    assert reader("path", OBJECT, style=style, explode=explode).read_path(raw) == {
        "R": 100,
        "G": 200,
    }


def test_query_styles() -> None:
    q = {"color": ["1", "2"], "R": ["100"], "G": ["200"], "other": ["x"]}
    assert reader("query", ARRAY).read_query(q) == [1, 2]
    assert reader("query", ARRAY, explode=False).read_query({"color": ["1,2,3"]}) == [1, 2, 3]
    assert reader("query", ARRAY, style="spaceDelimited", explode=False).read_query(
        {"color": ["1 2"]}
    ) == [1, 2]
    assert reader("query", ARRAY, style="pipeDelimited", explode=False).read_query(
        {"color": ["1|2"]}
    ) == [1, 2]
    assert reader("query", OBJECT).read_query(q) == {"R": 100, "G": 200}
    assert reader("query", OBJECT, explode=False).read_query({"color": ["R,1,G,2"]}) == {
        "R": 1,
        "G": 2,
    }
    deep = {"color[R]": ["100"], "color[G]": ["x"]}
    assert reader("query", OBJECT, style="deepObject").read_query(deep) == {"R": 100, "G": "x"}
    assert reader("query", {"type": "integer"}).read_query({}) is MISSING


def test_header_and_cookie() -> None:
    assert reader("header", ARRAY).read_value("1,2") == [1, 2]
    assert reader("header", OBJECT, explode=True).read_value("R=1,G=2") == {"R": 1, "G": 2}
    assert reader("cookie", {"type": "boolean"}).read_value("true") is True
    assert reader("cookie", {"type": "integer"}).read_value(None) is MISSING


def test_content_json_parameter() -> None:
    param = {"name": "f", "in": "query", "content": {"application/json": {"schema": OBJECT}}}
    r = compile_reader(param, lambda s: s)[0]
    assert r.read_query({"f": ['{"R": 1}']}) == {"R": 1}


def test_coercion_keeps_strings_that_do_not_parse() -> None:
    assert coerce("12", ("integer",)) == 12
    assert coerce("1.5", ("number",)) == 1.5
    assert coerce("nan", ("number",)) == "nan"
    assert coerce("x", ("integer",)) == "x"
    assert coerce("12", ("string",)) == "12"
    assert coerce("null", ("integer", "null")) is None
    assert coerce("yes", ("boolean",)) == "yes"
