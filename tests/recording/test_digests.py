"""``format.digests``: the same SHA-1 and SHA-256 as hashlib's, with CPython's own code for
small inputs (no OpenSSL loaded) and hashlib's past the budget."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitruns.format import digests

# In a fresh interpreter (this one has hashlib loaded, so digests uses it here): each
# input's two digests, and whether hashlib was loaded after it.
FRESH = textwrap.dedent(
    """
    import json, sys
    from gitruns.format import digests
    sizes = json.loads(sys.argv[1])
    out = []
    for size in sizes:
        data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
        one, two = digests.sha1(data), digests.sha256(bytearray(data))
        one.update(b"more")
        out.append([one.hexdigest(), two.hexdigest(), "hashlib" in sys.modules])
    print(json.dumps(out))
    """
)


def _data(size: int) -> bytes:
    return bytes(range(256)) * (size // 256) + b"x" * (size % 256)


def test_small_inputs_load_no_openssl_and_large_ones_do() -> None:
    budget = digests.BUILTIN_BUDGET
    sizes = [0, 100, 5000, budget // 4, budget, 10, 200]  # the budget runs out at `budget`
    done = subprocess.run(
        [sys.executable, "-c", FRESH, json.dumps(sizes)], capture_output=True, text=True, check=True
    )
    got = json.loads(done.stdout)
    for size, (one, two, _loaded) in zip(sizes, got, strict=True):
        assert one == hashlib.sha1(_data(size) + b"more").hexdigest(), size
        assert two == hashlib.sha256(_data(size)).hexdigest(), size
    assert [loaded for _, _, loaded in got] == [False, False, False, False, True, True, True]


@given(st.binary(max_size=2000), st.binary(max_size=200))
def test_the_digests_are_hashlibs(data: bytes, more: bytes) -> None:
    one, two = digests.sha1(data), digests.sha256(data)
    one.update(more)
    assert one.digest() == hashlib.sha1(data + more).digest()
    assert two.hexdigest() == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("kind", ["sha1", "sha256"])
def test_without_cpythons_own_code_hashlib_answers(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(digests, f"_builtin_{kind}", None)
    monkeypatch.delitem(sys.modules, "hashlib")  # as if not loaded yet: the builtin is wanted
    made = getattr(digests, kind)(b"abc")
    assert made.hexdigest() == hashlib.new(kind, b"abc").hexdigest()
