"""One run per job of a Hydra ``--multirun`` under ``gitruns record``, each a child of the
sweep run (the recorded run), with the config Hydra composed for that job.

Two ways, one result:

- in the child, when its Python has gitruns (:func:`start_job` / :func:`end_job`, called
  by the hook in ``gitruns/_sitehook``): the job's run starts with the job and is the run
  that ``start_run()``, module-level logging and ``gitruns log-metric`` join inside it, so
  the job's own metrics land in its own run;
- in the recorder, after the command exits, for jobs whose run the child could not write
  (:func:`write_job_runs`): the same params and fields, from the job's report.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitruns.format import layout
from gitruns.recording.repository import ENV_REPO
from gitruns.recording.start import ENV_NAME_FIXED, ENV_RUN_DIR, ENV_RUN_ID

if TYPE_CHECKING:
    from gitruns.recording.active import ActiveRun
    from gitruns.storage import Store

MAX_NAME = 120
_JOIN_VARIABLES = (ENV_RUN_ID, ENV_RUN_DIR, ENV_NAME_FIXED)


@dataclass
class JobRun:
    """A job's run, owned by the child process for the length of the job."""

    run: ActiveRun
    saved_environment: dict[str, str | None] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.run.id


def job_run_name(record: Mapping[str, Any]) -> str:
    """The job's overrides (``db=postgresql,lr=0.1``), as Hydra names its folders; else
    ``<job name>-<job number>``."""
    job = record.get("job") or {}
    name = str(job.get("override_dirname") or "").strip()
    if not name or any(ord(c) < 32 for c in name):
        name = f"{job.get('name') or 'job'}-{job.get('num')}"
    return name[:MAX_NAME]


def hydra_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """What run.yaml's ``hydra`` field keeps of a job report (the config goes to params)."""
    return {
        "mode": record.get("mode"),
        "choices": record.get("choices") or {},
        "overrides": record.get("overrides") or [],
        "hydra_overrides": record.get("hydra_overrides") or [],
        "output_dir": record.get("output_dir"),
        "job": record.get("job") or {},
    }


def job_params(record: Mapping[str, Any]) -> dict[str, Any]:
    from gitruns.capture.secrets import redact_params

    config = record.get("config")
    return redact_params(config) if isinstance(config, dict) else {}


def _log_job(run: ActiveRun, record: Mapping[str, Any]) -> list[str]:
    """Params (source ``hydra``) and the ``hydra`` field; the keys that could not be stored."""
    from gitruns.errors import InvalidInputError

    refused = []
    for key, value in sorted(job_params(record).items()):
        try:
            run.log_param(key, value, source="hydra")
        except InvalidInputError:
            refused.append(key)
    run.set_fields(hydra=hydra_fields(record))
    return refused


# -- in the child ------------------------------------------------------------------------------
def start_job(record: Mapping[str, Any]) -> JobRun:
    """Start the run of a multirun job in this process and make it the run that
    ``start_run()`` and ``gitruns log-*`` join until :func:`end_job`."""
    from gitruns.recording.repository import open_store
    from gitruns.recording.start import create_run

    sweep_id = os.environ[ENV_RUN_ID]
    store = open_store(os.environ.get(ENV_REPO), recover=False)
    run = create_run(job_run_name(record), [], store)
    run.add_parent(sweep_id)
    _log_job(run, record)
    saved = {name: os.environ.get(name) for name in _JOIN_VARIABLES}
    os.environ[ENV_RUN_ID] = run.id
    os.environ[ENV_RUN_DIR] = str(run.run_dir)
    os.environ.pop(ENV_NAME_FIXED, None)
    return JobRun(run, saved)


def end_job(job: JobRun, status: str, error: BaseException | None) -> None:
    """End the job's run (FINISHED, or FAILED with the job's exception), after ending what
    the job left open in it, and make the sweep run the one to join again."""
    from gitruns.recording import stack

    final = "FINISHED" if status == "COMPLETED" else "FAILED"
    try:
        for joined in [r for r in list(stack._active) if r.id == job.run.id]:
            try:
                joined.end(final)
            finally:
                stack.forget_run(joined)
        job.run.end(final, error=error)
    finally:
        for name, value in job.saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# -- in the recorder ---------------------------------------------------------------------------
def write_job_runs(
    store: Store, sweep: ActiveRun, records: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Write a finished run for each job report that has none yet. Returns one entry per
    job (``num``, ``run``, ``status``) for the sweep run, and warnings."""
    from gitruns.recording.start import create_run

    jobs, warnings = [], []
    for record in sorted(records, key=lambda r: r.get("started") or 0.0):
        job = record.get("job") or {}
        run_id = record.get("run_id")
        if not run_id:
            run = create_run(job_run_name(record), [], store)
            run.add_parent(sweep.id)
            refused = _log_job(run, record)
            warnings += [f"Hydra job {job.get('num')}: param '{k}' not stored" for k in refused]
            if record.get("started"):
                run.set_fields(start_time=layout.iso_time(float(record["started"])))
            if record.get("error"):
                run.set_fields(error=record["error"])
            # a job with no status never ended: the process died inside it
            final = "FINISHED" if record.get("status") == "COMPLETED" else "FAILED"
            run.end(final, ended_at=record.get("ended"))
            run_id = run.id
        jobs.append({"num": job.get("num"), "run": run_id, "status": record.get("status")})
    return jobs, warnings
