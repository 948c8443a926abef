"""``layout.iso_time`` writes what datetime's isoformat writes (it no longer imports
datetime: ``gitruns record`` starts without it)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import example, given
from hypothesis import strategies as st

from gitruns.format import layout


def _parse_in_python(text: str) -> float:
    """``parse_time`` as a fresh process reads its first times: without datetime."""
    layout._FROM_ISO = None
    layout._PARSED_WITHOUT_DATETIME = 0
    return layout.parse_time(text)


def _by_datetime(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


@given(st.floats(min_value=-2e9, max_value=2.5e11, allow_nan=False))
@example(0.0)
@example(1764567296.9999995)  # rounds up into the next second
@example(1764567296.0004995)
@example(-0.0000004)
@example(-1.5)
@example(253402300799.999)  # the last millisecond of year 9999
def test_iso_time_writes_what_datetime_writes(seconds: float) -> None:
    assert layout.iso_time(seconds) == _by_datetime(seconds)


@given(st.integers(min_value=0, max_value=4_102_444_800_000))
def test_milliseconds_since_the_epoch(ms: int) -> None:
    assert layout.iso_time(ms / 1000) == _by_datetime(ms / 1000)


def _parsed_by_datetime(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@given(st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_999))
@example(0)
@example(951_782_400_000)  # 2000-02-29
def test_parse_time_reads_iso_time_as_datetime_does(ms: int) -> None:
    text = layout.iso_time(ms / 1000)
    assert _parse_in_python(text) == _parsed_by_datetime(text)


ISO_FORM = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z"


@given(st.from_regex(ISO_FORM, fullmatch=True))
@example("2023-02-29T00:00:00.000Z")  # no such day: both refuse
@example("0000-01-01T00:00:00.000Z")  # no year 0 in datetime
@example("2024-02-29T23:59:59.999Z")
@example("2024-13-01T00:00:00.000Z")
def test_parse_time_accepts_and_refuses_what_datetime_does(text: str) -> None:
    try:
        expected: float | None = _parsed_by_datetime(text)
    except ValueError:
        expected = None
    try:
        got: float | None = _parse_in_python(text)
    except ValueError:
        got = None
    assert got == expected


def test_parse_time_reads_other_iso_forms_through_datetime() -> None:
    for text in ("2026-11-26T05:28:56Z", "2026-11-26T05:28:56.123456+02:00", "2026-11-26"):
        assert layout.parse_time(text) == _parsed_by_datetime(text)


def test_a_process_that_parses_many_times_goes_over_to_datetime() -> None:
    text = layout.iso_time(1764567296.25)
    first = _parse_in_python(text)
    assert layout._FROM_ISO is None
    for _ in range(20):
        assert layout.parse_time(text) == first
    assert layout._FROM_ISO is not None  # the cold cache build's parses: datetime's C reader
