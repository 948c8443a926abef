"""No secret reaches git: plant each kind of secret under a real ``gitruns record`` and grep
every object of the repository (``git cat-file --batch-all-objects``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._record_helpers import GITRUNS, all_object_bytes, only_run, record, run_file
from tests.conftest import fsck, git

PY = sys.executable
# Token shapes are built at run time so that no file the tests write contains them: the
# entry-point script itself goes into the run's code snapshot.
GITHUB_TOKEN = "ghp_" + "Pl4nt3dGitHubT0ken" * 2
PLANTS = {
    "env_not_recorded": "planted-hf-env-0001",
    "env_allow_listed": "planted-tfvar-pw-0002",
    "argv_api_key": "planted-argv-key-0003",
    "argv_db_pw": "planted-dbpw-0004",
    "argv_pwd": "planted-pwd-0005",
    "argv_bearer": "planted.bearer-0006",
    "argv_url_password": "planted-url-pw-0007",
    "config_password": "planted-config-pw-0008",
    "config_nested_token": "planted-config-token-0009",
    "api_param": "planted-api-param-0010",
    "printed_url_password": "planted-printed-url-0011",
}
SCRIPT = """\
import os, sys
import gitruns

print("argv:", sys.argv)
print("hf token:", os.environ["HF_TOKEN"], "db pw:", os.environ["TF_VAR_db_pw"])
print(open(sys.argv[1]).read())
with gitruns.start_run() as run:
    run.log_param("service", {"api_key": os.environ["PLAIN_NAMED_VALUE"]})
    print("service key is", os.environ["PLAIN_NAMED_VALUE"])
    print("epoch 1 loss 0.5")
