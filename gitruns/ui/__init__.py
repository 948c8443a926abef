"""The web dashboard (``gitruns ui``) and the static report (``gitruns report``).

The JSON that both show is built by plain functions over the library (``views``,
``series``, ``report``) that import no web framework; only ``app`` and ``server`` need
Starlette and uvicorn (the ``ui`` extra), and they are imported by ``gitruns ui`` alone.
"""
