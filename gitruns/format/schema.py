"""JSON Schema validation of run files, on write and on read (jsonschema loads lazily)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from gitruns.errors import InvalidRunError
from gitruns.format import schema_fast


@cache
def _validator(name: str) -> Any:
    from importlib import resources  # 9-13 ms to import: `record` finalises without it

    import jsonschema

    text = resources.files("gitruns").joinpath(f"schemas/{name}.schema.json").read_text()
    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def validate(name: str, document: Any, where: str) -> None:
    """Raise InvalidRunError naming ``where`` unless ``document`` fits schema ``name``."""
    if schema_fast.accepts(name, document):
        return  # certainly valid, found without jsonschema (a third of a cold cache build)
    error = next(iter(_validator(name).iter_errors(document)), None)
    if error is not None:
        location = "/".join(str(part) for part in error.absolute_path) or "(top)"
        raise InvalidRunError(
            f"{where} does not match the {name} schema at {location}: {error.message[:200]}",
            "repair or remove the run",
        )
