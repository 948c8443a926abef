"""What ``git fsck --strict`` asks of a tree's entry names as a whole: sorted, each once.

Git writes a tree's entries sorted by name, a folder's name compared as if it ended in
``/`` (``base_name_compare``), each name once; ``fsck`` reports a tree that breaks this
(``treeNotSorted``, ``duplicateEntries``). A crafted tree of a fetched run may break it,
and a run kept with one leaves the repository failing ``git fsck --strict``: both tree
checks (``runs/treecheck.py`` for a fetch, ``Store.tree_entries`` per object) take such a
tree for a folder that cannot be read. (A name holding ``/`` is left to the path rules,
which word what is wrong with ``../evil``; ``a/b`` as one name passes them.)
"""

from __future__ import annotations

_FOLDER = b"40000"  # as git writes it (a zero-padded mode is refused before this)


def names_as_git_writes(modes: list[bytes], names: list[bytes]) -> bool:
    """True when the entries (mode digits and raw names, in the tree's order) are sorted
    as git sorts them, each name once."""
    if len(names) < 2:
        return True
    pairs = zip(modes, names, strict=True)
    keys = [name + b"/" if mode == _FOLDER else name for mode, name in pairs]
    # (a file and a folder of one name sort apart: "a" < "a-b" < "a/")
    return all(map(bytes.__lt__, keys, keys[1:])) and len(set(names)) == len(names)
