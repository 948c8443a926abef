"""What bench_startup, bench_side_by_side and bench_scale share: the machine line, a
scratch repository, bytecode-compiled gitruns, and writing a section of docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work"
DOC = ROOT / "docs" / "benchmarks.md"


def bench_env() -> dict[str, str]:
    """The environment of every timed process: bytecode is used (a user's install has it;
    PYTHONDONTWRITEBYTECODE would make every start compile gitruns from source)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def compile_gitruns() -> None:
    """Write gitruns' bytecode once, so no timed start compiles it."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "gitruns")],
        check=True,
        capture_output=True,
        env=bench_env(),
    )


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Bench")
    git(path, "config", "user.email", "bench@example.com")
    (path / "train.py").write_text("pass\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "init")
    return path


def machine_line() -> str:
    load = os.getloadavg()[0]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return (
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs (shared with other work; load"
        f" average {load:.1f} at the end), Python {platform.python_version()}, git"
        f" {git(ROOT, 'version').split()[-1]}; measured {stamp}."
    )


def write_section(name: str, body: str) -> None:
    """Replace the text between ``<!-- bench:NAME -->`` markers (appended when absent)."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    text = DOC.read_text()
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOC.write_text(text)


def regular_install(venv: Path) -> str | None:
    """The Python of a fresh venv at ``venv`` with this worktree installed as a user's
    ``pip install`` does (a wheel: no editable finder at start-up), its dependencies read
    from this venv through a ``.pth`` line (a path only: the editable finder's own ``.pth``
    there is not run); None when it cannot be built (pip needs PyPI for setuptools)."""
    import shutil
    import site

    shutil.rmtree(venv, ignore_errors=True)
    base = getattr(sys, "_base_executable", sys.executable)
    python = venv / "bin" / "python"
    try:
        subprocess.run([base, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--no-deps", str(ROOT)],
            check=True,
            capture_output=True,
            env=bench_env(),
        )
        found = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except subprocess.CalledProcessError as exc:
        print(f"no regular install: {exc.stderr[-500:]!r}", file=sys.stderr)
        return None
    Path(found, "_bench_dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
    return str(python)


def gitruns_at(revision: str) -> Path:
    """The ``gitruns`` package of ``revision`` (a commit of this repository), extracted once
    under bench/.work/ (``before-<commit>``): a ``--before`` row runs it by PYTHONPATH."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{revision}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    folder = ROOT / "bench" / ".work" / f"before-{commit[:12]}"
    if not (folder / "gitruns").exists():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", commit, "gitruns"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder
