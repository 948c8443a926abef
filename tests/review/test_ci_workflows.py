"""The files of ``gitruns ci init``, parsed, and their shell steps run locally in order, as a
runner would run them: against a bare remote holding main's runs, with the CI's variables
set, and a real HTTP server on 127.0.0.1 standing in for the host's comment API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import xmlschema
import yaml
from _review_helpers import git
from conftest import fsck, gitruns_cli

JUNIT_XSD = Path(__file__).parents[1] / "schemas" / "junit" / "JUnit.xsd"
TRAIN = """\
import gitruns
from pathlib import Path

quality = float(Path("quality.txt").read_text())
for step in range(3):
    gitruns.log_metric("acc", round(quality - 0.1 * (2 - step), 4), step=step)
"""
GATE = "metrics.acc >= baseline.metrics.acc - 0.01"


class CommentApi:
    """Records every request; answers 201 like GitHub's and GitLab's comment endpoints."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                api.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body.decode()}
                )
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CommentApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def api() -> Iterator[CommentApi]:
    with CommentApi() as server:
        yield server


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    """``python`` and ``gitruns`` on PATH, as the workflow's install step leaves them."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, args in (("python", ""), ("gitruns", " -m gitruns")):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}"{args} "$@"\n')
        script.chmod(0o755)
    return bin_dir


def project(repo: Path, tmp_path: Path, feature_quality: float) -> tuple[Path, str]:
    """A bare remote with main (one run, pushed) and a pushed feature branch; returns the
    remote and the feature's head commit."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    (repo / "train.py").write_text(TRAIN)
    (repo / "quality.txt").write_text("0.9\n")
    git(repo, "add", "train.py", "quality.txt")
    git(repo, "commit", "-q", "-m", "train on quality")
    git(repo, "remote", "add", "origin", str(remote))
    assert (
        gitruns_cli(repo, "record", "-n", "main-run", "--", sys.executable, "train.py").returncode
        == 0
    )
    git(repo, "push", "-q", "origin", "main")
    assert gitruns_cli(repo, "push", "origin").returncode == 0
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "quality.txt").write_text(f"{feature_quality}\n")
    git(repo, "commit", "-q", "-am", "change the model")
    git(repo, "push", "-q", "origin", "feature")
    return remote, git(repo, "rev-parse", "HEAD")


