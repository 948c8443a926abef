"""``gitruns config``: settings in git config, read by the real git CLI as well."""

from __future__ import annotations

from pathlib import Path

from conftest import git, gitruns_cli


def test_set_get_list_and_unset(repo: Path, isolated_environment: Path) -> None:
    assert gitruns_cli(repo, "config", "resources.gpuHourCost", "2.5").returncode == 0
    per_model = gitruns_cli(repo, "config", "resources.gpuhourcost", "4.1", "--gpu", "NVIDIA H200")
    assert per_model.returncode == 0, per_model.stderr
    assert gitruns_cli(repo, "config", "resources.currency", "EUR", "--global").returncode == 0
    # what git itself sees: the repository's config, and the user's global one
    assert git(repo, "config", "--local", "gitruns.resources.gpuHourCost").strip() == "2.5"
    h200 = git(repo, "config", "--local", "gitruns.resources.NVIDIA H200.gpuHourCost")
    assert h200.strip() == "4.1"
    assert "currency = EUR" in (isolated_environment / ".gitconfig").read_text()

    got = gitruns_cli(repo, "config", "resources.gpuHourCost", "--gpu", "NVIDIA H200")
    assert (got.returncode, got.stdout) == (0, "4.1\n")
    listed = gitruns_cli(repo, "config", "--list").stdout.splitlines()
    assert listed == [
        "resources.currency=EUR",
        "resources.gpuHourCost=2.5",
        "resources.gpuHourCost[NVIDIA H200]=4.1",
    ]
    assert gitruns_cli(repo, "config", "resources.gpuHourCost", "--unset").returncode == 0
    unset = gitruns_cli(repo, "config", "resources.gpuHourCost")
    assert unset.returncode == 1
    assert unset.stderr == (
        "gitruns: error: resources.gpuHourCost is not set; "
        "set it with 'gitruns config resources.gpuHourCost VALUE'\n"
    )
    again = gitruns_cli(repo, "config", "resources.gpuHourCost", "--unset")
    assert again.returncode == 1 and "is not set in the local config" in again.stderr


def test_bad_input_is_one_line_and_exit_1(repo: Path) -> None:
    cases = [
        (("resources.gpuHourCost", "cheap"), "must be a number >= 0"),
        (("resources.gpuHourCost", "--", "-1"), "must be a number >= 0"),
        (("resources.gpuHourCost", "nan"), "must be a number >= 0"),
        (("trashDays", "1.5"), "whole days"),
        (("allowUnpublishedCode", "maybe"), "true or false"),
        (("nonsense", "1"), "unknown setting 'nonsense'"),
        (("resources.cpuHourCost", "1", "--gpu", "NVIDIA H200"), "not set per GPU model"),
        ((), "no setting named"),
    ]
    for args, message in cases:
        result = gitruns_cli(repo, "config", *args)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.startswith("gitruns: error: ") and message in result.stderr
        assert "Traceback" not in result.stderr
    assert "gitruns" not in git(repo, "config", "--local", "--list")


def test_existing_settings_are_the_same_git_keys(repo: Path) -> None:
    assert gitruns_cli(repo, "config", "trashDays", "7").returncode == 0
    assert git(repo, "config", "gitruns.trashDays").strip() == "7"
    git(repo, "config", "gitruns.artifactStore", "/data/artifacts")
    assert gitruns_cli(repo, "config", "artifactstore").stdout == "/data/artifacts\n"
