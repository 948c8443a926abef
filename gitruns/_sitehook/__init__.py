"""The child-side hook of ``gitruns record``: a ``sitecustomize`` that ``record`` puts first
on a Python child's ``PYTHONPATH``.

This folder holds only what that path exposes to the child for the instant before the hook
removes it again: ``sitecustomize.py`` (runs at start-up, imports nothing) and
``_gitruns_capture.py`` (loaded only when the program imports argparse, click or Hydra).
Both use the standard library alone and run on whatever Python the child runs, which may
not have gitruns installed.
"""
