"""The version of gitruns (one place; ``gitruns.__version__`` re-exports it)."""

__version__ = "0.1.0"
