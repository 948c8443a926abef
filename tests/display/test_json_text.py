"""``dumps_indented`` writes exactly what ``json.dumps(value, indent=2)`` writes."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitruns.display.json_text import dumps_indented, iter_indented_list

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**64, max_value=2**200)
    | st.floats()  # NaN and infinities included: json writes NaN, Infinity, -Infinity
    | st.text()  # any code point: json escapes what is not ASCII
)
_keys = st.text(max_size=4) | st.integers(-5, 5) | st.floats() | st.booleans() | st.none()
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(_keys, inner, max_size=4)
    ),
    max_leaves=30,
)


@given(_values)
def test_the_same_text_as_json_dumps(value: Any) -> None:
    assert dumps_indented(value) == json.dumps(value, indent=2)


@given(st.lists(_values, max_size=7), st.integers(1, 3))
def test_a_list_in_pieces_is_the_same_text(items: list[Any], batch: int) -> None:
    pieces = list(iter_indented_list(iter(items), batch))
    assert "".join(pieces) == json.dumps(items, indent=2)
    assert len(pieces) == len(items) // batch + 1


def test_a_run_record_shape() -> None:
    record = {
        "id": "x",
        "params": {"lr": 0.01, "model": {"layers": [1, 2, {"a": []}], "name": "bért"}},
        "metrics": {"acc": {"last": math.nan, "min": -math.inf, "max": 1e300, "count": 2}},
        "tags": {},
        "parents": [],
        "inputs": [{"path": "d", "digest": None}],
        "flag": True,
    }
    assert dumps_indented([record, record]) == json.dumps([record, record], indent=2)
    assert dumps_indented([]) == "[]"


@pytest.mark.parametrize("value", [{"a": object()}, [{"a": [object()]}], {(1, 2): {"a": []}}])
def test_what_json_refuses_is_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        json.dumps(value, indent=2)
    with pytest.raises(TypeError):
        dumps_indented(value)


def test_without_the_c_accelerator(monkeypatch: pytest.MonkeyPatch) -> None:
    from gitruns.display import json_text

    value = {"a": 1.5, "b": ["x", None, math.inf], "c": {}}
    with_c = json_text._encoder.__wrapped__(2)(value)
    monkeypatch.setattr(json_text, "_C_MAKE_ENCODER", None)
    assert json_text._encoder.__wrapped__(2)(value) == with_c
