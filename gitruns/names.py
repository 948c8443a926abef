"""Readable default run names, like W&B's: ``brisk-otter-3f2a``."""

from __future__ import annotations

import secrets

_ADJECTIVES = (
    "able bold brave brisk calm clever cosmic crisp daring deft eager early fair fast fond "
    "gentle glad grand happy hardy keen kind lively lucid merry mighty neat noble plucky "
    "proud quick quiet rapid ready sharp shiny smart snappy solid spry steady sunny swift "
    "tidy vivid warm wise witty young zesty"
).split()
_NOUNS = (
    "otter falcon maple comet river badger cedar delta ember fjord gecko heron iris jay koala "
    "lark lynx meadow nebula orca panda quartz raven sparrow tiger tulip umber valley walrus "
    "wren yak zebra aurora bison canyon dune finch glacier harbor island lotus moose pine "
    "reef sage tundra willow"
).split()


def random_name(run_id: str) -> str:
    """An adjective, a noun and the last 4 hex digits of the run id."""
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{run_id[-4:]}"
