"""``record``: run any command as a child and capture everything about it as a run.

The recorder owns the run; the child joins it through environment variables, so
``gitruns.start_run()`` or ``gitruns log-metric`` inside the child write to the same run.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, BinaryIO

from gitruns.capture.executables import which
from gitruns.capture.resources import ResourceMeter, Usage, wait_with_usage
from gitruns.errors import GitrunsError, InvalidInputError
from gitruns.format import layout
from gitruns.recorder.child_output import OutputPump
from gitruns.recorder.child_reports import hook_environment
from gitruns.recorder.params import RecordedParams
from gitruns.recorder.written_files import split_by_time, stale_files_warning
from gitruns.recording.active import ActiveRun
from gitruns.recording.capped_log import CappedLog
from gitruns.recording.experiment import ENV_EXPERIMENT, check_experiment, default_experiment
from gitruns.recording.repository import ENV_REPO
from gitruns.recording.staging_files import EXTRA_FILES_DIR
from gitruns.recording.start import ENV_NAME_FIXED, ENV_RUN_DIR, ENV_RUN_ID, create_run

if TYPE_CHECKING:  # the run is read back at the end: loaded while the command runs
    from gitruns.recording.git_probe import ProbedRepo, StartedProbe
    from gitruns.runs.model import Run
    from gitruns.storage import Store

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PACKAGE_CACHE_DIR = "packages"  # in .git/gitruns: capture.package_cache


# Plain classes, not dataclasses: `record` defines these before its command starts, and
# `import dataclasses` loads `inspect` (`ast`, `dis`, `tokenize`), about 8 ms, on a path
# that must stay under 0.1 s (docs/design.md, "Start-up of record, round six").
class RecordOptions:
    """What `gitruns record` was asked to do."""

    __slots__ = (
        "artifacts", "autolog", "capture_args", "command", "configs", "experiment",
        "import_metrics", "inputs", "kill_grace", "max_output_bytes", "metric_regexes", "name",
        "notes", "params", "parents", "parse_argv", "system_interval", "tags"
    )  # fmt: skip

    def __init__(
        self,
        command: list[str],
        name: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        configs: list[Path] | None = None,
        notes: list[str] | None = None,
        parents: list[str] | None = None,
        inputs: list[str] | None = None,
        artifacts: list[str] | None = None,
        system_interval: float | None = 10.0,
        parse_argv: bool = True,
        capture_args: bool = True,
        max_output_bytes: int = 2 * 1024 * 1024,
        kill_grace: float = 10.0,
        metric_regexes: list[str] | None = None,
        import_metrics: bool = True,
        experiment: str | None = None,
        autolog: bool = False,
    ) -> None:
        self.command = command
        self.name = name
        self.tags = {} if tags is None else tags
        self.params = {} if params is None else params
        self.configs = [] if configs is None else configs
        self.notes = [] if notes is None else notes
        self.parents = [] if parents is None else parents
        self.inputs = [] if inputs is None else inputs
        self.artifacts = [] if artifacts is None else artifacts
        self.system_interval = system_interval  # None: no system metrics
        self.parse_argv = parse_argv
        # a Python child reports what it parsed (gitruns/_sitehook)
        self.capture_args = capture_args
        self.max_output_bytes = max_output_bytes  # per stream: half head, half tail
        self.kill_grace = kill_grace  # seconds a signalled child gets before SIGKILL
        # printed lines -> metrics
        self.metric_regexes = [] if metric_regexes is None else metric_regexes
        # TensorBoard events and metrics.csv written by the run
        self.import_metrics = import_metrics
        self.experiment = experiment  # default: GITRUNS_EXPERIMENT
        self.autolog = autolog  # a Python child calls gitruns.autolog() (gitruns/integrations)


class RecordResult:
    """How a recorded command went, and its run."""

    __slots__ = ("duration", "exit_code", "metrics", "name", "run", "run_id", "status", "warnings")

    def __init__(
        self,
        run: Run | None,
        run_id: str,
        name: str,
        status: str,
        exit_code: int,
        duration: float,
        warnings: list[str] | None = None,
        metrics: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.run = run
        self.run_id = run_id
        self.name = name
        self.status = status
        self.exit_code = exit_code
        self.duration = duration
        self.warnings = [] if warnings is None else warnings
        # metric summaries as written, when the run was not read back (``run`` None)
        self.metrics = {} if metrics is None else metrics


def record(
    options: RecordOptions,
    *,
    store: Store | None = None,
    stdout: BinaryIO,
    stderr: BinaryIO,
    on_start: Callable[[str, str], None] = lambda run_id, name: None,
    probe: StartedProbe | None = None,
) -> RecordResult:
    """Run ``options.command`` to completion as a recorded run and return how it went.

    Without ``store``, the repository is found from GITRUNS_REPO or the current folder:
    in a clean worktree the command starts before git (pygit2) is loaded, and the run is
    finalised without it (``recording.quick_start``); otherwise as with a ``store``.
    ``probe``: the git probe of that folder, started earlier (``git_probe.start_probe``).
    """
    try:
        executable = _check_command(options.command)
        patterns = _patterns(options.metric_regexes)
        started = time.time()
        config_params = _load_configs(options.configs) if options.configs else []
        experiment = options.experiment
        if experiment is not None:
            experiment = check_experiment(experiment)
        else:
            experiment = default_experiment()
        untracked = _scripts(options)
        active, opener, repo_dir, gitruns_dir = _start_run(
            options, store, experiment, untracked, probe
        )
    finally:
        if probe is not None:
            probe.close()  # read by the probe, or not wanted
    on_start(active.id, active.name)
    recorder = _Recorder(active, options, executable, stdout, stderr, patterns)
    recorder.repo_dir = repo_dir
    captures: list[EnvironmentCapture] = []

    def beside_the_command() -> None:
        # What the run needs but the command does not: on threads that start with it, so
        # that they cost no time before it starts and overlap its run (on one thread with
        # the steps before the command, they would delay them). The package list from
        # .git/gitruns; the repository itself for a run started without git.
        if opener is not None:
            opener.start(active)
        capture = EnvironmentCapture(options.command, gitruns_dir / PACKAGE_CACHE_DIR)
        capture.write_into(active)
        captures.append(capture)
        _preload(_PLAIN_END if opener is not None and opener.plain else _AFTER_THE_COMMAND)

    try:
        recorder.log_known_params(config_params)
        status, exit_code = recorder.run_child(beside_the_command)
        if opener is not None:
            opener.wait()
        recorder.log_resources()
        for capture in captures:
            capture.wait()
        recorder.collect_after(started)
        recorder.active.end(status, exit_code=exit_code)
    except BaseException as error:
        if active.status == "RUNNING":
            if opener is not None:
                opener.wait(check=False)
            for capture in captures:  # do not finalise while it still writes into the run
                capture.wait(timeout=5.0)
            active.end("KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED", error=error)
        raise
    duration = time.time() - started
    if not active.store_is_open:  # finalised without pygit2: say what was written
        name = active.written.get("name", active.name)
        metrics = active.written.get("summaries", {})
        result = RecordResult(None, active.id, name, status, exit_code, duration)
        result.warnings, result.metrics = recorder.warnings, metrics
        return result
    from gitruns.runs.model import load_run

    store = active.store
    commit = store.run_commit(active.id)
    run = load_run(store, active.id, commit) if commit else None
    name = run.name if run is not None else active.name
    return RecordResult(run, active.id, name, status, exit_code, duration, recorder.warnings)


def _start_run(
    options: RecordOptions,
    store: Store | None,
    experiment: str | None,
    untracked: list[Path],
    probe: StartedProbe | None = None,
) -> tuple[ActiveRun, _StoreOpener | None, Path, Path]:
    """The run, staged; what will finalise it when it was started without the repository;
    the folder the command is told (GITRUNS_REPO) and ``.git/gitruns``."""
    probed = None
    if store is None and not options.parents:  # parents are resolved through the cache
        from gitruns.recording.git_probe import probe_clean_worktree

        start = os.environ.get(ENV_REPO) or os.getcwd()
        wanted = probe if probe is not None and probe.start == start else None
        probed = probe_clean_worktree(start, untracked, wanted)
    if probed is not None:
        from gitruns.recording.quick_start import create_run_from_probe

        active = create_run_from_probe(probed, options.name, experiment=experiment)
        return active, _StoreOpener(probed), probed.workdir, probed.gitruns_dir
    if store is None:
        from gitruns.recording.repository import open_store

        store = open_store()
    parent_ids = []
    if options.parents:  # resolving names loads the query package: only when there are any
        from gitruns.query.resolve import find_run_id

        parent_ids = [find_run_id(store, p) for p in options.parents]
    active = create_run(
        options.name, parent_ids, store, include_untracked=untracked, experiment=experiment
    )
    return active, None, store.workdir or store.git_dir, store.gitruns_dir


class _StoreOpener:
    """Gives the run started without git what will finalise it: the plain writer
    (``runwrite.PlainRepo``, no pygit2) when the repository allows it and no crashed run
    of another process waits for recovery; else the repository, opened (pygit2,
    recovering crashed runs as ``open_store`` does) on a thread while the command runs."""

    def __init__(self, probed: ProbedRepo) -> None:
        self._probed = probed
        self._start = probed.start
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self.plain = False  # the run is given the plain writer, not the repository

    def start(self, active: ActiveRun) -> None:
        from gitruns.recording.quick_start import others_to_recover, plain_repo

        plain = plain_repo(self._probed)
        if plain is not None and not others_to_recover(self._probed.gitruns_dir, active.id):
            active.use_plain_repo(plain)
            self.plain = True
            return

        def open_it() -> None:
            from gitruns.recording.repository import open_store

            try:
                active.use_store(open_store(self._start))
            except BaseException as exc:  # raised again where the run needs its store
                self._error = exc

        self._thread = threading.Thread(target=open_it, name="gitruns-open", daemon=True)
        self._thread.start()

    def wait(self, *, check: bool = True) -> None:
        if self._thread is not None:
            self._thread.join()
        if check and self._error is not None:
            raise self._error


# What the steps after the command import, loaded while it runs (a thread of its own:
# the recorder only waits then), off the path from its exit to the run's commit.
_AFTER_THE_COMMAND = (
    "gitruns.recorder.metric_files",
    "gitruns.recording.costs",
    "gitruns.recording.finalize",
    "gitruns.recording.spare",
    "gitruns.capture.scrub",
    "gitruns.runwrite",
    "gitruns.runs.model",
)
# The same for a run finalised without pygit2 (``runs.model`` would load it: the run is
# not read back then).
_PLAIN_END = tuple(name for name in _AFTER_THE_COMMAND if name != "gitruns.runs.model")


def _preload(modules: tuple[str, ...]) -> None:
    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # the step that needs it imports it again and reports
                return

    threading.Thread(target=load, name="gitruns-preload", daemon=True).start()


class EnvironmentCapture:
    """Platform, packages and allow-listed variables, captured on a thread that starts
    with the command and writes its files into the staging folder as soon as they are
    ready, so that a recorder killed later still leaves them behind."""

    def __init__(self, command: list[str], cache_dir: Path | None = None) -> None:
        self._command = command
        self._cache_dir = cache_dir
        self._target: ActiveRun | None = None
        self._target_ready = threading.Event()
        self._thread = threading.Thread(target=self._capture, name="gitruns-env", daemon=True)
        self._thread.start()

    def write_into(self, active: ActiveRun) -> None:
        self._target = active
        self._target_ready.set()

    def wait(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _capture(self) -> None:
        from gitruns.capture import environment
        from gitruns.capture.secrets import redact_env
        from gitruns.format import yamlio

        python = _python_of(self._command)
        try:
            platform_info = environment.platform_info(python, self._cache_dir)
        except Exception as exc:  # capture must never break a run
            platform_info = {"error": f"{type(exc).__name__}: {exc}"}
        try:
            packages = environment.installed_packages(python, self._cache_dir)
        except Exception as exc:
            packages = f"# could not list packages: {type(exc).__name__}: {exc}\n"
        conda_files, conda = _conda_capture(python, packages)
        variables = redact_env(os.environ)
        self._target_ready.wait()
        active = self._target
        assert active is not None
        env_dir = active.run_dir / EXTRA_FILES_DIR / layout.ENV_DIR
        env_dir.mkdir(parents=True, exist_ok=True)
        files_dir = active.run_dir / EXTRA_FILES_DIR
        _write(files_dir / layout.PLATFORM_FILE, yamlio.dump(platform_info))
        _write(files_dir / layout.VARIABLES_FILE, yamlio.dump(variables))
        _write(files_dir / layout.PACKAGES_FILE, packages.encode("utf-8"))
        for path, data in conda_files.items():  # env/conda.yaml, env/environment.yml
            _write(files_dir / path, data)
        summary = environment.environment_summary(platform_info)
        if conda:
            summary["conda"] = conda
        active.set_fields(environment=summary)


class _Recorder:
    def __init__(
        self,
        active: ActiveRun,
        options: RecordOptions,
        executable: str,
        stdout: BinaryIO,
        stderr: BinaryIO,
        patterns: list[re.Pattern[str]],
    ) -> None:
        from gitruns.capture.metric_regex import LineMetrics

        self.active = active
        self.options = options
        self.executable = executable
        self.files_dir = active.run_dir / EXTRA_FILES_DIR
        self.warnings: list[str] = []
        half = max(options.max_output_bytes // 2, 1)
        self.line_metrics = [LineMetrics(patterns, self._log_printed) for _ in range(2)]
        self.pumps = [
            OutputPump(
                sink,
                CappedLog(self.files_dir / path, half, half),
                matcher.feed if patterns else None,
            )
            for sink, path, matcher in zip(
                (stdout, stderr),
                (layout.STDOUT_FILE, layout.STDERR_FILE),
                self.line_metrics,
                strict=True,
            )
        ]
        self.signalled: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        wanted = options.capture_args or options.autolog
        self.hooked = wanted and _python_of_command(options.command)
        if options.autolog and not self.hooked:
            self.warnings.append("--autolog: the command is not a Python program; nothing wired")
        self.params = RecordedParams(active, options.params)
        self.start_sources: list[tuple[str, dict[str, Any]]] = []
        self.meter: ResourceMeter | None = None
        self.usage: Usage | None = None
        self.repo_dir: Path = Path.cwd()  # GITRUNS_REPO for the command: set by record()

    # -- before --------------------------------------------------------------------------------
    def log_known_params(self, config_params: list[tuple[str, dict[str, Any]]]) -> None:
        from gitruns.capture import params as argv_params
        from gitruns.capture.scrub import remember_recorded_secrets
        from gitruns.capture.secrets import redact_argv

        options, run = self.options, self.active
        argv = redact_argv(options.command)  # secrets never reach params or run.yaml
        # A Python child reports the arguments it parsed; its argv is read only if it
        # reports none (see collect_after).
        if options.parse_argv and not self.hooked:
            self.start_sources.append(("argv", argv_params.parse_argv(argv)))
        self.start_sources += config_params
        known = [("cli", options.params), *self.start_sources]
        remember_recorded_secrets(run.run_dir, options.command, argv, known)
        self.params.log(self.start_sources)
        run.set_tags(options.tags)
        for text in options.notes:
            run.note(text)
        for path in options.inputs:
            run.log_input(path)
        run.set_fields(
            command={
                "argv": argv,
                "line": shlex.join(argv),
                "cwd": os.getcwd(),
                "entry_point": _entry_point(options.command),
                "executable": self.executable,
            }
        )

    # -- during --------------------------------------------------------------------------------
    def run_child(self, beside: Callable[[], None] = lambda: None) -> tuple[str, int]:
        """Run the command to its end; ``beside`` is called as soon as it has started."""
        env = dict(os.environ)
        env[ENV_RUN_ID] = self.active.id
        env[ENV_RUN_DIR] = str(self.active.run_dir)
        env[ENV_REPO] = str(self.repo_dir)
        if self.options.name:
            env[ENV_NAME_FIXED] = "1"
        if self.active.experiment is not None:  # API runs of the child join it too
            env[ENV_EXPERIMENT] = self.active.experiment
        if self.hooked:
            env = hook_environment(
                self.active.run_dir,
                env,
                capture_args=self.options.capture_args,
                autolog=self.options.autolog,
            )
        previous = {sig: signal.getsignal(sig) for sig in FORWARDED_SIGNALS}
        for sig in FORWARDED_SIGNALS:
            signal.signal(sig, self._on_signal)
        try:
            self.process = subprocess.Popen(
                self.options.command,
                executable=self.executable,
                stdout=self.pumps[0].child_fd,
                stderr=self.pumps[1].child_fd,
                env=env,
            )
            for pump in self.pumps:
                pump.start()
            beside()
            self.meter = ResourceMeter(self.process.pid, self.options.system_interval)
            sampler = self._start_sampler(self.process.pid)
            returncode, self.usage = wait_with_usage(self.process)
            if sampler is not None:
                sampler.stop()
            for pump in self.pumps:
                pump.finish()
            for matcher in self.line_metrics:
                matcher.close()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self._outcome(returncode)

    def _outcome(self, returncode: int) -> tuple[str, int]:
        exit_code = returncode if returncode >= 0 else 128 - returncode
        if self.signalled is not None or returncode in (-signal.SIGINT, -signal.SIGTERM):
            return "KILLED", exit_code
        return ("FINISHED" if returncode == 0 else "FAILED"), exit_code

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        """Forward to the child and give it ``kill_grace`` seconds before SIGKILL.

        A Ctrl-C typed at the terminal already reached the child (same process group),
        so SIGINT is forwarded only when it did not come from our terminal, or on the
        second Ctrl-C.
        """
        process = self.process
        first = self.signalled is None
        self.signalled = signum
        if process is None or process.poll() is not None:
            return
        if signum != signal.SIGINT or not first or not _terminal_in_foreground():
            process.send_signal(signum)
        if first:
            timer = threading.Timer(self.options.kill_grace, _kill_if_alive, [process])
            timer.daemon = True
            timer.start()

    def _start_sampler(self, pid: int) -> Any:
        if self.options.system_interval is None:
            return None
        from gitruns.capture.system import SystemSampler

        run = self.active
        sampler = SystemSampler(
            pid, self.options.system_interval, run.log_metric, self.meter, when_due=True
        )
        sampler.start()
        return sampler

    def log_resources(self) -> None:
        """The run's resource totals (docs/resources.md), with a cost where rates are set."""
        if self.meter is None:
            return
        from gitruns.recording.costs import configured_rates, estimate

        try:
            totals = self.meter.totals(self.usage)
            cost = estimate(totals, configured_rates(self.active.settings_source()))
            if cost is not None:
                totals["cost"] = cost
        except Exception as exc:  # measuring must never break a run
            totals = {"error": f"{type(exc).__name__}: {exc}"}
        self.active.set_fields(resources=totals)

    # -- after ---------------------------------------------------------------------------------
    def collect_after(self, started: float) -> None:
        if self.hooked:
            self._collect_child_reports()
        self.warnings += self.params.warnings
        if self.options.artifacts:
            import glob  # its patterns compile on import: only for --artifact
        for pattern in self.options.artifacts:
            matches = [m for m in sorted(glob.glob(pattern, recursive=True)) if os.path.isfile(m)]
            fresh, stale = split_by_time(matches, started)
            for match in fresh:
                parent = Path(match).parent.as_posix()
                folder = None if parent in ("", ".") else parent
                self.active.log_artifact(match, folder, at_mtime=True)
            if stale:
                self.warnings.append(stale_files_warning(f"--artifact {pattern!r}", stale))
        self._record_metric_sources(started)

    def _collect_child_reports(self) -> None:
        """Params from what the child parsed (or its argv, when it reported nothing) and
        Hydra's composed config; a run for each job of a Hydra multirun."""
        from gitruns.capture import params as argv_params
        from gitruns.capture.secrets import redact_argv
        from gitruns.recorder.child_reports import read_reports

        reports = read_reports(self.active.run_dir)
        self.warnings += [
            error if error.startswith("autolog") else f"argument capture: {error}"
            for error in reports.errors
        ]
        _remember_reported_secrets(self.active.run_dir, reports)
        sources: list[tuple[str, dict[str, Any]]] = []
        if reports.argparse is not None:
            sources.append(("argparse", reports.argparse))
        if reports.click is not None:
            sources.append(("click", reports.click))
        if not reports.parsed_arguments and self.options.parse_argv:
            sources.append(("argv", argv_params.parse_argv(redact_argv(self.options.command))))
        if reports.hydra_run is not None:
            from gitruns.recording.hydra_jobs import hydra_fields, job_params

            sources.append(("hydra", job_params(reports.hydra_run)))
            self.active.set_fields(hydra=hydra_fields(reports.hydra_run))
        self.params.log(sources + self.start_sources)
        if reports.hydra_jobs:
            from gitruns.recording.hydra_jobs import write_job_runs

            try:
                jobs, warnings = write_job_runs(self.active.store, self.active, reports.hydra_jobs)
            except (GitrunsError, OSError) as exc:  # the sweep run itself is still written
                self.warnings.append(f"runs of the Hydra jobs not written: {exc}")
                return
            self.warnings += warnings
            sweep = reports.hydra_sweep or {}
            self.active.set_fields(
                hydra={
                    "mode": "MULTIRUN",
                    "overrides": sweep.get("overrides") or [],
                    "sweep_dir": sweep.get("sweep_dir"),
                    "jobs": jobs,
                }
            )

    def _log_printed(self, key: str, value: float, step: int | None) -> None:
        self.active.log_metric(key, value, step)

    def _record_metric_sources(self, started: float) -> None:
        """Import metric files the run wrote; say where every such metric came from."""
        from gitruns.recorder.metric_files import import_metrics, logged_keys

        sources: dict[str, str] = {}
        for matcher in self.line_metrics:
            sources.update({k: f"regex:{p}" for k, p in matcher.matched.items()})
        if self.options.import_metrics:
            report = import_metrics(
                Path.cwd(), started, self._log_imported, logged_keys(self.active)
            )
            sources.update(report.sources)
            self.warnings += report.warnings
        if sources:
            self.active.set_fields(metric_sources=dict(sorted(sources.items())))

    def _log_imported(self, key: str, value: float, step: int, stamp: float) -> None:
        self.active.log_metric(key, value, step, stamp)


