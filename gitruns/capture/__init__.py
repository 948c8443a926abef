"""Capture of what surrounds a run: secrets redaction, argv/config parameters, platform and
packages, system and GPU metrics.

Nothing here is imported by ``gitruns/__init__.py``; psutil and pynvml load inside functions
so that ``import gitruns`` stays light.
"""
