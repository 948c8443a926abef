"""The dashboard's JSON API, served by a real ``gitruns ui`` on 127.0.0.1 over real runs."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

from _record_helpers import record
from _sharing_helpers import make_run, make_team
from _ui_helpers import make_rich_run, make_sweep, request, tiny_png, ui_server
from conftest import git, gitruns_cli

import gitruns


def test_runs_table_data_filter_sort_and_columns(repo: Path) -> None:
    ids = make_sweep(repo, count=3, steps=20)
    with ui_server(repo) as server:
        data = request(server.url + "api/runs").json()
        runs = data["runs"]  # columns of values, one entry a run
        assert runs["id"] == ids[::-1]  # newest first, as gitruns ls
        assert runs["name"] == ["sweep-2", "sweep-1", "sweep-0"]
        assert runs["params"][0]["model.layers"] == 6 and runs["tags"][0]["sweep"] == "lr"
        assert runs["metrics"][0]["loss"][3] == 20  # [last, min, max, count]
        assert set(runs["origin"]) == {"local"} and runs["status"] == ["FINISHED"] * 3
        assert data["problems"] == []
        listed = gitruns_cli(repo, "ls", "--format", "csv").stdout.splitlines()[0].split(",")
        assert [c["text"] for c in data["columns"]] == listed  # gitruns ls's defaults

        query = urllib.parse.urlencode(
            [
                ("filter", "params.lr > 0.2"),
                ("sort", "params.lr"),
                ("column", "name"),
                ("column", "params.lr"),
            ]
        )
        narrowed = request(f"{server.url}api/runs?{query}").json()
        assert [p["lr"] for p in narrowed["runs"]["params"]] == [0.3, 1.0]
        assert [c["text"] for c in narrowed["columns"]] == ["name", "params.lr"]


def test_nan_in_a_summary_is_sent_as_strict_json(repo: Path) -> None:
    with gitruns.start_run("nan", params={"x": 1}) as run:
        run.log_metric("loss", float("nan"))
        run.log_metric("acc", float("inf"))
    with ui_server(repo) as server:
        reply = request(server.url + "api/runs")
        assert b"NaN" in reply.body  # as a string: JSON.parse would refuse a bare NaN
        metrics = reply.json()["runs"]["metrics"][0]
        assert metrics["loss"][0] == "NaN" and metrics["acc"][0] == "Infinity"


def test_a_bad_filter_returns_the_caret_error(repo: Path) -> None:
    make_sweep(repo, count=1, steps=2)
    with ui_server(repo) as server:
        query = urllib.parse.urlencode({"filter": "metrics.acc >> 0.9"})
        reply = request(f"{server.url}api/runs?{query}")
        assert reply.status == 400
        error = reply.json()["error"]
        assert error["column"] == 14 and error["text"] == "metrics.acc >> 0.9"
        assert "^" in error["message"] and error["problem"]
        cli = gitruns_cli(repo, "ls", "-f", "metrics.acc >> 0.9")
        assert error["message"] in cli.stderr  # the same message as gitruns ls
        bad_column = request(f"{server.url}api/runs?column=params.")
        assert bad_column.status == 400 and bad_column.json()["error"]["column"]


def test_run_page_data_series_logs_environment_and_code(repo: Path) -> None:
    (repo / "train.py").write_text(
        "import gitruns\n"
        "print('epoch 1 loss 0.5')\nprint('epoch 2 loss 0.25')\n"
        "with gitruns.start_run() as run:\n"
        "    run.log_metric('loss', 0.5, step=0)\n    run.log_metric('loss', 0.25, step=1)\n"
        "# an uncommitted change\n"
    )
    done = record(repo, "--name", "recorded", "--", sys.executable, "train.py", "--lr", "0.1")
    assert done.returncode == 0, done.stderr
    run_id = gitruns.get_run("recorded").id
    with ui_server(repo) as server:
        base = f"{server.url}api/runs/{run_id}"
        detail = request(base).json()
        assert detail["name"] == "recorded" and detail["origin"] == "local"
        assert detail["status"] == "FINISHED" and detail["has_patch"] is True
        assert detail["logs"] == ["stdout", "stderr"] or detail["logs"] == ["stdout"]
        assert detail["param_sources"]["lr"] == "argv"
        assert detail["env"]["python"] and detail["history"][0]["kind"] == "recorded"
        by_name = request(f"{server.url}api/runs/recorded").json()
        assert by_name["id"] == run_id  # a name works as in gitruns show

        series = request(f"{base}/series?key=loss&key=nope").json()["series"]
        assert [s["key"] for s in series] == ["loss"]
        assert series[0]["step"] == [0, 1] and series[0]["value"] == [0.5, 0.25]

        logs = request(f"{base}/logs/stdout?tail=1").json()
        assert logs["total"] == 2 and logs["lines"] == [[2, "epoch 2 loss 0.25"]]
        found = request(f"{base}/logs/stdout?q=EPOCH%201").json()
        assert found["lines"] == [[1, "epoch 1 loss 0.5"]]
        assert request(f"{base}/logs/other").status == 400

        environment = request(f"{base}/environment").json()
        assert environment["packages"] and "gitruns" in environment["packages"]
        assert "+# an uncommitted change" in request(f"{base}/patch").json()["patch"]
        assert request(f"{server.url}api/runs/no-such-run").status == 404


def test_series_are_downsampled_on_the_server(repo: Path, tmp_path: Path) -> None:
    run_id = make_rich_run(repo, tmp_path)
    with ui_server(repo) as server:
        base = f"{server.url}api/runs/{run_id}/series"
        (long,) = request(f"{base}?key=long&points=400").json()["series"]
        assert long["total"] == 20_000 and long["downsampled"] is True
        assert len(long["value"]) <= 402
        assert max(long["value"]) == 50.0  # the spike at step 12,345 survives
        (zoomed,) = request(f"{base}?key=long&points=400&min_step=100&max_step=199").json()[
            "series"
        ]
        assert zoomed["step"][0] == 99 and zoomed["step"][-1] == 200
        assert len(zoomed["value"]) == 102  # full detail inside the zoomed range
        (gappy,) = request(f"{base}?key=gappy").json()["series"]
        assert gappy["value"] == [1.0, None, 3.0]  # NaN is a gap, in strict JSON


def test_artifacts_images_inline_others_as_downloads(repo: Path, tmp_path: Path) -> None:
    run_id = make_rich_run(repo, tmp_path)
    with ui_server(repo) as server:
        detail = request(f"{server.url}api/runs/{run_id}").json()
        by_path = {a["path"]: a for a in detail["artifacts"]}
        assert by_path["plot.png"]["image"] is True and by_path["plot.png"]["here"] is True
        assert by_path["model.bin"]["image"] is False
        image = request(f"{server.url}api/runs/{run_id}/artifacts/plot.png")
        assert image.status == 200 and image.body == tiny_png()
        assert image.headers["content-type"] == "image/png"
        assert image.headers["content-disposition"].startswith("inline")
        binary = request(f"{server.url}api/runs/{run_id}/artifacts/model.bin")
        assert binary.headers["content-disposition"].startswith("attachment")
        assert binary.headers["content-type"] == "application/octet-stream"
        assert "sandbox" in binary.headers["content-security-policy"]
        missing = request(f"{server.url}api/runs/{run_id}/artifacts/none.txt")
        assert missing.status == 404


def test_compare_and_overlaid_series(repo: Path) -> None:
    ids = make_sweep(repo, count=3, steps=10)
    with ui_server(repo) as server:
        runs = "&".join(f"run={i}" for i in ids)
        data = request(f"{server.url}api/compare?{runs}").json()
        assert [r["id"] for r in data["runs"]] == ids
        rows = {(r["section"], r["key"]): r for r in data["rows"]}
        assert rows[("params", "lr")]["changed"] is True
        assert rows[("params", "lr")]["values"] == [0.1, 0.3, 1.0]
        assert rows[("tags", "sweep")]["changed"] is False
        assert "loss" in data["metric_keys"]
        overlay = request(f"{server.url}api/series?{runs}&key=loss").json()
        assert [len(r["series"]["value"]) for r in overlay["runs"]] == [10, 10, 10]
        assert request(f"{server.url}api/compare").status == 400


def test_fetched_runs_are_listed_with_their_origin(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    shared = make_run(team.alice, "from-alice")
    assert gitruns_cli(team.alice, "push").returncode == 0
    assert gitruns_cli(team.bob, "fetch").returncode == 0
    own = make_run(team.bob, "bobs")
    with ui_server(team.bob) as server:
        runs = request(f"{server.url}api/runs").json()["runs"]
        assert set(zip(runs["name"], runs["origin"], strict=True)) == {
            ("from-alice", "origin"),
            ("bobs", "local"),
        }
        fetched = request(f"{server.url}api/runs/{shared}?origin=origin").json()
        assert fetched["origin"] == "origin" and fetched["name"] == "from-alice"
        assert request(f"{server.url}api/runs/{shared}").json()["origin"] == "origin"
        assert request(f"{server.url}api/runs/{own}").json()["origin"] == "local"


def test_the_version_changes_when_a_run_is_recorded(repo: Path) -> None:
    make_sweep(repo, count=1, steps=2)
    with ui_server(repo) as server:
        before = request(f"{server.url}api/version").json()["version"]
        assert request(f"{server.url}api/version").json()["version"] == before
        make_run(repo, "another")
        after = request(f"{server.url}api/version").json()["version"]
        assert after != before
        git(repo, "update-ref", "-d", f"refs/runs/{gitruns.get_run('another').id}")
        assert request(f"{server.url}api/version").json()["version"] == before


def test_a_crashed_run_shows_as_crashed(repo: Path) -> None:
    script = (
        "import gitruns, os\n"
        "run = gitruns.start_run('doomed')\nrun.log_metric('x', 1.0)\n"
        "run.flush() if hasattr(run, 'flush') else None\nimport time; time.sleep(0.8)\n"
        "os._exit(9)\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=repo, check=False, timeout=60)
    with ui_server(repo) as server:
        deadline = time.monotonic() + 10
        runs: dict[str, list[object]] = {"id": []}
        while time.monotonic() < deadline and not runs["id"]:
            runs = request(f"{server.url}api/runs").json()["runs"]
        assert (runs["name"], runs["status"]) == (["doomed"], ["CRASHED"])
