"""JSON text exactly as ``json.dumps`` writes it, sooner for many small values.

``json.dumps`` builds an encoder (and its C encoder) for every call; a cold cache build
encodes six values a run, and the building was about a sixth of that time. These
encoders are built once. No check for circular containers is made (``json.dumps``
raises ValueError on one, these RecursionError): every value encoded here was read
from YAML or JSON, which make fresh, tree-shaped containers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json import encoder as _json_encoder
from typing import Any


def _not_serializable(value: Any) -> Any:
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def _encoder(sort_keys: bool) -> Callable[[Any], str]:
    make = getattr(_json_encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator in this Python: the standard encoder
        return json.JSONEncoder(sort_keys=sort_keys).encode
    iterencode = make(
        None,  # markers: no circular check
        _not_serializable,
        _json_encoder.encode_basestring_ascii,  # ensure_ascii=True, as json.dumps
        None,  # indent
        ": ",
        ", ",
        sort_keys,
        False,  # skipkeys
        True,  # allow_nan
    )

    def encode(value: Any) -> str:
        return "".join(iterencode(value, 0))

    return encode


dumps = _encoder(sort_keys=False)  # json.dumps(value)
dumps_sorted = _encoder(sort_keys=True)  # json.dumps(value, sort_keys=True)
