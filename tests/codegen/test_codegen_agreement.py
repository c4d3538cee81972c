"""Property: a mutated example is rejected by the models exactly when the gateway rejects it.

The gateway validates bodies with jsonschema-rs (Draft 2020-12, formats checked);
clients validate with the generated pydantic models. Starting from every example
of the contract, hypothesis changes one spot (replace, delete, add, duplicate,
nudge) with values chosen around the known disagreements (formats, bool/int,
null, integral floats, Unicode digits, duplicates) and checks that both sides
give the same verdict, and that a rejection points at the same place (a model
error location lies on the path of a gateway error's instance path).
"""

from __future__ import annotations

import copy
from types import ModuleType
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

EDGE_STRINGS = [
    "",
    "x",
    "ABC_DEF",
    "5f0c8a7e-1b2d-4c3e-9f4a-6b7c8d9e0f1a",
    "5f0c8a7e1b2d4c3e9f4a6b7c8d9e0f1a",
    "5F0C8A7E-1B2D-4C3E-9F4A-6B7C8D9E0F1A",
    "2026-11-20T09:15:00Z",
    "2026-11-20T09:15:00",
    "2026-11-20",
    "2026-02-30",
    "2026-11-20T25:15:00Z",
    "a@b.com",
    "a@@b.com",
    "a@b",
    "https://learn.example/x",
    "learn.example/x",
    "RS101",
    "RS١٠١",
    "١٢٣",
    "beginner",
    "video",
    "text",
    "x" * 600,
]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=1000),
    st.sampled_from([0.0, 1.0, 4.0, 1.5, -0.5, 30.0, 1e4, 9999.99]),
    st.sampled_from(EDGE_STRINGS),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "kind", "id"]), inner, max_size=2),
    ),
    max_leaves=4,
)


def _locations(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_locations(child, (*path, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out.extend(_locations(child, (*path, index)))
    return out


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


@st.composite
def mutations(draw: st.DrawFn, value: Any) -> Any:
    value = copy.deepcopy(value)
    path = draw(st.sampled_from(_locations(value)))
    target = _get(value, path)
    kind = draw(st.sampled_from(["replace", "replace", "delete", "add", "duplicate", "nudge"]))

    def put(new: Any) -> Any:
        if not path:
            return new
        parent = _get(value, path[:-1])
        parent[path[-1]] = new
        return value

    if kind == "delete" and path:
        parent = _get(value, path[:-1])
        del parent[path[-1]]
        return value
    if kind == "add" and isinstance(target, dict):
        target[draw(st.sampled_from(["extra", "id", "kind", "replies"]))] = draw(json_values)
        return value
    if kind == "duplicate" and isinstance(target, list) and target:
        target.append(copy.deepcopy(target[draw(st.integers(0, len(target) - 1))]))
        return value
    if kind == "nudge":
        if isinstance(target, bool):
            return put(not target)
        if isinstance(target, int | float):
            return put(
                target + draw(st.sampled_from([-1, 1, 0.5, -1000, 10000]))
                if draw(st.booleans())
                else float(target)
            )
        if isinstance(target, str):
            choice = draw(
                st.sampled_from(["empty", "strip-dashes", "drop-last", "upper", "append"])
            )
            new = {
                "empty": "",
                "strip-dashes": target.replace("-", ""),
                "drop-last": target[:-1],
                "upper": target.upper(),
                "append": target + draw(st.sampled_from(["x", "@", "١", " ", "Z"])),
            }[choice]
            return put(new)
    return put(draw(json_values))


def _model_errors(validate: Any, instance: Any) -> list[tuple[Any, ...]] | None:
    """None when the model accepts ``instance``, else the error locations."""
    try:
        validate(copy.deepcopy(instance))
    except ValidationError as exc:
        return [tuple(e["loc"]) for e in exc.errors()]
    return None


def _instance_path(instance: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """A pydantic location as a path in the instance (union tags, model names dropped)."""
    path: list[Any] = []
    node = instance
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
            path.append(part)
    return tuple(path)


def _related(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def test_models_reject_exactly_what_the_gateway_rejects(generated: Any, cg: ModuleType) -> None:
    cases = []
    for ex in cg.iter_examples(generated.document):
        cases.append(
            (
                ex.where,
                cg.pydantic_validator(generated.module, ex.schema),
                cg.gateway_validator(generated.document, ex.schema),
                ex.value,
            )
        )
    assert cases
    rejected = 0

    @settings(
        max_examples=600,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.data())
    def check(data: st.DataObject) -> None:
        nonlocal rejected
        where, validate, gateway, example = data.draw(st.sampled_from(cases))
        mutated = data.draw(mutations(example))
        gateway_errors = [tuple(e.instance_path) for e in gateway.iter_errors(mutated)]
        model_errors = _model_errors(validate, mutated)
        assert (model_errors is None) == (not gateway_errors), (where, mutated, gateway_errors)
        if model_errors is None:
            return
        rejected += 1
        # ... and at the same place: some model error sits on the path of a gateway error
        # (one may be deeper: a failed oneOf is reported at the union, pydantic follows the tag).
        model_paths = [_instance_path(mutated, loc) for loc in model_errors]
        assert any(_related(m, g) for m in model_paths for g in gateway_errors), (
            where,
            mutated,
            model_errors,
            gateway_errors,
        )

    check()
    assert rejected > 50  # the mutations do hit constraints
