"""A run's cost estimate, from rates the user configured (``gitruns config``); never guessed.

``gpu = sum over the GPUs the run used of GPU-hours x that GPU model's rate (else the
default rate)``, ``cpu = CPU-hours x the CPU rate``, ``total = gpu + cpu`` of the parts
that have a rate. A GPU whose model has no rate and no default makes the GPU part unknown:
it is left out rather than priced at a guess. Without any rate there is no estimate.
"""

from __future__ import annotations

from typing import Any, Protocol

from gitruns.errors import InvalidInputError
from gitruns.recording.settings import PREFIX, SETTINGS, check_value, git_key


class ConfigEntries(Protocol):
    """Where git config is read from: ``Store``, or ``runwrite.PlainRepo`` (what the git
    probe read of it) at the end of a record that never loads pygit2."""

    def config_entries(self, prefix: str) -> dict[str, str]: ...


class CostRates:
    """The cost rates configured in git config."""

    # a plain class: no `dataclasses` (and `inspect`) on record's path (recorder.RecordOptions)
    __slots__ = ("cpu_hour", "currency", "gpu_hour", "gpu_hour_by_model")

    def __init__(
        self,
        gpu_hour: float | None = None,
        gpu_hour_by_model: dict[str, float] | None = None,  # model lower-cased
        cpu_hour: float | None = None,
        currency: str | None = None,
    ) -> None:
        self.gpu_hour = gpu_hour
        self.gpu_hour_by_model = {} if gpu_hour_by_model is None else gpu_hour_by_model
        self.cpu_hour = cpu_hour
        self.currency = currency

    def is_empty(self) -> bool:
        return self.gpu_hour is None and not self.gpu_hour_by_model and self.cpu_hour is None

    def for_gpu(self, model: str | None) -> float | None:
        if model is not None and model.lower() in self.gpu_hour_by_model:
            return self.gpu_hour_by_model[model.lower()]
        return self.gpu_hour


def configured_rates(store: ConfigEntries) -> CostRates:
    """The rates in git config; a value that is not a number is ignored (it cannot have
    been written by ``gitruns config``, which checks it)."""
    section = PREFIX + "resources."
    entries = store.config_entries(section)  # git config read once, not once a key

    def value(key: str) -> str | None:  # names come lower case but for subsections
        return entries.get(git_key(SETTINGS[key]).lower()) or None

    rates = CostRates(
        gpu_hour=_number(value("resources.gpuhourcost")),
        cpu_hour=_number(value("resources.cpuhourcost")),
        currency=value("resources.currency"),
    )
    for name, value_text in entries.items():
        head, _, variable = name[len(section) :].rpartition(".")
        number = _number(value_text)
        if head and variable.lower() == "gpuhourcost" and number is not None:
            rates.gpu_hour_by_model[head.lower()] = number
    return rates


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(check_value(SETTINGS["resources.gpuhourcost"], text))
    except InvalidInputError:
        return None


def estimate(resources: dict[str, Any], rates: CostRates) -> dict[str, Any] | None:
    """The ``cost`` mapping for a run's resources, or None when no rate applies."""
    if rates.is_empty():
        return None
    cost: dict[str, Any] = {}
    used = [g for g in resources.get("gpus") or [] if g.get("used")]
    gpu_rates = {str(g.get("name")): rates.for_gpu(g.get("name")) for g in used}
    if (rates.gpu_hour is not None or rates.gpu_hour_by_model) and None not in gpu_rates.values():
        cost["gpu"] = round(sum(g["hours"] * (gpu_rates[str(g.get("name"))] or 0) for g in used), 4)
        cost["gpu_hour_rates"] = [{"model": m, "rate": r} for m, r in sorted(gpu_rates.items())]
    if rates.cpu_hour is not None and "cpu_hours" in resources:
        cost["cpu"] = round(resources["cpu_hours"] * rates.cpu_hour, 4)
        cost["cpu_hour_rate"] = rates.cpu_hour
    if "gpu" not in cost and "cpu" not in cost:
        return None
    cost["total"] = round(cost.get("gpu", 0.0) + cost.get("cpu", 0.0), 4)
    if rates.currency:
        cost["currency"] = rates.currency
    return cost