aws = "AKIA" + "PLANTED0AWS0KEY1"
hf = "hf" + "_" + "PlantedHuggingFaceToken0123456789"
openai = "sk" + "-" + "PlantedOpenAiStyleToken0123456789"
github = "ghp" + "_" + "Pl4nt3dGitHubT0ken" * 2
print("tokens:", aws, hf, openai, github, file=sys.stderr)
print("url: https://alice:" + os.environ["URL_PW"] + "@db.example.com/x", file=sys.stderr)
"""


def _repo_with_token_remote(repo: Path) -> None:
    git(repo, "remote", "add", "origin", f"https://{GITHUB_TOKEN}@github.com/o/r.git")


def test_every_kind_of_planted_secret_stays_out_of_every_git_object(repo: Path) -> None:
    _repo_with_token_remote(repo)
    (repo / "planted.py").write_text(SCRIPT)
    (repo / "conf.yaml").write_text(
        "lr: 0.1\n"
        f"password: {PLANTS['config_password']}\n"
        f"database:\n  user: alice\n  token: {PLANTS['config_nested_token']}\n"
    )
    env = {
        "HF_TOKEN": PLANTS["env_not_recorded"],
        "TF_VAR_db_pw": PLANTS["env_allow_listed"],
        "PLAIN_NAMED_VALUE": PLANTS["api_param"],
        "URL_PW": PLANTS["printed_url_password"],
    }
    result = record(
        repo,
        "--no-system-metrics",
        "--config",
        "conf.yaml",
        "--",
        PY,
        "planted.py",
        "conf.yaml",
        "--api-key",
        PLANTS["argv_api_key"],
        "--db-pw",
        PLANTS["argv_db_pw"],
        "--pwd",
        PLANTS["argv_pwd"],
        "--header",
        f"Authorization: Bearer {PLANTS['argv_bearer']}",
        "--db",
        f"https://bob:{PLANTS['argv_url_password']}@db.example.com/x",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert PLANTS["config_password"].encode() in result.stdout  # the terminal saw it all
    run = only_run(repo)
    blob = all_object_bytes(repo)
    for kind, secret in [*PLANTS.items(), ("remote_url_user", GITHUB_TOKEN)]:
        assert secret.encode() not in blob, kind
    for shape in (b"AKIAPLANTED0AWS0KEY1", b"hf_Planted", b"sk-Planted", b"ghp_Pl4nt"):
        assert shape not in blob, shape
    stdout = run_file(repo, run["id"], "logs/stdout.txt").decode()
    assert "epoch 1 loss 0.5" in stdout and "lr: 0.1" in stdout  # the rest is untouched
    assert stdout.count("[REDACTED]") >= 8
    assert run["git"]["remote_url"] == "https://github.com/o/r.git"
    assert run["params"]["password"] == "[REDACTED]"
    assert run["params"]["database"] == {"user": "alice", "token": "[REDACTED]"}
    assert run["params"]["service"] == {"api_key": "[REDACTED]"}
    assert "planted.py" in run_file(repo, run["id"], "code/uncommitted.patch").decode()
    fsck(repo)


def test_a_secret_in_the_error_and_traceback_is_scrubbed(repo: Path) -> None:
    (repo / "fails.py").write_text(
        "import sys, gitruns\n"
        "gitruns.start_run()\n"
        "raise ValueError('cannot log in with ' + sys.argv[2])\n"
    )
    secret = "planted-error-pw-0012"
    result = record(repo, "--no-system-metrics", "--", PY, "fails.py", "--password", secret)
    assert result.returncode == 1
    run = only_run(repo)
    assert run["status"] == "FAILED"
    assert run["error"]["message"] == "cannot log in with [REDACTED]"
    assert secret.encode() not in all_object_bytes(repo)


@pytest.mark.slow
def test_output_of_a_killed_recorder_is_scrubbed_by_recovery(repo: Path) -> None:
    secret = "planted-crash-pw-0013"
    pid_file = repo / "child.pid"
    (repo / "loop.py").write_text(
        "import os, sys, time\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "print('my password is', sys.argv[2], flush=True)\n"
        "time.sleep(60)\n"
    )
    recorder = subprocess.Popen(
        [*GITRUNS, "record", "--no-system-metrics", "--", PY, "loop.py", "--password", secret],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 30
    assert recorder.stdout is not None
    line = recorder.stdout.readline()  # the child printed: the recorder saved it
    assert secret.encode() in line
    while not pid_file.exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    recorder.send_signal(signal.SIGKILL)
    recorder.wait()
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    time.sleep(0.2)
    listing = subprocess.run([*GITRUNS, "ls"], cwd=repo, capture_output=True, check=True)
    assert b"CRASHED" in listing.stdout
    run = only_run(repo)
    assert "my password is [REDACTED]" in run_file(repo, run["id"], "logs/stdout.txt").decode()
    assert secret.encode() not in all_object_bytes(repo)
    recorder.stdout.close()
    assert recorder.stderr is not None
    recorder.stderr.close()


@pytest.mark.slow
def test_a_password_in_a_hydra_config_is_redacted_and_scrubbed(repo: Path) -> None:
    pytest.importorskip("hydra")
    secret = "planted-hydra-pw-0014"
    (repo / "conf").mkdir()
    (repo / "conf" / "config.yaml").write_text(
        f"db:\n  driver: mysql\n  user: alice\n  password: {secret}\nlr: 0.1\n"
    )
    (repo / "app.py").write_text(
        "import hydra\n"
        "from omegaconf import OmegaConf\n\n"
        "@hydra.main(version_base=None, config_path='conf', config_name='config')\n"
        "def main(cfg):\n"
        "    print(OmegaConf.to_yaml(cfg))\n\n"
        "if __name__ == '__main__':\n"
        "    main()\n"
    )
    git(repo, "add", "conf", "app.py")
    git(repo, "commit", "-q", "-m", "hydra app")  # the config file is committed code
    result = record(repo, "--no-system-metrics", "--", PY, "app.py", "lr=0.2")
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    assert run["params"]["db"]["password"] == "[REDACTED]"
    stdout = run_file(repo, run["id"], "logs/stdout.txt").decode()
    assert "password: '[REDACTED]'" in stdout or "password: [REDACTED]" in stdout
    # The committed config holds the password (the user's own commit); no run object does.
    run_objects = git(repo, "rev-list", "--objects", f"refs/runs/{run['id']}", "--not", "HEAD")
    for line in run_objects.split():
        if len(line) == 40:
            assert (
                secret.encode()
                not in subprocess.run(
                    ["git", "cat-file", "-p", line], cwd=repo, capture_output=True, check=True
                ).stdout
            )
