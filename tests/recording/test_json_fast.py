"""gitruns.format.json_fast writes exactly the text of ``json.dumps``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitruns.format import json_fast

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**70, max_value=2**200)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=600, deadline=None)
@given(_values)
def test_the_text_is_json_dumps(value: Any) -> None:
    assert json_fast.dumps(value) == json.dumps(value)
    assert json_fast.dumps_sorted(value) == json.dumps(value, sort_keys=True)


def test_what_json_cannot_write_is_refused_as_json_dumps_refuses_it() -> None:
    for value in ({"a": {1, 2}}, [b"x"], {("t",): 1}):
        with pytest.raises(TypeError):
            json.dumps(value)
        with pytest.raises(TypeError):
            json_fast.dumps(value)
