"""Bringing runs recorded by other trackers into the repository (``gitruns import``).

``mlflow_store`` reads an MLflow tracking store (an ``mlruns`` folder or a sqlite database)
without MLflow; ``mlflow_import`` turns its runs into gitruns runs.
"""
