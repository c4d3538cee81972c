"""Fast paths of build (`--only`, fast YAML/JSON emit, in-place ref rewrites) change no byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from core_support import MakeProject, doc, op
from typer.testing import CliRunner

from unispec import emit, refs
from unispec.build import load_unified
from unispec.cli import app
from unispec.config import load_config
from unispec.load import load_services, parse_text
from unispec.merge import _InPlace, _rewrite_node, merge

runner = CliRunner()


def _pyyaml(data: Any) -> str:
    return yaml.dump(
        data,
        Dumper=emit._Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )


TRICKY: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Tricky: yes", "version": "1.0", "x-n": "0123"},
    "paths": {
        "/a/{id}": {
            "get": {
                "description": "word " * 40,
                "summary": "line one\nline two\n",
                "x-trail": "kept\n\n",
                "x-lead": "  leading spaces\nand more",
                "x-nested": [[1, 2], []],
                "responses": {"200": {"description": ""}},
            }
        }
    },
    "x-values": [
        True,
        None,
        0,
        -7,
        2**70,
        1.5,
        1e-05,
        float("inf"),
        "yes",
        "null",
        "~",
        "- dash",
        "# hash",
        "a: b",
        "ünïcödé ✓",
        "tab\there",
        "\x01control",
        {},
        [],
        {"k": "v", "deep": {"deeper": ["x" * 120, "y " * 70]}},
    ],
    "x-keys": {"200": 1, "true": 2, "with space": 3, "a/b": 4, "": 5, "k" * 130: 6},
}


def test_fast_yaml_matches_pyyaml_on_tricky_values() -> None:
    for data in (TRICKY, {"x": {"y": ["a " * 80, "b\nc"]}}, {}):
        assert emit.to_yaml(data) == _pyyaml(data).encode("utf-8")
    # Lists of lists, 130-character keys and `|+` scalars (a trailing `...`) make the whole
    # document fall back to PyYAML; without them the fast layout must run and agree.
    fast_doc = json.loads(json.dumps(TRICKY, allow_nan=True))
    get = fast_doc["paths"]["/a/{id}"]["get"]
    del get["x-nested"], get["x-trail"], fast_doc["x-keys"]["k" * 130]
    assert emit._FastYaml().document(fast_doc) == _pyyaml(fast_doc)


def test_fast_yaml_matches_pyyaml_on_the_demo_specs() -> None:
    root = Path(__file__).resolve().parents[2]
    for path in sorted((root / "specs").rglob("*.yaml")):
        data = parse_text(path.read_text(encoding="utf-8"), path.name)
        assert emit.to_yaml(data) == _pyyaml(data).encode("utf-8"), path


def test_json_is_the_stdlib_bytes() -> None:
    data = {"a": [1, 1.5, 1e-05, 1e16, 2**70, "é\u2028\x7f", {}, []], "b": {"c": None}}
    for plain in (True, False):
        got = emit.to_json(data, plain_numbers=plain)
        assert got == (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()
    files = emit.emit_document(data)
    assert files["openapi.json"] == (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()


def test_json_parse_keeps_big_integers_and_nan() -> None:
    assert parse_text('{"n": 123456789012345678901}', "x.json") == {"n": 123456789012345678901}
    value = parse_text('{"n": NaN, "m": 1.5}', "x.json")
    assert value["m"] == 1.5 and value["n"] != value["n"]


def test_iter_refs_pointers() -> None:
    node = {"a/b": {"$ref": "#/x"}, "l": [{"$ref": "#/y"}, {"c~d": {"$ref": "#/z"}}]}
    assert sorted(refs.iter_refs(node, "/root")) == [
        ("/root/a~1b", "#/x"),
        ("/root/l/0", "#/y"),
        ("/root/l/1/c~0d", "#/z"),
    ]


def test_in_place_rewrite_equals_copying_rewrite() -> None:
    mapping = {("schemas", "Money"): "Svc_Money", ("schemas", "A~B"): "Svc_AB"}
    mapping[("schemas", "Keep")] = "Keep"
    node = {
        "a": {"$ref": "#/components/schemas/Money"},
        "b": {"$ref": "#/components/schemas/Money/properties/x"},
        "c": {"$ref": "#/components/schemas/A~0B"},
        "d": {"$ref": "#/components/schemas/Keep"},
        "e": [{"discriminator": {"mapping": {"m": "Money", "k": "#/components/schemas/Money"}}}],
    }
    expected = _rewrite_node(node, mapping)
    assert _InPlace(mapping)(json.loads(json.dumps(node))) == expected
    assert expected["b"]["$ref"] == "#/components/schemas/Svc_Money/properties/x"


def test_build_only_contract_leaves_other_outputs(make_project: MakeProject) -> None:
    root = make_project({"a": doc({"/x": {"get": op("getX")}})})
    (root / "generated").mkdir()
    (root / "generated" / "models.py").write_text("# someone else's\n")
    result = runner.invoke(app, ["build", "--project", str(root), "--only", "contract", "-q"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (root / "generated").iterdir())
    assert names == ["errors.json", "models.py", "openapi.json", "openapi.yaml"]
    result = runner.invoke(app, ["check", "--project", str(root), "--only", "contract"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["build", "--project", str(root), "--only", "nope"])
    assert result.exit_code == 2
    assert "unknown build target" in result.output


def test_consuming_merge_equals_copying_merge(tmp_path: Path) -> None:
    """load_unified merges JSON-read documents in place: same contract, same bytes."""
    shared = {"$ref": "#/components/schemas/Money"}
    specs_dir = tmp_path / "specs"
    specs_dir.mkdir()
    services = {}
    for name, amount in (("a", "integer"), ("b", "string"), ("c", "integer")):
        document = doc(
            {f"/{name}/{{id}}": {"get": op(f"get{name}", schema=shared)}},
            components={
                "schemas": {"Money": {"type": "object", "properties": {"v": {"type": amount}}}}
            },
        )
        document["paths"][f"/{name}/{{id}}"]["get"]["parameters"] = [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
        ]
        (specs_dir / f"{name}.json").write_text(json.dumps(document))
        services[name] = {"spec": f"specs/{name}.json"}
    (tmp_path / "unispec.yaml").write_text(
        json.dumps({"info": {"title": "T", "version": "1"}, "services": services})
    )
    cfg = load_config(tmp_path)
    copied = merge(load_services(cfg.services, cfg.root, jobs=1), cfg)
    consumed = load_unified(config=cfg)
    assert emit.emit_document(consumed.document) == emit.emit_document(copied.document)
    assert consumed.errors == copied.errors
    assert "B_Money" in consumed.document["components"]["schemas"]
    assert consumed.sources is not None
    assert consumed.sources.get("/paths/~1b~1{id}/get") == copied.sources.get(
        "/paths/~1b~1{id}/get"
    )
