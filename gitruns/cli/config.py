"""``gitruns config``: read and write gitruns' settings (kept in git config)."""

from __future__ import annotations

import click


@click.command("config")
@click.argument("key", required=False)
@click.argument("value", required=False)
@click.option("--gpu", "gpu_model", metavar="MODEL", help="Per GPU model (resources.gpuHourCost).")
@click.option("--unset", is_flag=True, help="Remove the setting.")
@click.option(
    "--global",
    "global_",
    is_flag=True,
    help="In your global git config (~/.gitconfig), not this repository's.",
)
@click.option("--list", "list_", is_flag=True, help="List the settings that are set.")
def command(
    key: str | None,
    value: str | None,
    gpu_model: str | None,
    unset: bool,
    global_: bool,
    list_: bool,
) -> None:
    """Show or set gitruns setting KEY (git config gitruns.KEY).

    With VALUE, set it; without, print it (exit 1 when unset). Settings:
    resources.gpuHourCost and resources.cpuHourCost (rates for the cost estimate of
    runs recorded from then on; a GPU-hour rate can be set per GPU model, as NVML names
    it), resources.currency, artifactStore, trashDays, allowUnpublishedCode.

    \b
    Examples:
      gitruns config resources.gpuHourCost 2.5
      gitruns config resources.gpuHourCost 4.1 --gpu "NVIDIA H200"
      gitruns config resources.currency USD --global
      gitruns config resources.gpuHourCost
      gitruns config --list
    """
    from gitruns.errors import InvalidInputError
    from gitruns.recording import settings
    from gitruns.recording.repository import open_store

    store = open_store(recover=False)
    scope = "global" if global_ else "local"
    if list_:
        for name, text in settings.all_values(store):
            click.echo(f"{name}={text}")
        return
    if key is None:
        raise InvalidInputError("no setting named", "give a KEY, or --list")
    item = settings.setting(key)
    if unset:
        if value is not None:
            raise InvalidInputError("--unset takes no VALUE", f"gitruns config {key} --unset")
        if not settings.unset_value(store, item, gpu_model=gpu_model, scope=scope):
            raise InvalidInputError(f"{item.key} is not set in the {scope} config", "")
        return
    if value is not None:
        settings.set_value(store, item, value, gpu_model=gpu_model, scope=scope)
        return
    current = settings.get_value(store, item, gpu_model)
    if current is None:
        raise InvalidInputError(
            f"{item.key} is not set", f"set it with 'gitruns config {item.key} VALUE'"
        )
    click.echo(current)


commands = [command]
