"""MLflow's names in the filter language: its system tags (``tags.mlflow.runName``) and the
attributes it has that gitruns does not, so that an MLflow filter either means what it
means in MLflow or is refused, never silently matching nothing.
"""

from __future__ import annotations

import difflib

MLFLOW_TAG_PREFIX = "mlflow."

# MLflow system tags that gitruns records under its own field (gitruns attribute names).
MAPPED_TAGS = {
    "mlflow.runName": "name",
    "mlflow.parentRunId": "parent",
    "mlflow.user": "user",
    "mlflow.source.name": "entry_point",
    "mlflow.source.git.commit": "commit",
    "mlflow.source.git.branch": "branch",
    "mlflow.gitBranchName": "branch",  # MLflow's older spelling
    "mlflow.source.git.repoURL": "remote_url",
    "mlflow.gitRepoURL": "remote_url",  # MLflow's older spelling
    "mlflow.source.git.dirty": "dirty",
    "mlflow.note.content": "note",
}

# MLflow system tags gitruns has no field for. They stay ordinary tags: a run imported from
# MLflow, or logged through gitruns.mlflow, may carry them.
PLAIN_TAGS = frozenset(
    {
        "mlflow.run_id",  # the MLflow run an imported run came from (gitruns import mlflow)
        "mlflow.source.type",
        "mlflow.source.git.diff",
        "mlflow.runSourceType",
        "mlflow.artifactLocation",
        "mlflow.log-model.history",
        "mlflow.loggedArtifacts",
        "mlflow.loggedImages",
        "mlflow.autologging",
        "mlflow.run.isEval",
        "mlflow.rootRunId",
        "mlflow.data.context",
        "mlflow.datasetContext",
        "mlflow.modelVersions",
        "mlflow.model.isExternal",
        "mlflow.latest_checkpoint_artifact",
        "mlflow.experiment.sourceId",
        "mlflow.experiment.sourceType",
        "mlflow.project.env",
        "mlflow.project.entryPoint",
        "mlflow.project.backend",
        "mlflow.docker.image.uri",
        "mlflow.docker.image.id",
    }
)
# Families of MLflow tags (Databricks, MLflow Projects ...): also ordinary tags.
PLAIN_TAG_PREFIXES = ("mlflow.databricks.", "mlflow.project.", "mlflow.docker.")

# MLflow run attributes with no meaning in gitruns, and what to use instead.
UNSUPPORTED_ATTRIBUTES = {
    "artifact_uri": (
        "gitruns stores artifacts by content, per file, with no artifact folder per run",
        "list a run's artifacts with 'gitruns artifacts ls RUN'",
    ),
    "lifecycle_stage": (
        "gitruns lists only active runs; deleted ones are in the trash",
        "list deleted runs with 'gitruns restore --list'",
    ),
}


def mlflow_tag_field(key: str) -> str | None:
    """The gitruns attribute an MLflow system tag stands for; None when ``key`` is an
    ordinary tag. Raise KeyError with a hint for an ``mlflow.`` key MLflow does not have."""
    if not key.startswith(MLFLOW_TAG_PREFIX):
        return None
    if key in MAPPED_TAGS:
        return MAPPED_TAGS[key]
    if key in PLAIN_TAGS or key.startswith(PLAIN_TAG_PREFIXES):
        return None
    raise KeyError(_unknown_tag_hint(key))


def _unknown_tag_hint(key: str) -> str:
    known = sorted([*MAPPED_TAGS, *PLAIN_TAGS])
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.8) or [
        k for k in known if k.lower() == key.lower()
    ]
    if close:
        return f"did you mean tags.{close[0]}?"
    return "the MLflow system tags gitruns knows are listed in docs/querying.md"