def write_workflow(repo: Path, tmp_path: Path, host: str) -> dict[str, Any]:
    path = tmp_path / f"{host}.yml"
    result = gitruns_cli(
        repo,
        "ci",
        "init",
        host,
        "--train",
        "python train.py",
        "--check",
        GATE,
        "--check",
        "metrics.acc.count = 3",
        "--install",
        "gitruns --version",
        "-o",
        str(path),
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def ci_checkout(remote: Path, tmp_path: Path, commit: str, narrow: bool) -> Path:
    """The runner's clone, detached at the branch's commit; ``narrow``: as GitLab's MR
    pipelines fetch, without the branches as origin/<name>."""
    checkout = tmp_path / "ci"
    git(tmp_path, "clone", "-q", str(remote), str(checkout))
    git(checkout, "checkout", "-q", commit)
    if narrow:
        for ref in git(checkout, "for-each-ref", "--format=%(refname)", "refs/remotes/").split():
            git(checkout, "update-ref", "-d", ref)
    return checkout


def shell(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def expand(text: str, context: dict[str, str]) -> str:
    """GitHub's ``${{ expr }}`` for the expressions the workflow uses; any other fails."""

    def value(match: re.Match[str]) -> str:
        expression = match.group(1).strip()
        assert expression in context, f"the test does not know ${{{{ {expression} }}}}"
        return context[expression]

    return re.sub(r"\$\{\{(.*?)\}\}", value, text)


def run_github(
    workflow: dict[str, Any], checkout: Path, env: dict[str, str], context: dict[str, str]
) -> list[tuple[str, subprocess.CompletedProcess[str]]]:
    """Run the shell steps in order; after a failure only ``if: always()`` steps run."""
    assert set(workflow[True]) == {"push", "pull_request"}  # YAML 1.1 reads `on` as true
    steps = workflow["jobs"]["runs"]["steps"]
    assert [s["uses"].split("@")[0] for s in steps if "uses" in s] == [
        "actions/checkout",
        "actions/setup-python",
        "actions/upload-artifact",
    ]
    done: list[tuple[str, subprocess.CompletedProcess[str]]] = []
    failed = False
    for step in steps:
        if "run" not in step or (failed and step.get("if") != "always()"):
            continue
        step_env = {**env, **{k: expand(str(v), context) for k, v in step.get("env", {}).items()}}
        result = shell(step["run"], checkout, step_env)
        allowed = expand(str(step.get("continue-on-error", "false")), context) == "true"
        failed = failed or (result.returncode != 0 and not allowed)
        done.append((step["name"], result))
    return done


def base_env(tools: Path) -> dict[str, str]:
    return {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}", "CI": "true"}


def github_context(api: CommentApi) -> dict[str, str]:
    return {
        "github.event.pull_request.head.sha || github.sha": "unused-by-shell-steps",
        "github.event.pull_request.head.repo.fork == true": "false",
        "github.token": "ghs_token123",
        "github.event.pull_request.number": "7",
    }


def github_env(tools: Path, api: CommentApi, tmp_path: Path, commit: str) -> dict[str, str]:
    return {
        **base_env(tools),
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_BASE_REF": "main",
        "GITHUB_HEAD_REF": "feature",
        "GITHUB_SHA": "0" * 40,  # the merge preview's id: the workflow must not need it
        "GITHUB_REPOSITORY": "ada/vision",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": api.url,
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }


def remote_runs(remote: Path) -> list[str]:
    return git(remote, "for-each-ref", "--format=%(refname)", "refs/runs/").split()


@pytest.mark.slow
def test_github_workflow_on_a_pull_request(
    repo: Path, tmp_path: Path, tools: Path, api: CommentApi
) -> None:
    remote, head = project(repo, tmp_path, feature_quality=0.92)
    workflow = write_workflow(repo, tmp_path, "github")
    checkout = ci_checkout(remote, tmp_path, head, narrow=False)
    env = github_env(tools, api, tmp_path, head)
    done = run_github(workflow, checkout, env, github_context(api))
    assert [name for name, _ in done] == [
        "Install",
        "Fetch runs",
        "Train",
        "Push runs",
        "Report",
        "Comment",
        "Check",
    ]
    for name, result in done:
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
    # the run recorded in CI went back to the remote, next to main's
    assert len(remote_runs(remote)) == 2
    fsck(remote)
    # the report: posted as a comment, and in the job summary
    (request,) = api.requests
    assert request["path"] == "/repos/ada/vision/issues/7/comments"
    assert request["headers"]["Authorization"] == "Bearer ghs_token123"
    body = json.loads(request["body"])["body"]
    assert body == (checkout / "gitruns-report.md").read_text()
    assert "## gitruns: 1 run on `HEAD` against `origin/main`" in body
    assert "| acc | 0.9 | 0.92 (▲ +0.02, +2.2%) |" in body
    assert f"https://github.com/ada/vision/commit/{head}" in body
    assert (tmp_path / "summary.md").read_text() == body
    assert (checkout / "gitruns-report.html").read_text().startswith("<!doctype html>")
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(checkout / "gitruns-check.xml"))
    assert "gitruns check: passed: 2 check(s) on 1 run" in dict(done)["Check"].stdout


@pytest.mark.slow
def test_github_workflow_fails_a_regression_and_still_pushes(
    repo: Path, tmp_path: Path, tools: Path, api: CommentApi
) -> None:
    remote, head = project(repo, tmp_path, feature_quality=0.5)
    workflow = write_workflow(repo, tmp_path, "github")
    checkout = ci_checkout(remote, tmp_path, head, narrow=False)
    done = dict(
        run_github(workflow, checkout, github_env(tools, api, tmp_path, head), github_context(api))
    )
    check = done["Check"]
    assert check.returncode == 1
    assert check.stdout.startswith(f"::error title=gitruns check%3A {GATE}::{GATE} failed for run")
    assert "metrics.acc = 0.5, baseline.metrics.acc = 0.9" in check.stdout
    assert len(remote_runs(remote)) == 2  # pushed before the gate
    assert "0.5 (▼ -0.4, -44.4%)" in json.loads(api.requests[0]["body"])["body"]


@pytest.mark.slow
def test_gitlab_pipeline_on_a_merge_request(
    repo: Path, tmp_path: Path, tools: Path, api: CommentApi
) -> None:
    remote, head = project(repo, tmp_path, feature_quality=0.95)
    pipeline = write_workflow(repo, tmp_path, "gitlab")
    job = pipeline["gitruns"]
    assert job["variables"]["GIT_DEPTH"] == "0"
    assert job["artifacts"]["reports"]["junit"] == "gitruns-check.xml"
    assert {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'} in job["rules"]
    checkout = ci_checkout(remote, tmp_path, head, narrow=True)
    env = {
        **base_env(tools),
        "GITLAB_CI": "true",
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_IID": "3",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature",
        "CI_PROJECT_URL": "https://gitlab.example.com/ada/vision",
        "CI_PROJECT_ID": "42",
        "CI_API_V4_URL": f"{api.url}/api/v4",
        "GITRUNS_API_TOKEN": "glpat-token",
    }
    # GitLab runs the script items as one shell script, stopping at the first failure
    result = shell("\n".join(job["script"]), checkout, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(remote_runs(remote)) == 2
    (request,) = api.requests
    assert request["path"] == "/api/v4/projects/42/merge_requests/3/notes"
    assert request["headers"]["PRIVATE-TOKEN"] == "glpat-token"
    body = parse_qs(request["body"])["body"][0]
    assert "against `origin/main`" in body and "0.95 (▲ +0.05, +5.6%)" in body
    assert f"https://gitlab.example.com/ada/vision/-/commit/{head}" in body
    assert (checkout / "gitruns-report.html").read_text().startswith("<!doctype html>")
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(checkout / "gitruns-check.xml"))


def test_init_writes_where_the_host_looks_and_refuses_to_overwrite(repo: Path) -> None:
    result = gitruns_cli(repo, "ci", "init", "github")
    assert result.returncode == 0, result.stderr
    workflow = yaml.safe_load((repo / ".github" / "workflows" / "gitruns.yml").read_text())
    assert workflow["permissions"] == {"contents": "write", "pull-requests": "write"}
    again = gitruns_cli(repo, "ci", "init", "github")
    assert again.returncode == 1 and "exists; give --force" in again.stderr
    assert gitruns_cli(repo, "ci", "init", "github", "--force").returncode == 0
    assert gitruns_cli(repo, "ci", "init", "gitlab").returncode == 0
    assert (repo / ".gitlab-ci.yml").exists()
    bad = gitruns_cli(repo, "ci", "init", "gitlab", "-o", "x.yml", "--check", "metrics.acc >")
    assert bad.returncode == 1 and "syntax error" in bad.stderr
