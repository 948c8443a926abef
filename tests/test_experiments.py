"""Experiments: a run belongs to an optional experiment, from the API, the environment or
``gitruns record --experiment``; ``ls``, ``show`` and the filter language know it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import fsck, git, gitruns_cli

import gitruns
from gitruns.errors import InvalidInputError


def test_start_run_argument_is_stored_and_read_back(repo: Path) -> None:
    with gitruns.start_run(name="a", experiment="wine") as run:
        run.log_metric("rmse", 0.7)
    assert run.experiment == "wine"
    loaded = gitruns.get_run(run.id)
    assert loaded.experiment == "wine"
    assert loaded.to_dict()["experiment"] == "wine"
    run_yaml = git(repo, "show", f"refs/runs/{run.id}:run.yaml")
    assert "experiment: wine\n" in run_yaml
    fsck(repo)


def test_no_experiment_leaves_run_yaml_without_the_key(repo: Path) -> None:
    with gitruns.start_run() as run:
        pass
    assert gitruns.get_run(run.id).experiment is None
    assert gitruns.get_run(run.id).to_dict()["experiment"] is None
    assert "\nexperiment:" not in git(repo, "show", f"refs/runs/{run.id}:run.yaml")


def test_sources_first_wins(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITRUNS_EXPERIMENT", "from-env")
    assert gitruns.get_experiment() == "from-env"
    with gitruns.start_run() as env_run:
        pass
    gitruns.set_experiment("from-api")
    assert gitruns.get_experiment() == "from-api"
    with gitruns.start_run() as default_run, gitruns.start_run(nested=True) as nested:
        pass
    explicit = gitruns.start_run(experiment="explicit")
    with explicit as explicit_run, gitruns.start_run(nested=True, experiment="inner") as inner:
        pass
    gitruns.set_experiment(None)
    assert gitruns.get_experiment() == "from-env"
    monkeypatch.delenv("GITRUNS_EXPERIMENT")
    with gitruns.start_run() as none_run:
        pass
    found = {r.id: r.experiment for r in gitruns.search_runs()}
    assert found[env_run.id] == "from-env"
    assert found[default_run.id] == "from-api"
    assert found[nested.id] == "from-api"
    assert found[explicit_run.id] == "explicit"
    assert found[inner.id] == "inner"
    assert found[none_run.id] is None


def test_nested_run_inherits_its_parents_experiment(repo: Path) -> None:
    with gitruns.start_run(experiment="sweep") as parent, gitruns.start_run(nested=True) as child:
        pass
    assert gitruns.get_run(child.id).experiment == "sweep"
    assert gitruns.get_run(child.id).parents == [parent.id]


@pytest.mark.parametrize("bad", ["", "  ", "a\nb", "x" * 251, 3])
def test_bad_experiment_names_are_refused(repo: Path, bad: object) -> None:
    with pytest.raises(InvalidInputError, match="experiment name"):
        gitruns.start_run(experiment=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="experiment name"):
        gitruns.set_experiment(bad)  # type: ignore[arg-type]
    assert gitruns.active_run() is None


def test_bad_environment_value_is_a_clear_cli_error(repo: Path) -> None:
    result = gitruns_cli(repo, "record", "--", "true", env={"GITRUNS_EXPERIMENT": "a\tb"})
    assert result.returncode == 1
    assert result.stderr.startswith("gitruns: error: experiment name")
    assert "Traceback" not in result.stderr


def test_filter_field(repo: Path) -> None:
    with gitruns.start_run(name="one", experiment="baseline"):
        pass
    with gitruns.start_run(name="two", experiment="tuned"):
        pass
    with gitruns.start_run(name="three"):
        pass
    names = lambda f: sorted(r.name for r in gitruns.search_runs(f))  # noqa: E731
    assert names("experiment = 'baseline'") == ["one"]
    assert names("experiment != 'baseline'") == ["two"]
    assert names("experiment is null") == ["three"]
    assert names("experiment like 'ba%'") == ["one"]
    assert names("experiment in ('baseline', 'tuned')") == ["one", "two"]


def test_record_experiment_reaches_the_childs_api_runs(repo: Path) -> None:
    (repo / "job.py").write_text(
        textwrap.dedent(
            """
            import gitruns
            with gitruns.start_run() as joined:   # joins the recorded run
                joined.log_metric("loss", 0.5)
            with gitruns.start_run() as child:    # a child run of it
                child.log_metric("loss", 0.25)
            print(child.id)
            """
        )
    )
    result = gitruns_cli(repo, "record", "--experiment", "wine", "--", sys.executable, "job.py")
    assert result.returncode == 0, result.stderr
    child_id = result.stdout.strip().splitlines()[-1]
    recorded = [r for r in gitruns.search_runs() if r.id != child_id]
    assert [r.experiment for r in recorded] == ["wine"]
    assert gitruns.get_run(child_id).experiment == "wine"
    assert gitruns.get_run(child_id).parents == [recorded[0].id]
    fsck(repo)


def test_script_choice_wins_over_record_experiment(repo: Path) -> None:
    (repo / "job.py").write_text(
        "import gitruns\ngitruns.set_experiment('mine')\n"
        "with gitruns.start_run() as run:\n    run.log_metric('x', 1)\n"
    )
    result = gitruns_cli(repo, "record", "-e", "outer", "--", sys.executable, "job.py")
    assert result.returncode == 0, result.stderr
    (run,) = gitruns.search_runs()
    assert run.experiment == "mine"


def test_record_takes_the_environment_variable(repo: Path) -> None:
    result = gitruns_cli(repo, "record", "--", "true", env={"GITRUNS_EXPERIMENT": "nightly"})
    assert result.returncode == 0, result.stderr
    assert [r.experiment for r in gitruns.search_runs()] == ["nightly"]


def test_ls_filter_column_and_show(repo: Path) -> None:
    for name, experiment in (("a1", "alpha"), ("b1", "beta"), ("a2", "alpha")):
        with gitruns.start_run(name=name, experiment=experiment) as run:
            run.log_metric("acc", len(name))
    listed = gitruns_cli(repo, "ls", "--experiment", "alpha", "--format", "csv", "-c", "name")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["name", "a2", "a1"]
    combined = gitruns_cli(repo, "ls", "-e", "alpha", "-f", "name = 'a1'", "-q")
    assert combined.stdout.split() == [run.id for run in gitruns.search_runs("name = 'a1'")]
    table = gitruns_cli(repo, "ls")
    header = table.stdout.splitlines()[0].split()
    assert header[:3] == ["id", "name", "experiment"]
    assert "alpha" in table.stdout and "beta" in table.stdout
    as_json = json.loads(gitruns_cli(repo, "ls", "--format", "json").stdout)
    assert sorted(r["experiment"] for r in as_json) == ["alpha", "alpha", "beta"]
    shown = gitruns_cli(repo, "show", "b1")
    assert "experiment beta" in shown.stdout
    none = gitruns_cli(repo, "ls", "--experiment", "gamma")
    assert none.returncode == 0 and none.stdout == "" and "no runs match" in none.stderr


def test_ls_has_no_experiment_column_when_no_run_has_one(repo: Path) -> None:
    with gitruns.start_run(name="plain"):
        pass
    table = gitruns_cli(repo, "ls")
    assert "experiment" not in table.stdout


def test_cache_of_an_older_schema_is_rebuilt(repo: Path) -> None:
    """A cache written before the experiment column is dropped and rebuilt, not misread."""
    import sqlite3

    from gitruns.query.cache import CACHE_FILE

    with gitruns.start_run(name="old", experiment="e1"):
        pass
    gitruns.search_runs()  # builds the cache
    path = Path(git(repo, "rev-parse", "--absolute-git-dir").strip()) / "gitruns" / CACHE_FILE
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 4")
    db.commit()
    db.close()
    assert [r.experiment for r in gitruns.search_runs("experiment = 'e1'")] == ["e1"]


def test_older_reader_shape_accepts_the_key(repo: Path) -> None:
    """run.yaml's schema allows unknown top-level keys, so a gitruns that predates
    experiments reads such runs (it ignores the key); ours validates the value."""
    from gitruns.format import schema

    with gitruns.start_run(experiment="kept") as run:
        pass
    document = gitruns.get_run(run.id).document
    schema.validate("run", document, "test")
    bad = dict(document, experiment="")
    with pytest.raises(Exception, match="experiment"):
        schema.validate("run", bad, "test")
    subprocess.run(["git", "fsck", "--strict"], cwd=repo, check=True, capture_output=True)
