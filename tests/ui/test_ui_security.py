"""Who may use the dashboard: Host and Origin checks, read-only unless --allow-edit,
loopback unless --host says otherwise; and the base install never needs the ui extra."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from _sharing_helpers import make_run
from _ui_helpers import request, ui_server
from conftest import git, gitruns_cli

from gitruns.ui.security import Policy, is_loopback


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_policy_decisions() -> None:
    policy = Policy.for_address("127.0.0.1", 8765)
    same = {"host": "127.0.0.1:8765"}
    assert policy.refusal("GET", "/", same) is None
    assert policy.refusal("GET", "/api/runs", {**same, "origin": "http://127.0.0.1:8765"}) is None
    assert policy.refusal("GET", "/api/runs", {"host": "localhost:8765"}) is None
    assert policy.refusal("GET", "/", {"host": "attacker.example:8765"}) is not None  # rebinding
    assert policy.refusal("GET", "/api/runs", {"host": "127.0.0.1:9999"}) is not None
    cross = {**same, "origin": "http://attacker.example"}
    assert policy.refusal("GET", "/api/runs", cross) == (
        403,
        "cross-origin request from http://attacker.example refused",
    )
    assert policy.refusal("GET", "/api/runs", {**same, "sec-fetch-site": "cross-site"})
    assert policy.refusal("GET", "/api/runs", {**same, "sec-fetch-site": "same-site"})
    assert policy.refusal("GET", "/", {**same, "sec-fetch-site": "cross-site"}) is None  # a link
    post = {**same, "origin": "http://127.0.0.1:8765", "content-type": "application/json"}
    status, message = policy.refusal("POST", "/api/runs/x/edit/tags", post) or (0, "")
    assert status == 403 and "--allow-edit" in message
    editing = Policy.for_address("127.0.0.1", 8765, allow_edit=True)
    assert editing.refusal("POST", "/api/runs/x/edit/tags", post) is None
    no_origin = {**same, "content-type": "application/json"}
    assert editing.refusal("POST", "/api/runs/x/edit/tags", no_origin)
    form = {**post, "content-type": "text/plain"}
    assert editing.refusal("POST", "/api/runs/x/edit/tags", form) == (
        415,
        "a change must be sent as application/json",
    )
    assert Policy.for_address("0.0.0.0", 80).refusal("GET", "/", {"host": "box.lan"}) is None


def test_a_real_server_refuses_cross_origin_and_foreign_hosts(repo: Path) -> None:
    make_run(repo, "secret")
    with ui_server(repo) as server:
        api = f"{server.url}api/runs"
        own_origin = server.url.rstrip("/")
        assert request(api).status == 200
        assert request(api, headers={"Origin": own_origin}).status == 200
        refused = request(api, headers={"Origin": "http://attacker.example"})
        assert refused.status == 403 and b"secret" not in refused.body
        assert b"cross-origin" in refused.body
        assert request(api, headers={"Sec-Fetch-Site": "cross-site"}).status == 403
        rebound = request(api, headers={"Host": f"attacker.example:{server.port}"})
        assert rebound.status == 403 and b"secret" not in rebound.body
        page = request(server.url)
        assert page.status == 200
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"


def test_read_only_unless_allow_edit(repo: Path) -> None:
    run_id = make_run(repo, "to-tag")
    before = git(repo, "rev-parse", f"refs/runs/{run_id}").strip()
    with ui_server(repo) as server:
        url = f"{server.url}api/runs/{run_id}/edit/tags"
        headers = {"Origin": server.url.rstrip("/"), "Content-Type": "application/json"}
        refused = request(url, method="POST", headers=headers, data={"set": {"k": "v"}})
        assert refused.status == 403 and b"--allow-edit" in refused.body
        assert request(f"{server.url}api/info").json()["allow_edit"] is False
    assert git(repo, "rev-parse", f"refs/runs/{run_id}").strip() == before


def test_allow_edit_annotates_through_the_audited_path(repo: Path) -> None:
    run_id = make_run(repo, "to-tag")
    with ui_server(repo, "--allow-edit") as server:
        base = f"{server.url}api/runs/{run_id}/edit"
        headers = {"Origin": server.url.rstrip("/"), "Content-Type": "application/json"}
        tagged = request(f"{base}/tags", method="POST", headers=headers, data={"set": {"k": "v"}})
        assert tagged.status == 200, tagged.body
        assert tagged.json()["commit"]
        noted = request(f"{base}/note", method="POST", headers=headers, data={"text": "good"})
        assert noted.status == 200
        renamed = request(f"{base}/name", method="POST", headers=headers, data={"name": "best"})
        assert renamed.status == 200
        untagged = request(f"{base}/tags", method="POST", headers=headers, data={"delete": ["k"]})
        assert untagged.status == 200
        bad = request(f"{base}/name", method="POST", headers=headers, data={"name": ""})
        assert bad.status == 400 and bad.json()["error"]["message"]
        cross = {**headers, "Origin": "http://attacker.example"}
        assert request(f"{base}/note", method="POST", headers=cross, data={"text": "x"}).status == (
            403
        )
        plain = {**headers, "Content-Type": "text/plain"}
        assert request(f"{base}/note", method="POST", headers=plain, data={"text": "x"}).status == (
            415
        )
    log = git(repo, "log", "--format=%s", f"refs/runs/{run_id}")
    assert log.splitlines()[:4] == ["untag: k", "rename: best", "note: good", "tag: k=v"]
    history = gitruns_cli(repo, "history", run_id)
    assert "note: good" in history.stdout and "tag k=v" in history.stdout
    git(repo, "fsck", "--strict", "--no-dangling")


def test_a_non_loopback_host_warns_and_a_used_port_is_an_error(repo: Path) -> None:
    # 192.0.2.1 (TEST-NET-1) is on no interface here: binding fails after the warning, so
    # nothing ever listens beyond 127.0.0.1.
    exposed = gitruns_cli(repo, "ui", "--host", "192.0.2.1", "--port", "0", "--no-browser")
    assert "warning: listening on 192.0.2.1" in exposed.stderr
    assert "there is no login" in exposed.stderr
    assert exposed.returncode == 1 and "Traceback" not in exposed.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        busy = gitruns_cli(repo, "ui", "--port", str(port), "--no-browser")
    assert busy.returncode == 1
    assert f"gitruns: error: port {port} on 127.0.0.1 is already in use" in busy.stderr


HIDE_UI_EXTRA = """
import importlib.abc, sys
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("starlette", "uvicorn"):
            raise ModuleNotFoundError(name)
        return None
sys.meta_path.insert(0, Hide())
sys.argv = ["gitruns", *sys.argv[1:]]
from gitruns.cli.main import main
main()
"""


def test_without_the_ui_extra_everything_else_works(repo: Path, tmp_path: Path) -> None:
    make_run(repo, "plain")

    def without_extra(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", HIDE_UI_EXTRA, *args],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
        )

    report = without_extra("report", "plain", "-o", str(tmp_path / "r.html"))
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "r.html").read_text().startswith("<!doctype html>")
    assert without_extra("ls").returncode == 0
    ui = without_extra("ui", "--no-browser")
    assert ui.returncode == 1
    assert "gitruns: error: gitruns ui needs starlette and uvicorn" in ui.stderr
    assert "pip install 'gitruns[ui]'" in ui.stderr
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, gitruns.cli.main; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "starlette" not in loaded and "uvicorn" not in loaded and "gitruns.ui" not in loaded
