"""The dashboard's ASGI application: the page, its static files and a JSON API.

Every handler is a thin call into ``listing``, ``run_view``, ``compare_view``, ``series``
or ``edits``; handlers are plain functions (Starlette runs them on its thread pool) and
each opens the repository afresh, so no git object is shared between threads.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gitruns.errors import GitrunsError, RunNotFoundError
from gitruns.storage import Store
from gitruns.ui import compare_view, edits, listing, run_view
from gitruns.ui.security import GuardMiddleware, Policy
from gitruns.ui.series import DEFAULT_POINTS, SeriesCache
from gitruns.version import __version__

STATIC = Path(str(resources.files("gitruns.ui") / "static"))
MAX_SERIES_KEYS = 200


@dataclass
class Settings:
    repo: str
    policy: Policy
    series: SeriesCache = field(default_factory=SeriesCache)

    def store(self, recover: bool = False) -> Store:
        from gitruns.recording.repository import open_store

        return open_store(self.repo, recover=recover)


class JSON(Response):
    """Strict JSON, written fast (``listing.dumps``)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return listing.dumps(content).encode()


def _error(exc: GitrunsError, what: str = "request") -> Response:
    status = 404 if isinstance(exc, RunNotFoundError) else 400
    return JSON({"error": listing.error_dict(exc, what)}, status_code=status)


def _guarded(what: str, action: Callable[[], Response]) -> Response:
    try:
        return action()
    except GitrunsError as exc:
        return _error(exc, what)


