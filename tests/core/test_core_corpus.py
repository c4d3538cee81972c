"""Robustness on real public documents from ../shared/corpus."""

from __future__ import annotations

import glob
import json
import re
from pathlib import Path
from typing import Any

import pytest
from core_support import CORPUS, write_yaml
from openapi_spec_validator import OpenAPIV31SpecValidator

from unispec.build import load_unified
from unispec.errors import LoadError
from unispec.model import UnifiedSpec
from unispec.refs import iter_refs, resolve


def _project(
    tmp_path: Path, files: list[str], prefixes: bool = False, extra: dict[str, Any] | None = None
) -> Path:
    services: dict[str, Any] = {}
    for f in sorted(files):
        name = re.sub(r"[^a-z0-9]+", "-", Path(f).stem.lower()).strip("-")
        if not name[0].isalpha():
            name = "s-" + name
        services[name] = {"spec": str(Path(f).resolve())}
        if prefixes:
            # Each Vonage product lives on its own base URL: mount each under its name.
            services[name]["operation_id_prefix"] = name.replace("-", "_") + "_"
            services[name]["path_prefix"] = "/" + name
    root = tmp_path / "project"
    config = {
        "info": {"title": "Corpus", "version": "1.0.0"},
        "services": services,
        **(extra or {}),
    }
    write_yaml(root / "unispec.yaml", config)
    return root


def _assert_sound(spec: UnifiedSpec) -> None:
    doc = spec.document
    for _ptr, ref in iter_refs(doc):
        assert ref.startswith("#/"), f"external ref left: {ref}"
        resolve(doc, ref)
    text = json.dumps(doc)
    assert str(CORPUS) not in text and "/work/" not in text
    assert all(op.operation_id for op in spec.operations)
    assert len({op.operation_id for op in spec.operations}) == len(spec.operations)


def _valid_31(doc: dict[str, Any]) -> None:
    errors = [e.message for e in OpenAPIV31SpecValidator(doc).iter_errors()]
    assert errors == []


def test_corpus_exists() -> None:
    assert (CORPUS / "stripe" / "openapi" / "spec3.yaml").is_file(), CORPUS


@pytest.mark.parametrize(
    "path",
    sorted(
        [
            *glob.glob(str(CORPUS / "oai-examples/examples/v3.[01]/*.yaml")),
            str(CORPUS / "swagger-petstore-v3/src/main/resources/openapi.yaml"),
        ]
    ),
    ids=lambda p: Path(p).name,
)
def test_small_documents_load_and_round_trip(tmp_path: Path, path: str) -> None:
    spec = load_unified(_project(tmp_path, [path]))
    _assert_sound(spec)
    _valid_31(spec.document)
    again = load_unified(_project(tmp_path / "again", [path]))
    assert json.dumps(again.document) == json.dumps(spec.document)


def test_openapi_32_rejected_cleanly(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"3\.2\.0 is not supported"):
        load_unified(
            _project(tmp_path, [str(CORPUS / "oai-examples/examples/v3.2/3.2-tags-example.yaml")])
        )


def test_tomp_modules_merge_cleanly(tmp_path: Path) -> None:
    files = sorted(glob.glob(str(CORPUS / "tomp-api/*.yaml")))
    assert len(files) == 10
    spec = load_unified(_project(tmp_path, files))
    _assert_sound(spec)
    _valid_31(spec.document)
    assert len(spec.operations) == 46
    # Core components pulled into 9 modules merge back into one definition each.
    assert not [n for n in spec.document["components"]["schemas"] if re.match(r"^Tomp", n)]
    assert any(f.rule == "pattern-dialect" for f in spec.findings)


def test_vonage_valid_products_merge_with_prefixes(tmp_path: Path) -> None:
    files = sorted(glob.glob(str(CORPUS / "vonage-nexmo/definitions/**/*.yml"), recursive=True))
    invalid = {"reports.yml", "voice.v2.yml", "common_errors.yml"}
    valid = [f for f in files if Path(f).name not in invalid or "vonage-business-cloud" in f]
    extra = {"merge": {"allow_tag_conflicts": True}}
    spec = load_unified(_project(tmp_path, valid, prefixes=True, extra=extra))
    _assert_sound(spec)
    _valid_31(spec.document)
    schemes = spec.document["components"]["securitySchemes"]
    assert len(schemes) > 4  # clashing scheme definitions kept apart


def test_vonage_invalid_documents_give_clean_listing(tmp_path: Path) -> None:
    files = [
        str(CORPUS / "vonage-nexmo/definitions/reports.yml"),
        str(CORPUS / "vonage-nexmo/definitions/voice.v2.yml"),
    ]
    with pytest.raises(LoadError) as info:
        load_unified(_project(tmp_path, files, prefixes=True))
    text = str(info.value)
    assert "reports.yml:" in text and "/default" in text and "is not one of" in text
    assert "voice.v2.yml:" in text and "points to a str" in text


def test_adyen_services_namespaced_no_dangling(tmp_path: Path) -> None:
    files = sorted(glob.glob(str(CORPUS / "adyen/json/*.json")))
    spec = load_unified(_project(tmp_path, files))
    _assert_sound(spec)
    schemas = spec.document["components"]["schemas"]
    namespaced = [n for n in schemas if "_" in n and n.split("_", 1)[0][:1].isupper()]
    assert len(namespaced) >= 63
    assert "webhooks" in spec.document


def test_stripe_alone_keeps_cycles_as_refs(tmp_path: Path) -> None:
    spec = load_unified(_project(tmp_path, [str(CORPUS / "stripe/openapi/spec3.yaml")]))
    _assert_sound(spec)
    assert len(spec.operations) == 468
    account = spec.document["components"]["schemas"]["account"]
    assert "$ref" in json.dumps(account)
