"""``log_dict``, ``log_text``, ``log_figure``, ``log_image``, ``log_table``: an object
written to a file named ``artifact_file`` (a path inside the run's artifacts, as in MLflow)
and logged as an artifact."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from gitruns.mlflow.exceptions import MlflowException

if TYPE_CHECKING:
    from collections.abc import Callable

    from gitruns.recording.active import ActiveRun


def _split(artifact_file: str) -> tuple[str, str | None]:
    path = PurePosixPath(artifact_file.strip("/"))
    if not path.name or ".." in path.parts:
        raise MlflowException(
            f"artifact_file {artifact_file!r} is not a file path inside the run",
            "pass a relative path such as 'plots/loss.png'",
        )
    folder = str(path.parent)
    return path.name, None if folder == "." else folder


def log_with(run: ActiveRun, artifact_file: str, write: Callable[[Path], object]) -> None:
    """Write the file with ``write(path)`` in a private folder and log it."""
    name, folder = _split(artifact_file)
    with tempfile.TemporaryDirectory(prefix="gitruns-mlflow-") as tmp:
        path = Path(tmp) / name
        write(path)
        run.log_artifact(path, folder)


def log_bytes(run: ActiveRun, data: bytes, artifact_file: str) -> None:
    log_with(run, artifact_file, lambda path: path.write_bytes(data))


def log_dict(run: ActiveRun, dictionary: Any, artifact_file: str) -> None:
    """JSON, or YAML for a ``.yaml``/``.yml`` file (as MLflow)."""
    if artifact_file.endswith((".yaml", ".yml")):
        import yaml

        text = yaml.safe_dump(dictionary, default_flow_style=False)
    else:
        text = json.dumps(dictionary, indent=2)
    log_bytes(run, text.encode(), artifact_file)


def log_figure(run: ActiveRun, figure: Any, artifact_file: str, save: dict[str, Any]) -> None:
    module = type(figure).__module__
    if module.startswith("matplotlib"):
        log_with(run, artifact_file, lambda path: figure.savefig(path, **save))
    elif module.startswith("plotly"):
        if artifact_file.endswith(".html"):
            log_with(run, artifact_file, lambda path: figure.write_html(str(path), **save))
        else:
            log_with(run, artifact_file, lambda path: figure.write_image(str(path), **save))
    else:
        raise MlflowException(
            f"log_figure takes a matplotlib or plotly figure, not {type(figure).__name__}",
            "pass the Figure object (plt.gcf())",
        )


def log_image(
    run: ActiveRun, image: Any, artifact_file: str | None, key: str | None, step: int | None
) -> None:
    """A numpy array (H x W, H x W x 1/3/4; floats in [0, 1] or integers 0-255) or a PIL
    image, as PNG. With ``key`` (MLflow's images over steps) it is
    ``images/<key>/step_<step>.png``, recorded at that step."""
    if (artifact_file is None) == (key is None):
        raise MlflowException(
            "log_image needs exactly one of artifact_file and key",
            "pass artifact_file='image.png', or key='samples' with step=N",
        )
    picture = _to_pil(image)
    if key is not None:
        artifact_file = f"images/{key}/step_{step or 0}.png"
    assert artifact_file is not None
    name, folder = _split(artifact_file)
    with tempfile.TemporaryDirectory(prefix="gitruns-mlflow-") as tmp:
        path = Path(tmp) / name
        picture.save(path)
        run.log_artifact(path, folder, step=step if key is not None else None)


def _to_pil(image: Any) -> Any:
    try:
        from PIL import Image
    except ImportError as exc:
        raise MlflowException("log_image needs Pillow", "pip install pillow") from exc
    if isinstance(image, Image.Image):
        return image
    import numpy as np

    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise MlflowException(
            f"an image array of shape {array.shape} cannot be saved",
            "pass H x W, or H x W x 1, 3 or 4",
        )
    if array.dtype.kind == "f":
        if array.size and (array.min() < 0 or array.max() > 1):
            raise MlflowException(
                "a float image must hold values in [0, 1]", "scale it, or pass uint8 0-255"
            )
        array = (array * 255).round().astype("uint8")
    elif array.dtype.kind in "iub":
        if array.size and (array.min() < 0 or array.max() > 255):
            raise MlflowException(
                "an integer image must hold values in 0-255", "clip it or pass floats in [0, 1]"
            )
        array = array.astype("uint8")
    return Image.fromarray(array)


def log_table(run: ActiveRun, data: Any, artifact_file: str) -> None:
    """A dict of columns or a pandas DataFrame, as MLflow's table JSON
    (``{"columns": [...], "data": [[...], ...]}``)."""
    if not artifact_file.endswith(".json"):
        raise MlflowException(
            f"log_table writes JSON: {artifact_file!r} does not end in .json",
            "name the table 'something.json'",
        )
    if isinstance(data, dict):
        columns = [str(k) for k in data]
        values = [v if isinstance(v, list | tuple) else [v] for v in data.values()]
        rows = [list(row) for row in zip(*values, strict=True)]
    elif hasattr(data, "to_dict") and hasattr(data, "columns"):
        split = data.to_dict(orient="split")
        columns, rows = [str(c) for c in split["columns"]], split["data"]
    else:
        raise MlflowException(
            f"log_table takes a dict or a pandas DataFrame, not {type(data).__name__}",
            "pass {'column': [values...]}",
        )
    text = json.dumps({"columns": columns, "data": rows}, default=str)
    log_bytes(run, text.encode(), artifact_file)
