"""Helpers for the dashboard tests: real runs, a real ``gitruns ui`` on 127.0.0.1 started
and stopped by the test, plain HTTP requests, and Chromium through Playwright."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import gitruns

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("GITRUNS_TEST_ARTIFACTS", ROOT / "out" / "test-artifacts")) / "ui"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def tiny_png(width: int = 8, height: int = 8) -> bytes:
    """A real PNG (red), built with zlib: an image artifact the page should show."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def make_sweep(repo: Path, count: int = 3, steps: int = 200) -> list[str]:
    """Runs of a small learning-rate sweep, made through the public API; their ids."""
    ids = []
    for index in range(count):
        lr = [0.1, 0.3, 1.0, 0.03, 0.5][index % 5]
        params = {"lr": lr, "model": {"layers": 2 + 2 * index, "act": ["relu", "gelu"][index % 2]}}
        tags = {"team": ["vision", "nlp"][index % 2], "sweep": "lr"}
        with gitruns.start_run(f"sweep-{index}", params=params, tags=tags, repo=repo) as run:
            for step in range(steps):
                loss = math.exp(-lr * step / 30) + 0.02 * math.sin(step)
                run.log_metrics({"loss": loss, "acc": 1 - math.exp(-lr * step / 50)}, step=step)
                run.log_metric("system/cpu_percent", 20 + index + step % 7, step=step)
        ids.append(run.id)
    return ids


def make_rich_run(repo: Path, tmp: Path) -> str:
    """A run with artifacts (an image and a binary), a note, a parent and a long series."""
    (tmp / "plot.png").write_bytes(tiny_png())
    (tmp / "model.bin").write_bytes(b"\x00weights\x01" * 10)
    with gitruns.start_run("rich", params={"lr": 0.01}, notes="first try", repo=repo) as run:
        for step in range(20_000):
            value = 1.0 / (step + 1)
            run.log_metric("long", 50.0 if step == 12_345 else value, step=step)
        run.log_metric("gappy", 1.0, step=0)
        run.log_metric("gappy", float("nan"), step=1)
        run.log_metric("gappy", 3.0, step=2)
        run.log_artifact(tmp / "plot.png")
        run.log_artifact(tmp / "model.bin")
    return run.id


@dataclass
class UiServer:
    """A ``gitruns ui`` process and the URL it printed."""

    process: subprocess.Popen[str]
    url: str
    output: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.url.rstrip("/").rsplit(":", 1)[1])


@contextmanager
def ui_server(repo: Path, *args: str) -> Iterator[UiServer]:
    """Start ``gitruns ui --port 0 --no-browser ARGS`` in ``repo``; stop it afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gitruns", "ui", "--port", "0", "--no-browser", *args],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    url = _wait_for_url(process, lines)
    reader = threading.Thread(target=_drain, args=(process, lines), daemon=True)
    reader.start()
    try:
        yield UiServer(process, url, lines)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_url(process: subprocess.Popen[str], lines: list[str]) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if " at http://" in line:
            return line.split(" at ", 1)[1].split(" ", 1)[0]
    process.kill()
    raise AssertionError(f"gitruns ui did not start: {''.join(lines)}")


def _drain(process: subprocess.Popen[str], lines: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    url: str, *, method: str = "GET", headers: dict[str, str] | None = None, data: Any = None
) -> Reply:
    """One HTTP request with urllib; error statuses are returned, not raised."""
    body = None if data is None else json.dumps(data).encode()
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return Reply(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, dict(error.headers), error.read())


def chromium_path() -> str:
    """Debian's chromium for Playwright; skipped where it is missing, except in CI."""
    found = next((shutil.which(name) for name in CHROMIUM_NAMES if shutil.which(name)), None)
    try:
        import playwright  # noqa: F401
    except ImportError:
        found = None
    if found is None:
        message = "needs chromium (apt-get install chromium) and playwright (the test extra)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def screenshot(page: Any, name: str, full_page: bool = False) -> Path:
    """Save a screenshot as a test artifact (and into docs/images when asked to)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    if os.environ.get("GITRUNS_UPDATE_DOC_SCREENSHOTS"):
        shutil.copy(path, ROOT / "docs" / "images" / f"ui-{name}.png")
    return path


# Count the pixels of a canvas close to an RGB colour: a chart whose line was drawn has
# many; an empty or blank canvas has none.
COLOUR_PIXELS = """([selector, rgb]) => {
  const canvases = [...document.querySelectorAll(selector)];
  let count = 0;
  for (const canvas of canvases) {
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4) {
      const near = (k) => Math.abs(data[i + k] - rgb[k]) < 40;
      if (data[i + 3] > 200 && near(0) && near(1) && near(2)) count++;
    }
  }
  return count;
}"""
FIRST_COLOUR = (0x1F, 0x77, 0xB4)
SECOND_COLOUR = (0xFF, 0x7F, 0x0E)