def _python_of_command(command: list[str]) -> bool:
    """Is the command a Python program (so the child-side hook can run in it)?"""
    from gitruns.capture.environment import child_interpreter

    return child_interpreter(command) is not None


def _remember_reported_secrets(run_dir: Path, reports: Any) -> None:
    """The secrets in what the child reported (argparse, click, Hydra's config): their
    values are scrubbed from the captured output, as argv and config-file secrets are."""
    from gitruns.capture.scrub import learn, remember
    from gitruns.capture.secrets import redact_params

    found: list[str] = []
    hydra_config = (reports.hydra_run or {}).get("config")
    for values in (reports.argparse, reports.click, hydra_config):
        if isinstance(values, dict):
            found += learn(values, redact_params(values))
    remember(run_dir, found)


def _scripts(options: RecordOptions) -> list[Path]:
    from gitruns.recording.provenance import scripts_of_command

    return scripts_of_command(options.command)


def _patterns(regexes: list[str]) -> list[re.Pattern[str]]:
    if not regexes:
        return []  # capture.metric_regex (and its compiling) only when asked for
    from gitruns.capture.metric_regex import compile_patterns

    return compile_patterns(regexes)


def _check_command(command: list[str]) -> str:
    if not command:
        raise InvalidInputError("no command to record", "usage: gitruns record -- python train.py")
    found = which(command[0])
    if found is None:
        raise InvalidInputError(
            f"command not found: {command[0]}", "check the spelling, or give its full path"
        )
    return found


