"""Runs in code review and CI: runs chosen by branch against a baseline (``review``), a
metric gate (``check``), ``git bisect`` over recorded runs (``bisect``) and CI workflow
files (``workflows``). See docs/ci.md.
"""
