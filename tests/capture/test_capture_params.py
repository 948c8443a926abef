"""Parameters from the command line and config files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from gitruns.capture.params import (
    load_config_file,
    parse_argv,
    parse_value,
    program_args,
)
from gitruns.capture.secrets import is_secret_name
from gitruns.errors import InvalidInputError
from gitruns.format.validation import check_name_key, to_param_value


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["python", "train.py", "--lr", "1"], ["--lr", "1"]),
        (["python3.11", "-u", "-W", "ignore", "train.py", "--lr", "1"], ["--lr", "1"]),
        (["/venv/bin/python", "-m", "pkg.train", "--lr", "1"], ["--lr", "1"]),
        (["python", "-mpkg", "--lr", "1"], ["--lr", "1"]),
        (["python", "-c", "print(1)", "--lr", "1"], ["--lr", "1"]),
        (["torchrun", "--nproc_per_node", "8", "train.py", "--lr", "1"], ["--lr", "1"]),
        (["uv", "run", "python", "-O", "train.py", "--lr", "1"], ["--lr", "1"]),
        (["bash", "-e", "run.sh", "--lr", "1"], ["--lr", "1"]),
        (["bash", "-c", "echo --lr 1"], []),
        (["./train", "--lr", "1"], ["--lr", "1"]),
        ([], []),
    ],
)
def test_program_args_skip_the_interpreter_and_script(argv: list[str], expected: list[str]) -> None:
    assert program_args(argv) == expected


def test_flags_in_every_form() -> None:
    argv = [
        "python", "train.py", "--lr", "0.01", "--epochs=3", "-x", "3", "--fp16",
        "--no-cuda", "--name", "resnet", "--offset", "-1", "--verbose",
    ]  # fmt: skip
    assert parse_argv(argv) == {
        "lr": 0.01, "epochs": 3, "x": 3, "fp16": True, "no-cuda": True, "name": "resnet",
        "offset": -1, "verbose": True,
    }  # fmt: skip


def test_flag_names_are_kept_as_written() -> None:
    assert parse_argv(["p", "--learning-rate", "1", "--batch_size", "2"]) == {
        "learning-rate": 1,
        "batch_size": 2,
    }


def test_repeated_flags_collect_a_list_and_only_the_next_word_is_a_value() -> None:
    argv = ["p", "--tag", "a", "--tag", "b", "--layers", "1", "2", "3", "--tag", "c"]
    assert parse_argv(argv) == {"tag": ["a", "b", "c"], "layers": 1}


def test_hydra_overrides_nest_and_everything_after_double_dash_is_ignored() -> None:
    argv = ["python", "app.py", "model.lr=1e-3", "+model.name=bert", "++seed=7", "db=mysql"]
    argv += ["--", "--ignored", "1", "also=ignored"]
    assert parse_argv(argv) == {"model": {"lr": 0.001, "name": "bert"}, "seed": 7, "db": "mysql"}


def test_dotted_flags_nest_and_clashes_stay_flat() -> None:
    argv = ["p", "--optim.lr", "0.1", "--optim.momentum=0.9", "--a", "1", "--a.b", "2"]
    assert parse_argv(argv) == {"optim": {"lr": 0.1, "momentum": 0.9}, "a": 1, "a.b": 2}


def test_secret_values_never_become_params() -> None:
    argv = ["python", "t.py", "--api-key", "abc", "db.password=x", "--url", "https://u:pw@h/"]
    assert parse_argv(argv) == {
        "api-key": "[REDACTED]",
        "db": {"password": "[REDACTED]"},
        "url": "https://u:***@h/",
    }


def test_positional_words_are_ignored() -> None:
    assert parse_argv(["python", "train.py", "data.csv", "--lr", "1", "out/"]) == {"lr": 1}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3), ("-3", -3), ("0", 0), ("007", "007"), ("1.5", 1.5), ("1e-3", 0.001),
        (".5", 0.5), ("1.", 1.0), ("true", True), ("False", False), ("null", None),
        ("None", None), ("[1, 2]", [1, 2]), ("[]", []), ("[a,[1,2.5]]", ["a", [1, 2.5]]),
        ("'3'", "3"), ('"true"', "true"), ("nan", "nan"), ("inf", "inf"), ("1_000", "1_000"),
        ("0.1,0.01", "0.1,0.01"), ("hello world", "hello world"), ("", ""),
        ("[REDACTED]", "[REDACTED]"),
    ],
)  # fmt: skip
def test_values_are_typed(text: str, value: Any) -> None:
    assert parse_value(text) == value
    assert type(parse_value(text)) is type(value)


_plain = st.text(st.sampled_from("abcxyz_/:"), min_size=1, max_size=10).filter(
    lambda s: s.lower() not in ("true", "false", "null", "none")
)
_scalars = st.one_of(
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    _plain,
)


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ",".join(_format(item) for item in value) + "]"
    return repr(value) if isinstance(value, float) else str(value)


@given(st.one_of(_scalars, st.lists(_scalars, max_size=4)))
def test_typed_values_round_trip_through_the_command_line(value: Any) -> None:
    text = _format(value)
    for args in (["--v", text], [f"--v={text}"], [f"v={text}"], ["-v", text]):
        parsed = parse_argv(["python", "train.py", *args])
        assert parsed == {"v": value}
        assert type(parsed["v"]) is type(value)


# Flag names that look secret (pw, token ...) are redacted by design: not round trips.
_FLAG_NAMES = st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True).filter(
    lambda name: not is_secret_name(name)
)


@given(st.dictionaries(_FLAG_NAMES, st.integers(), max_size=5))
def test_many_flags_round_trip(params: dict[str, int]) -> None:
    argv = ["python", "train.py"]
    for key, value in params.items():
        argv += [f"--{key}", str(value)]
    assert parse_argv(argv) == params


@given(st.lists(st.text(max_size=20), max_size=10))
def test_any_argv_parses_to_params_the_store_accepts(words: list[str]) -> None:
    params = parse_argv(["python", "train.py", *words])
    assert yaml.safe_load(yaml.safe_dump(params)) == params
    for key, value in params.items():
        check_name_key(key, "param key")
        to_param_value(value, key)


def test_undecodable_and_control_characters_do_not_break_parsing() -> None:
    argv = ["python", "t.py", "--name", "caf\udce9", "--bad\x01key", "1", "--\x00", "--ok", "1"]
    assert parse_argv(argv) == {"name": "caf?", "ok": 1}


CONFIG = {"model": {"name": "bert", "layers": [1, 2]}, "lr": 0.001, "fp16": True}


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("c.yaml", "model:\n  name: bert\n  layers: [1, 2]\nlr: 0.001\nfp16: true\n"),
        ("c.yml", "model: {name: bert, layers: [1, 2]}\nlr: 1.0e-3\nfp16: yes\n"),
        ("c.json", '{"model": {"name": "bert", "layers": [1, 2]}, "lr": 0.001, "fp16": true}'),
        ("c.toml", 'lr = 0.001\nfp16 = true\n[model]\nname = "bert"\nlayers = [1, 2]\n'),
    ],
)
def test_config_files_in_three_formats(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert load_config_file(path) == CONFIG


def test_config_dates_and_non_string_keys_become_strings(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("when: 2024-01-02\n1: one\n")
    assert load_config_file(path) == {"when": "2024-01-02", "1": "one"}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.yaml", "a: [1, 2\n", "is not valid YAML"),
        ("bad.json", "{'a': 1}", "is not valid JSON"),
        ("bad.toml", "a = \n", "is not valid TOML"),
        ("list.yaml", "- 1\n- 2\n", "not a mapping"),
        ("empty.yaml", "", "not a mapping"),
        ("unsafe.yaml", "a: !!python/object/apply:os.system ['true']\n", "is not valid YAML"),
        ("binary.toml", "\udcff", "is not valid TOML"),
    ],
)
def test_bad_config_files_raise_a_clear_error(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(InvalidInputError, match=message) as caught:
        load_config_file(path)
    assert str(path) in caught.value.message and caught.value.hint


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="cannot read config file"):
        load_config_file(tmp_path / "nope.yaml")
