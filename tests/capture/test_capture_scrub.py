"""Secrets in configs and params, and scrubbing captured output of every redacted value."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitruns.capture import scrub
from gitruns.capture.secrets import (
    REDACTED,
    is_secret_name,
    redact_argv,
    redact_env,
    redact_params,
    redact_value,
)
from gitruns.storage import _strip_credentials


@pytest.mark.parametrize("name", ["db-pw", "--db-pw", "DB_PW", "TF_VAR_db_pw", "pwd", "db_pwd"])
def test_short_password_names_are_secret(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["PWD", "OLDPWD", "pwm", "power"])
def test_the_shells_working_directory_is_not_a_secret(name: str) -> None:
    assert not is_secret_name(name)


def test_issue_leaks_on_the_command_line_are_redacted() -> None:
    argv = [
        "curl", "--db-pw", "X1x1", "--pwd", "X2x2",
        "--header", "Authorization: Bearer abc.def-123",
        "-H", "authorization=token zzz",
    ]  # fmt: skip
    assert redact_argv(argv) == [
        "curl", "--db-pw", REDACTED, "--pwd", REDACTED,
        "--header", f"Authorization: Bearer {REDACTED}",
        "-H", f"authorization={REDACTED}",  # a NAME=value word with a secret name
    ]  # fmt: skip


def test_bearer_credentials_anywhere_in_text() -> None:
    text = 'requests.get(url, headers={"Authorization": "Bearer eyabc123.def"}) bearer q1w2e3r4'
    redacted = redact_value(text)
    assert "eyabc123.def" not in redacted and "q1w2e3r4" not in redacted
    assert "Bearer" in redacted  # the log still reads as a header


def test_allow_listed_secret_variable_is_redacted() -> None:
    assert redact_env({"TF_VAR_db_pw": "hunter2", "TF_CPP_MIN_LOG_LEVEL": "2"}) == {
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "TF_VAR_db_pw": REDACTED,
    }


def test_config_params_are_redacted_by_key_at_any_depth() -> None:
    config = {
        "db": {"user": "alice", "password": "hunter2", "port": 5432, "url": "pg://a:b@h/d"},
        "credentials": {"key": "k", "nested": ["x", 7], "enabled": True},
        "api_key": 12345678,
        "lr": 0.1,
        "use_auth": None,
    }
    assert redact_params(config) == {
        "db": {"user": "alice", "password": REDACTED, "port": 5432, "url": "pg://a:***@h/d"},
        "credentials": {"key": REDACTED, "nested": [REDACTED, REDACTED], "enabled": True},
        "api_key": REDACTED,
        "lr": 0.1,
        "use_auth": None,
    }


def test_secret_parts_recovers_what_each_marker_hid() -> None:
    assert scrub.secret_parts("--api-key=abc", f"--api-key={REDACTED}") == ["abc"]
    assert scrub.secret_parts("https://u:pw@h/x", "https://u:***@h/x") == ["pw"]
    assert scrub.secret_parts("same", "same") == []
    original = "Authorization: Bearer t0k3n and AKIAIOSFODNN7EXAMPLE"
    assert scrub.secret_parts(original, redact_value(original)) == [
        "t0k3n",
        "AKIAIOSFODNN7EXAMPLE",
    ]


def test_learn_walks_params_and_argv() -> None:
    config = {"db": {"password": "hunter2", "port": 1}, "passwords": [12345678, "s3cr3t-value"]}
    assert sorted(scrub.learn(config, redact_params(config))) == [
        "12345678",
        "hunter2",
        "s3cr3t-value",
    ]
    argv = ["python", "t.py", "--password", "pw-1234", "--lr", "3"]
    assert scrub.learn(argv, redact_argv(argv)) == ["pw-1234"]


def test_env_secret_values_cover_the_whole_environment_but_not_plain_words() -> None:
    env = {
        "HF_TOKEN": "hf-not-allow-listed-1",
        "AUTH_MODE": "local",  # a setting, not a secret: scrubbing "local" would mangle logs
        "DATABASE_URL": "postgres://u:url-pass-9@h/db",
        "HOME": "/root",
    }
    assert sorted(scrub.env_secret_values(env)) == ["hf-not-allow-listed-1", "url-pass-9"]


@pytest.mark.parametrize("value", ["", "abc", "true", "None", "8080", REDACTED, "***"])
def test_values_too_plain_to_scrub(value: str) -> None:
    assert not scrub.worth_scrubbing(value)


def test_scrubber_replaces_known_values_and_token_shapes_keeping_the_rest() -> None:
    scrubber = scrub.Scrubber(["hunter2", "hunter2-long", "1"])
    text = "epoch 1 loss 0.5 pw=hunter2-long other=hunter2 key AKIAIOSFODNN7EXAMPLE"
    assert scrubber.text(text) == (
        f"epoch 1 loss 0.5 pw={REDACTED} other={REDACTED} key {REDACTED}"
    )


def test_scrubber_keeps_binary_output_byte_for_byte() -> None:
    data = b"\x00\xff\xfe binary \x80 secret-value-1 \xc3\x28 end"
    cleaned = scrub.Scrubber(["secret-value-1"]).data(data)
    assert cleaned == data.replace(b"secret-value-1", REDACTED.encode())


@given(st.binary(max_size=200))
def test_scrubbing_output_without_secrets_changes_nothing(data: bytes) -> None:
    clean = data.replace(b"\x1b", b"")  # no way to spell a token or URL password with these
    if b"://" in clean or b"earer" in clean or b"uthorization" in clean:
        return
    assert scrub.Scrubber([]).data(clean) == clean


def test_remembered_values_are_private_and_read_back(tmp_path: Path) -> None:
    scrub.remember(tmp_path, ["secret-one-1", "x", "secret-two-2"])
    scrub.remember(tmp_path, ["secret-three-3"])
    path = tmp_path / scrub.SECRETS_FILE
    assert os.stat(path).st_mode & 0o777 == 0o600
    with path.open("ab") as handle:
        handle.write(b'"half-writ')  # a writer killed mid-line
    other = tmp_path / "w-1"
    other.mkdir()
    scrub.remember(other, ["secret-four-4"])
    assert scrub.known_values([tmp_path, other, tmp_path / "missing"]) == [
        "secret-four-4",
        "secret-one-1",
        "secret-three-3",
        "secret-two-2",
    ]


@pytest.mark.parametrize(
    ("url", "recorded"),
    [
        (
            "https://ghp_abcdefghijklmnopqrstuvwxyz0123@github.com/o/r.git",
            "https://github.com/o/r.git",
        ),
        ("https://user:pass@host/r.git", "https://host/r.git"),
        ("http://tok@host:8080/r", "http://host:8080/r"),
        ("ssh://git:pw@host/r.git", "ssh://git@host/r.git"),
        ("ssh://git@host/r.git", "ssh://git@host/r.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("/srv/repos/r.git", "/srv/repos/r.git"),
    ],
)
def test_remote_urls_lose_their_credentials(url: str, recorded: str) -> None:
    assert _strip_credentials(url) == recorded


_PIECES = st.sampled_from(
    [
        "\n",
        " ",
        "loss 0.5",
        "https://u:pw@h/x",
        "?token=abc&page=2",
        "Authorization: Bearer t0k3n",
        "bearer abcdefgh",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_" + "a1B2" * 9,
        "sk-" + "Ab3" * 8,
        "&",
        ";",
        "hf_" + "q" * 30,
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig",
        "://",
        "é\r",
    ]
)


@given(st.lists(_PIECES, max_size=40).map("".join))
def test_bulk_redaction_of_a_log_equals_redacting_it_whole(text: str) -> None:
    assert scrub.redact_bulk(text) == redact_value(text)
