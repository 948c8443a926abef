"""What a child of ``gitruns record`` reports about itself: the arguments its program parsed
(argparse, click) and the config Hydra composed for each job it ran.

Loaded by ``sitecustomize`` the first time the program imports one of those libraries.
Reports are JSON files in the capture folder that ``record`` made for the run; ``record``
reads them when the child exits. Standard library only, and every wrapper passes the
program's call through untouched: capturing never changes what the program sees or does.
Where gitruns itself is importable in the child, each job of a Hydra ``--multirun`` gets
its own run at once (``gitruns.hydra_jobs``), so that ``start_run()`` in the job joins it.
"""

from __future__ import annotations

import enum
import json
import os
import sys
import time

TYPE_CHECKING = False  # typing costs milliseconds to import; the program may not need it
if TYPE_CHECKING:
    from typing import Any

# Parsers called from these packages are theirs, not the program's (Hydra parses its own
# command line; launchers parse theirs before starting the real program).
IGNORED_CALLERS = ("hydra", "torch.distributed", "accelerate", "deepspeed", "_pytest", "pytest")
REDACTED = "[REDACTED]"
_MAX_DEPTH = 32
_MAX_TEXT = 10_000


# -- writing reports -------------------------------------------------------------------------
def write_report(capture_dir: str, name: str, data: dict[str, Any]) -> None:
    """Replace ``name`` in the capture folder in one step (write, then rename)."""
    os.makedirs(capture_dir, exist_ok=True)
    final = os.path.join(capture_dir, name)
    temporary = os.path.join(capture_dir, f".{name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle, allow_nan=True, sort_keys=True)
    os.replace(temporary, final)


def note_error(capture_dir: str, what: str, exc: BaseException) -> None:
    """Append a failure of the hook itself; ``record`` shows it as a warning."""
    os.makedirs(capture_dir, exist_ok=True)
    line = json.dumps({"what": what, "error": f"{type(exc).__name__}: {exc}"[:2000]}) + "\n"
    fd = os.open(os.path.join(capture_dir, "errors.jsonl"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, line.encode("utf-8", "replace"))
    finally:
        os.close(fd)


def plain(value: Any, depth: int = 0) -> Any:
    """A JSON-able copy of a parsed value: paths and files by name, enums by value,
    functions by qualified name, numpy scalars as numbers, anything else as text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if depth > _MAX_DEPTH:
        return _text(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, enum.Enum):
        inner = value.value
        return inner if isinstance(inner, (bool, int, float, str)) else value.name
    if isinstance(value, dict):
        return {str(key): plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item, depth + 1) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted((plain(item, depth + 1) for item in value), key=repr)
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        return path.decode("utf-8", "replace") if isinstance(path, bytes) else path
    return _plain_object(value, depth)


def _plain_object(value: Any, depth: int) -> Any:
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) == 0:  # numpy / torch scalars
        try:
            return plain(item(), depth + 1)
        except Exception:
            pass
    name = getattr(value, "name", None)
    if isinstance(name, str) and (hasattr(value, "read") or hasattr(value, "write")):
        return name  # an open file (argparse.FileType, click.File)
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', None) or ''}.{value.__qualname__}".lstrip(".")
    return _text(value)


def _text(value: Any) -> str:
    try:
        return str(value)[:_MAX_TEXT]
    except Exception:
        return f"<{type(value).__name__}>"


def from_command_line(args: Any) -> bool:
    """True when a parser is given the program's own command line: ``None`` (argparse and
    click then read sys.argv), or words that appear in ``sys.argv[1:]`` in that order (a
    slice, or what a first parser left over)."""
    if args is None:
        return True
    try:
        words = list(args)
    except TypeError:
        return False
    command_line = sys.argv[1:]
    if not words:
        return not command_line
    position = 0
    for word in words:
        try:
            position = command_line.index(word, position) + 1
        except ValueError:
            return False
    return True


def caller_module(frame: Any, skip: str) -> str:
    """The module name of the first frame outside module ``skip`` (and outside this hook)."""
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name != skip and name != __name__:
            return str(name)
        frame = frame.f_back
    return ""


def _ignored(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in IGNORED_CALLERS)


# -- argparse -------------------------------------------------------------------------------
def patch_argparse(module: Any, capture_dir: str) -> None:
    """Wrap ``ArgumentParser.parse_known_args`` (``parse_args`` calls it): the outermost
    call that parses the command line reports ``vars(namespace)``. Subparsers re-enter it
    and fill the same namespace, so they are included; a second parse of the command line
    adds to the first, later values winning (one report, never two)."""
    parser_class = module.ArgumentParser
    original = parser_class.parse_known_args
    if getattr(original, "_gitruns_wrapped", False):
        return
    state: dict[str, Any] = {"depth": 0, "params": {}, "parses": 0}

    def parse_known_args(self: Any, args: Any = None, namespace: Any = None) -> Any:
        state["depth"] += 1
        try:
            result = original(self, args, namespace)
        finally:
            state["depth"] -= 1
        if state["depth"] == 0:
            try:
                caller = caller_module(sys._getframe(1), "argparse")
                _report_argparse(capture_dir, state, args, result, caller)
            except Exception as exc:
                note_error(capture_dir, "recording argparse arguments", exc)
        return result

    parse_known_args._gitruns_wrapped = True  # type: ignore[attr-defined]
    parse_known_args.__doc__ = original.__doc__
    parser_class.parse_known_args = parse_known_args


def _report_argparse(
    capture_dir: str, state: dict[str, Any], args: Any, result: Any, caller: str
) -> None:
    if _ignored(caller) or not from_command_line(args):
        return
    namespace = result[0] if isinstance(result, tuple) else result
    try:
        values = vars(namespace)
    except TypeError:
        return  # a namespace object without __dict__
    state["params"].update({str(key): plain(value) for key, value in values.items()})
    state["parses"] += 1
    report = {"params": state["params"], "parses": state["parses"], "caller": caller}
    write_report(capture_dir, "argparse.json", report)


# -- click ----------------------------------------------------------------------------------
def patch_click(module: Any, capture_dir: str) -> None:
    """Wrap ``make_context``: the root command's parsed params, and those of each invoked
    subcommand nested under its name (``{verbose: true, train: {lr: 0.1}}``). Options with
    ``hide_input`` (password prompts) are reported as ``[REDACTED]``."""
    owner = next(c for c in module.Command.__mro__ if "make_context" in c.__dict__)
    original = owner.make_context
    if getattr(original, "_gitruns_wrapped", False):
        return
    state: dict[str, Any] = {"root": None, "params": {}}

    def make_context(self: Any, info_name: Any, args: Any, parent: Any = None, **extra: Any) -> Any:
        words = list(args) if isinstance(args, (list, tuple)) else args
        context = original(self, info_name, args, parent=parent, **extra)
        try:
            _report_click(capture_dir, state, context, words)
        except Exception as exc:
            note_error(capture_dir, "recording click parameters", exc)
        return context

    make_context._gitruns_wrapped = True  # type: ignore[attr-defined]
    make_context.__doc__ = original.__doc__
    owner.make_context = make_context


def _click_params(context: Any) -> dict[str, Any]:
    hidden = {
        p.name for p in getattr(context.command, "params", []) if getattr(p, "hide_input", False)
    }
    return {
        str(name): REDACTED if name in hidden and value is not None else plain(value)
        for name, value in context.params.items()
    }


def _report_click(capture_dir: str, state: dict[str, Any], context: Any, words: Any) -> None:
    if getattr(context, "resilient_parsing", False):
        return  # shell completion, not a run
    if context.parent is None:
        if state["root"] is not None or not from_command_line(words):
            return
        state["root"] = context
        state["params"] = _click_params(context)
    else:
        chain = []
        node = context
        while node.parent is not None:
            chain.append(str(node.info_name))
            node = node.parent
        if node is not state["root"]:
            return
        target = state["params"]
        for name in reversed(chain[1:]):
            child = target.get(name)
            target = target.setdefault(name, {}) if not isinstance(child, dict) else child
        target[chain[0]] = _click_params(context)
    write_report(capture_dir, "click.json", {"params": state["params"]})


# -- Hydra ----------------------------------------------------------------------------------
def patch_hydra(module: Any, capture_dir: str) -> None:
    """Wrap Hydra's ``Callbacks``: after the app's own ``on_job_start`` callbacks, report the
    job's composed config; after its ``on_job_end`` callbacks, the job's outcome."""
    callbacks = module.Callbacks
    if getattr(callbacks.on_job_start, "_gitruns_wrapped", False):
        return
    state: dict[str, Any] = {"multirun": False, "jobs": {}}
    original_start = callbacks.on_job_start
    original_end = callbacks.on_job_end
    original_multirun = getattr(callbacks, "on_multirun_start", None)

    def on_job_start(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original_start(self, *args, **kwargs)
        config = kwargs.get("config", args[0] if args else None)
        _guarded(
            capture_dir,
            "recording the Hydra job's config",
            _job_started,
            capture_dir,
            state,
            config,
        )
        return result

    def on_job_end(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original_end(self, *args, **kwargs)
        finally:
            config = kwargs.get("config", args[0] if args else None)
            job_return = kwargs.get("job_return", args[1] if len(args) > 1 else None)
            _guarded(
                capture_dir,
                "recording the Hydra job's end",
                _job_ended,
                capture_dir,
                state,
                config,
                job_return,
            )

    def on_multirun_start(self: Any, *args: Any, **kwargs: Any) -> Any:
        state["multirun"] = True
        config = kwargs.get("config", args[0] if args else None)
        _guarded(capture_dir, "recording the Hydra sweep", _sweep_started, capture_dir, config)
        assert original_multirun is not None
        return original_multirun(self, *args, **kwargs)

    for wrapper in (on_job_start, on_job_end, on_multirun_start):
        wrapper._gitruns_wrapped = True  # type: ignore[attr-defined]
    callbacks.on_job_start = on_job_start
    callbacks.on_job_end = on_job_end
    if original_multirun is not None:
        callbacks.on_multirun_start = on_multirun_start


def _guarded(capture_dir: str, what: str, function: Any, *args: Any) -> None:
    try:
        function(*args)
    except Exception as exc:
        note_error(capture_dir, what, exc)


def _select(config: Any, key: str) -> Any:
    from omegaconf import OmegaConf

    try:
        return OmegaConf.select(config, key, default=None, throw_on_missing=False)
    except Exception:
        return None


def _container(config: Any, key: str) -> Any:
    """One top-level key of the job's config, interpolations resolved where they can be."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    try:
        node = config[key]
    except Exception:
        return "???"  # a mandatory value left missing
    if not isinstance(node, (DictConfig, ListConfig)):
        return plain(node)
    try:
        return plain(OmegaConf.to_container(node, resolve=True, throw_on_missing=False))
    except Exception:
        return plain(OmegaConf.to_container(node, resolve=False))


def _job_record(config: Any, multirun: bool) -> dict[str, Any]:
    from omegaconf import OmegaConf

    mode = _select(config, "hydra.mode")
    mode_name = getattr(mode, "name", None) or ("MULTIRUN" if multirun else "RUN")
    choices = _select(config, "hydra.runtime.choices")
    overrides = _select(config, "hydra.overrides.task")
    own_overrides = _select(config, "hydra.overrides.hydra")
    return {
        "mode": str(mode_name),
        "config": {str(key): _container(config, key) for key in config if key != "hydra"},
        "choices": plain(OmegaConf.to_container(choices)) if choices is not None else {},
        "overrides": plain(OmegaConf.to_container(overrides)) if overrides is not None else [],
        "hydra_overrides": (
            plain(OmegaConf.to_container(own_overrides)) if own_overrides is not None else []
        ),
        "output_dir": plain(_select(config, "hydra.runtime.output_dir")),
        "job": {
            "name": plain(_select(config, "hydra.job.name")),
            "num": plain(_select(config, "hydra.job.num")),
            "id": plain(_select(config, "hydra.job.id")),
            "override_dirname": plain(_select(config, "hydra.job.override_dirname")),
        },
        "pid": os.getpid(),
        "started": time.time(),
    }


def _report_name(record: dict[str, Any]) -> str:
    if record["mode"] != "MULTIRUN":
        return "hydra-run.json"
    return f"hydra-job-{record['pid']}-{record['job']['num']}.json"


def _child_gitruns_jobs() -> Any:
    """``gitruns.hydra_jobs`` of the child's own Python, or None when it has no gitruns."""
    try:
        import gitruns.recording.hydra_jobs as hydra_jobs
    except ImportError:
        return None
    return hydra_jobs


def _job_started(capture_dir: str, state: dict[str, Any], config: Any) -> None:
    if config is None:
        return
    record = _job_record(config, state["multirun"])
    if record["mode"] == "MULTIRUN":
        record["run_id"] = None
        hydra_jobs = _child_gitruns_jobs()
        if hydra_jobs is not None:
            try:
                handle = hydra_jobs.start_job(record)
                record["run_id"] = handle.run_id
                state["jobs"][_report_name(record)] = handle
            except Exception as exc:
                note_error(capture_dir, "starting a run for the Hydra job", exc)
    state["current"] = record
    write_report(capture_dir, _report_name(record), record)


def _job_ended(capture_dir: str, state: dict[str, Any], config: Any, job_return: Any) -> None:
    record = state.pop("current", None)
    if record is None:
        return
    status = getattr(getattr(job_return, "status", None), "name", None) or "UNKNOWN"
    error = getattr(job_return, "_return_value", None) if status == "FAILED" else None
    record["status"] = str(status)
    record["ended"] = time.time()
    if isinstance(error, BaseException):
        import traceback

        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        record["error"] = {
            "type": type(error).__name__,
            "message": str(error)[:2000],
            "traceback": text[-8000:],
        }
    handle = state["jobs"].pop(_report_name(record), None)
    if handle is not None:
        _child_gitruns_jobs().end_job(
            handle, record["status"], error if isinstance(error, BaseException) else None
        )
    write_report(capture_dir, _report_name(record), record)


def _sweep_started(capture_dir: str, config: Any) -> None:
    if config is None:
        return
    from omegaconf import OmegaConf

    overrides = _select(config, "hydra.overrides.task")
    record = {
        "sweep_dir": plain(_select(config, "hydra.sweep.dir")),
        "overrides": plain(OmegaConf.to_container(overrides)) if overrides is not None else [],
        "started": time.time(),
    }
    write_report(capture_dir, "hydra-sweep.json", record)


# -- autolog ---------------------------------------------------------------------------------
def start_autolog(capture_dir: str) -> None:
    """``record --autolog``: call the child's ``gitruns.autolog()``; at exit, report the
    frameworks it could not wire."""
    try:
        from gitruns.integrations import autolog
    except ImportError as exc:
        note_error(capture_dir, "autolog (is gitruns installed for this Python?)", exc)
        return
    autolog.autolog()

    def report_errors() -> None:
        for framework, error in sorted(autolog.errors().items()):
            note_error(capture_dir, f"autolog of {framework}", RuntimeError(error))

    import atexit

    atexit.register(report_errors)
