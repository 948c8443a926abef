"""gitruns' settings, kept in git config under the ``gitruns`` section.

A setting's user-facing key (``resources.gpuHourCost``) is the git config key without its
``gitruns.`` prefix: ``[gitruns "resources"] gpuHourCost = 2.5``. A cost per GPU model is
the same key with the model as part of the subsection:
``[gitruns "resources.NVIDIA H200"] gpuHourCost = 4.1`` (a model name may hold spaces
and dots; git config allows that in a subsection and nowhere else).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitruns.errors import GitrunsError, InvalidInputError

if TYPE_CHECKING:  # costs.py reads settings at the end of a record that never loads pygit2
    from gitruns.storage import Store

PREFIX = "gitruns."


# a plain class, not a dataclass nor a NamedTuple: less of `record`'s start-up
# (git_probe.ProbedRepo)
class Setting:
    """One of gitruns' settings in git config."""

    __slots__ = ("help", "key", "kind", "per_gpu_model")

    def __init__(self, key: str, kind: str, help: str, per_gpu_model: bool = False) -> None:
        self.key = key  # as users write it
        self.kind = kind  # "number" (>= 0), "days" (an integer >= 0), "bool", "text"
        self.help = help
        self.per_gpu_model = per_gpu_model


SETTINGS: dict[str, Setting] = {
    s.key.lower(): s
    for s in (
        Setting(
            "resources.gpuHourCost",
            "number",
            "cost of one GPU-hour, for the cost estimate of runs (per GPU model with --gpu)",
            per_gpu_model=True,
        ),
        Setting("resources.cpuHourCost", "number", "cost of one CPU-hour (one core for an hour)"),
        Setting("resources.currency", "text", "currency the costs are in, shown beside them"),
        Setting("artifactStore", "text", "folder of the artifact store (docs/storage-format.md)"),
        Setting("trashDays", "days", "days a deleted run stays restorable (gitruns rm)"),
        Setting(
            "allowUnpublishedCode", "bool", "push runs whose code commit is on no remote branch"
        ),
    )
}


def setting(key: str) -> Setting:
    """The setting named ``key`` (case-insensitively), or a clear error."""
    found = SETTINGS.get(key.removeprefix(PREFIX).lower())
    if found is None:
        known = ", ".join(s.key for s in SETTINGS.values())
        raise InvalidInputError(f"unknown setting '{key}'", f"settings are: {known}")
    return found


def git_key(item: Setting, gpu_model: str | None = None) -> str:
    """``resources.gpuHourCost`` -> ``gitruns.resources.gpuHourCost``; with a GPU model,
    ``gitruns.resources.<model>.gpuHourCost``."""
    if gpu_model is None:
        return PREFIX + item.key
    if not item.per_gpu_model:
        raise InvalidInputError(f"{item.key} is not set per GPU model", "leave out --gpu")
    model = gpu_model.strip()
    if not model or any(c in model for c in '\n\0"\\'):
        raise InvalidInputError(f"GPU model {gpu_model!r} cannot be a config key", "check it")
    section, _, name = item.key.rpartition(".")
    return f"{PREFIX}{section}.{model}.{name}"


def check_value(item: Setting, text: str) -> str:
    """The value as it will be written, or an error saying what the setting takes."""
    value = text.strip()
    if item.kind == "number":
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not number >= 0 or number == float("inf"):
            raise InvalidInputError(f"{item.key} must be a number >= 0, not {text!r}", "e.g. 2.5")
    elif item.kind == "days":
        if not value.isdigit():
            raise InvalidInputError(f"{item.key} must be whole days, not {text!r}", "e.g. 30")
    elif item.kind == "bool":
        if value.lower() not in ("true", "false", "yes", "no", "on", "off", "1", "0"):
            raise InvalidInputError(f"{item.key} must be true or false, not {text!r}", "")
    elif not value or "\n" in value:
        raise InvalidInputError(f"{item.key} needs a one-line value", "give one")
    return value


def get_value(store: Store, item: Setting, gpu_model: str | None = None) -> str | None:
    return store.config_value(git_key(item, gpu_model))


def set_value(
    store: Store, item: Setting, value: str, *, gpu_model: str | None = None, scope: str = "local"
) -> None:
    """Write a setting with the git CLI (``scope``: ``local`` or ``global``)."""
    checked = check_value(item, value)
    store.git("config", f"--{scope}", git_key(item, gpu_model), checked)


def unset_value(
    store: Store, item: Setting, *, gpu_model: str | None = None, scope: str = "local"
) -> bool:
    """Remove a setting; False when it was not set at that scope."""
    key = git_key(item, gpu_model)
    if key.lower() not in {k.lower() for k in _entries(store, scope)}:
        return False
    store.git("config", f"--{scope}", "--unset-all", key)
    return True


def _entries(store: Store, scope: str) -> list[str]:
    try:
        listing = store.git("config", f"--{scope}", "--name-only", "--list")
    except GitrunsError:  # no such file yet: nothing is set there
        return []
    return listing.splitlines()


def all_values(store: Store) -> list[tuple[str, str]]:
    """Every gitruns setting that is set, as (user-facing key, value), sorted; a per-model
    cost is shown as ``resources.gpuHourCost[<model>]``."""
    shown: list[tuple[str, str]] = []
    for name, value in store.config_entries(PREFIX).items():
        user_key = display_key(name)
        if user_key is not None:
            shown.append((user_key, value))
    return sorted(shown, key=lambda item: item[0].lower())


def display_key(git_name: str) -> str | None:
    """A git config name (as git reports it) as the user-facing key, or None if it is not
    one of gitruns' settings."""
    rest = git_name[len(PREFIX) :]
    head, _, variable = rest.rpartition(".")
    for item in SETTINGS.values():
        section, _, name = item.key.rpartition(".")
        if variable.lower() != name.lower():
            continue
        if head.lower() == section.lower():
            return item.key
        if item.per_gpu_model and head.lower().startswith(section.lower() + "."):
            return f"{item.key}[{head[len(section) + 1 :]}]"
    return None