def _load_configs(paths: list[Path]) -> list[tuple[str, dict[str, Any]]]:
    from gitruns.capture.params import load_config_file

    return [(f"config:{path}", load_config_file(path)) for path in paths]


def _entry_point(command: list[str]) -> str:
    """The script or module a command runs: ``python train.py`` -> ``train.py``."""
    if Path(command[0]).name.startswith("python"):
        args = command[1:]
        for index, arg in enumerate(args):
            if arg == "-m" and index + 1 < len(args):
                return f"-m {args[index + 1]}"
            if arg == "-c":
                return "-c"
            if not arg.startswith("-"):
                return arg
    return command[0]


def _python_of(command: list[str]) -> str:
    """The interpreter whose packages matter: the command's own Python (also through a
    ``#!`` line), else the one gitruns runs in."""
    from gitruns.capture.environment import child_interpreter

    return child_interpreter(command) or sys.executable


def _conda_capture(python: str, packages: str) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The conda environment's files (docs/environment-capture.md), if ``python`` is in one."""
    from gitruns.capture.conda import capture_files
    from gitruns.format import yamlio

    try:
        return capture_files(python, packages)
    except Exception as exc:  # capture must never break a run
        error = {"error": f"{type(exc).__name__}: {exc}"}
        return {layout.CONDA_FILE: yamlio.dump(error)}, {}


def _terminal_in_foreground() -> bool:
    try:
        return os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False


def _kill_if_alive(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def result_summary(result: RecordResult, max_metrics: int = 4) -> str:
    """``run brisk-otter-3f2a (…3f2a9c1d) FINISHED in 12.3s, exit 0: loss=0.12``."""
    text = (
        f"run {result.name} ({result.run_id[-8:]}) {result.status} in "
        f"{result.duration:.1f}s, exit {result.exit_code}"
    )
    metrics = result.run.metrics if result.run is not None else result.metrics
    user_metrics = [k for k in sorted(metrics) if not k.startswith("system/")]
    shown = [f"{k}={metrics[k]['last']:.4g}" for k in user_metrics[:max_metrics]]
    if shown:
        text += ": " + ", ".join(shown)
    return text


__all__ = ["RecordOptions", "RecordResult", "record", "result_summary"]
