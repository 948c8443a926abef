"""Loggers and callbacks that record training runs of the common frameworks into gitruns.

One module per framework, each using the framework's public extension point and gitruns'
public API; a module imports its framework only when it is itself imported, so
``import gitruns`` never pays for a framework. ``gitruns.autolog()`` (``autolog``) wires
every installed one in. See docs/integrations.md.
"""
