"""The params ``gitruns record`` logs into the run it owns.

``-p`` values are logged first and fixed for the run, like params the program logs itself.
Every other source (``--config`` files, the command's flags, the arguments the program
parsed, Hydra's composed config) is merged per leaf by precedence
(:mod:`gitruns.capture.param_merge`), logged at the start with what is known then, and
refined when the command has exited. A key the program logged itself keeps the program's
value: the recorder's sources only fill in what the program did not say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gitruns.capture.param_merge import merge_by_leaf, nest_dotted, rank
from gitruns.capture.secrets import redact_params
from gitruns.errors import InvalidInputError
from gitruns.format.validation import same_param_value
from gitruns.recording.active import ActiveRun
from gitruns.recording.staged_params import StagedParams


class RecordedParams:
    def __init__(self, run: ActiveRun, cli: Mapping[str, Any]) -> None:
        self.run = run
        self.cli = nest_dotted(cli)
        self.warnings: list[str] = []
        self._staged = StagedParams(run.run_dir)
        self._sources: dict[str, dict[str, str]] = {}

    def log(self, soft: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Log ``-p`` and the ``(source, params)`` pairs of ``soft``, merged per leaf; a
        key whose merged value or sources changed since the last call is logged again."""
        by_source = [("cli", self.cli), *[(s, _clean(redact_params(v))) for s, v in soft]]
        merged, sources = merge_by_leaf(by_source)
        theirs = {
            key
            for key, logged in self._staged.refresh().items()
            if logged.writer != self.run.run_dir
        }
        for key in sorted(merged):
            if key in theirs:
                continue  # the program logged it itself: its value stands
            value, leaf_sources = merged[key], sources[key]
            unchanged = key in self.run.params and self._sources.get(key) == leaf_sources
            if unchanged and same_param_value(self.run.params[key], value):
                continue
            top = min(leaf_sources.values(), key=rank)
            try:
                self.run.log_param(
                    key,
                    value,
                    source=top,
                    leaf_sources=leaf_sources if len(leaf_sources) > 1 else None,
                    replace=True,
                )
            except InvalidInputError as exc:
                self.warnings.append(f"param '{key[:60]}' from {top} not stored: {exc.message}")
                continue
            self._sources[key] = leaf_sources


def _clean(value: Any) -> Any:
    """Text that can be stored: lone surrogates (undecodable argv bytes) and NUL replaced."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    if isinstance(value, Mapping):
        return {_clean(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return value