def create_app(repo: str, policy: Policy) -> Any:
    """The application serving the repository at ``repo`` under ``policy``."""
    settings = Settings(str(repo), policy)
    h = _Handlers(settings)
    routes = [
        Route("/", h.page),
        Route("/run/{ref}", h.page),
        Route("/compare", h.page),
        Route("/api/info", h.info),
        Route("/api/runs", h.runs),
        Route("/api/version", h.version),
        Route("/api/compare", h.compare),
        Route("/api/series", h.overlay_series),
        Route("/api/runs/{ref}", h.run),
        Route("/api/runs/{ref}/series", h.run_series),
        Route("/api/runs/{ref}/logs/{stream}", h.logs),
        Route("/api/runs/{ref}/environment", h.environment),
        Route("/api/runs/{ref}/patch", h.patch),
        Route("/api/runs/{ref}/artifacts/{path:path}", h.artifact),
        Route("/api/runs/{ref}/edit/{change}", h.edit, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return GuardMiddleware(Starlette(routes=routes), policy)


def _points(request: Request) -> int:
    try:
        return int(request.query_params.get("points", DEFAULT_POINTS))
    except ValueError:
        return DEFAULT_POINTS


def _number(request: Request, name: str) -> float | None:
    text = request.query_params.get(name)
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def _run_refs(values: list[str]) -> list[tuple[str, str | None]]:
    """``id`` or ``id@origin`` as given by the page."""
    refs = []
    for value in values:
        ref, _, origin = value.partition("@")
        refs.append((ref, origin or None))
    return refs


class _Handlers:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def page(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})

    def info(self, request: Request) -> Response:
        store = self.settings.store()
        root = store.workdir or store.git_dir
        return JSON(
            {
                "repo": root.name,
                "path": str(root),
                "allow_edit": self.settings.policy.allow_edit,
                "version": __version__,
            }
        )

    def runs(self, request: Request) -> Response:
        query = request.query_params
        columns = query.getlist("column")  # one parameter a column: names may hold commas
        limit = query.get("limit")

        def action() -> Response:
            store = self.settings.store(recover=True)
            data = listing.list_runs(
                store,
                query.get("filter"),
                query.getlist("sort"),
                columns,
                int(limit) if limit and limit.isdigit() else None,
                all_copies=query.get("all") == "1",
            )
            return Response(data, media_type="application/json")

        return _guarded("filter", action)

    def version(self, request: Request) -> Response:
        return _guarded(
            "request", lambda: JSON({"version": listing.version(self.settings.store(True))})
        )

    def run(self, request: Request) -> Response:
        def action() -> Response:
            store = self.settings.store()
            run, origin = self._locate(store, request)
            return JSON(run_view.run_detail(store, run, origin))

        return _guarded("run", action)

    def _locate(self, store: Store, request: Request) -> Any:
        return run_view.locate_run(
            store, request.path_params["ref"], request.query_params.get("origin")
        )

    def run_series(self, request: Request) -> Response:
        def action() -> Response:
            store = self.settings.store()
            run, _ = self._locate(store, request)
            keys = request.query_params.getlist("key")[:MAX_SERIES_KEYS]
            span = (_number(request, "min_step"), _number(request, "max_step"))
            points = _points(request)
            series = [
                self.settings.series.get(run, key, points, span).to_dict()
                for key in keys
                if key in run.metrics
            ]
            return JSON({"id": run.id, "status": run.status, "series": series})

        return _guarded("series", action)

    def overlay_series(self, request: Request) -> Response:
        """One metric of several runs (the compare page's overlaid curves)."""

        def action() -> Response:
            store = self.settings.store()
            key = request.query_params.get("key", "")
            points = _points(request)
            span = (_number(request, "min_step"), _number(request, "max_step"))
            found = []
            for ref, origin in _run_refs(request.query_params.getlist("run")):
                run, origin = run_view.locate_run(store, ref, origin)
                series = (
                    self.settings.series.get(run, key, points, span).to_dict()
                    if key in run.metrics
                    else None
                )
                found.append({"id": run.id, "origin": origin, "series": series})
            return JSON({"key": key, "runs": found})

        return _guarded("series", action)

    def logs(self, request: Request) -> Response:
        def action() -> Response:
            store = self.settings.store()
            run, _ = self._locate(store, request)
            tail_text = request.query_params.get("tail", str(run_view.DEFAULT_TAIL))
            tail = None if tail_text == "all" else int(tail_text) if tail_text.isdigit() else 0
            data = run_view.log_lines(
                run, request.path_params["stream"], tail, request.query_params.get("q", "")
            )
            return JSON(data)

        return _guarded("logs", action)

    def environment(self, request: Request) -> Response:
        def action() -> Response:
            run, _ = self._locate(self.settings.store(), request)
            return JSON(run_view.environment(run))

        return _guarded("environment", action)

    def patch(self, request: Request) -> Response:
        def action() -> Response:
            run, _ = self._locate(self.settings.store(), request)
            return JSON({"patch": run_view.patch_text(run)})

        return _guarded("patch", action)

    def artifact(self, request: Request) -> Response:
        def action() -> Response:
            store = self.settings.store()
            run, _ = self._locate(store, request)
            pointer = run_view.find_artifact(run, request.path_params["path"])
            path = run_view.artifact_file(store, pointer)
            if path is None:
                raise RunNotFoundError(
                    f"the content of artifact '{pointer['path']}' is not in this repository's"
                    " artifact store",
                    "fetch it from where the run was recorded",
                )
            media = str(pointer.get("media_type") or "")
            name = Path(str(pointer["path"])).name
            inline = media.startswith("image/") and media != "image/svg+xml"
            guessed = media or mimetypes.guess_type(name)[0] or "application/octet-stream"
            return FileResponse(
                path,
                media_type=guessed if inline else "application/octet-stream",
                filename=name,
                content_disposition_type="inline" if inline else "attachment",
                headers={"content-security-policy": "sandbox; default-src 'none'"},
            )

        return _guarded("artifact", action)

    async def edit(self, request: Request) -> Response:
        """Tag, untag, note or rename (only with --allow-edit: see security.Policy)."""
        body = await _json_body(request)
        store = self.settings.store()
        ref, change = request.path_params["ref"], request.path_params["change"]
        action = lambda: JSON(edits.apply(store, ref, change, body))  # noqa: E731
        return await run_in_threadpool(_guarded, change, action)

    def compare(self, request: Request) -> Response:
        def action() -> Response:
            store = self.settings.store()
            runs = [
                run_view.locate_run(store, ref, origin)
                for ref, origin in _run_refs(request.query_params.getlist("run"))
            ]
            return JSON(compare_view.compare_data(runs))

        return _guarded("compare", action)


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None
