"""Redaction of secrets from command lines and environment variables."""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitruns.capture.secrets import (
    REDACTED,
    is_secret_name,
    redact_argv,
    redact_env,
    redact_text,
    redact_value,
)

SECRET_NAMES = [
    "TOKEN", "HF_TOKEN", "GITHUB_TOKEN", "WANDB_API_KEY", "AWS_SECRET_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "password", "--password", "db-password",
    "dbPassword", "DB_PASSWD", "PASS", "api-key", "apiKey", "APIKEY", "private_key",
    "secret", "client_secret", "OPENAI_API_KEY", "credentials", "GOOGLE_APPLICATION_CREDENTIALS",
    "auth", "Authorization", "oauth", "SENTRY_DSN", "cookie", "session_id", "accessToken",
    "ssh-key", "mytoken",
]  # fmt: skip
PLAIN_NAMES = [
    "tokenizer", "--tokenizer", "max_tokens", "num_tokens", "TOKENIZERS_PARALLELISM",
    "num_keys", "sort_key", "key", "author", "authors", "bypass", "compass", "PWD", "lr",
    "learning-rate", "passes", "keyboard", "monkey", "CUDA_VISIBLE_DEVICES", "secretary_count",
]  # fmt: skip


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names_are_recognised(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_ordinary_names_are_not_secret(name: str) -> None:
    assert not is_secret_name(name)


def test_secret_flag_values_are_redacted_both_forms() -> None:
    argv = ["python", "train.py", "--password", "hunter2", "--api-key=abc123", "--lr", "0.1"]
    assert redact_argv(argv) == [
        "python", "train.py", "--password", REDACTED, f"--api-key={REDACTED}", "--lr", "0.1",
    ]  # fmt: skip


def test_secret_flag_followed_by_another_flag_redacts_nothing() -> None:
    assert redact_argv(["x", "--no-auth", "--lr", "3"]) == ["x", "--no-auth", "--lr", "3"]


def test_short_flags_are_not_taken_as_secret_names() -> None:
    assert redact_argv(["ssh", "-p", "2222", "host"]) == ["ssh", "-p", "2222", "host"]


def test_env_style_and_hydra_style_assignments() -> None:
    argv = ["env", "HF_TOKEN=abc", "db.password=xyz", "+auth.token=q", "model.lr=0.1"]
    assert redact_argv(argv) == [
        "env", f"HF_TOKEN={REDACTED}", f"db.password={REDACTED}", f"+auth.token={REDACTED}",
        "model.lr=0.1",
    ]  # fmt: skip


def test_url_password_is_masked_and_user_kept() -> None:
    argv = ["git", "clone", "https://alice:s3cret@example.com/repo.git"]
    assert redact_argv(argv)[2] == "https://alice:***@example.com/repo.git"
    assert redact_argv(["--db=postgres://u:p%40ss@db:5432/x"]) == [
        "--db=postgres://u:***@db:5432/x"
    ]


def test_secret_query_parameters_are_redacted() -> None:
    url = "https://h/api?token=abc&page=2&api_key=zz"
    assert redact_value(url) == f"https://h/api?token={REDACTED}&page=2&api_key={REDACTED}"


@pytest.mark.parametrize(
    "token",
    [
        "ghp_" + "a1B2" * 9,
        "github_pat_" + "x" * 30,
        "sk-" + "Ab3" * 16,
        "sk-proj-" + "Zx9" * 12,
        "hf_" + "q" * 34,
        "AKIAIOSFODNN7EXAMPLE",
        "xoxb-1234567890-abcdefghij",
        "glpat-" + "x" * 20,
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ],
)
def test_known_token_formats_are_redacted_anywhere(token: str) -> None:
    assert redact_argv(["run", token]) == ["run", REDACTED]
    assert redact_argv([f"--what={token}"]) == [f"--what={REDACTED}"]
    assert token not in redact_text(f"echo {token} | tee x")


def test_random_value_after_a_key_flag_is_redacted_but_plain_values_are_not() -> None:
    assert redact_argv(["x", "--key", "Zk3pQ9vL2mN8xR4tB7wY"]) == ["x", "--key", REDACTED]
    assert redact_argv(["x", "--sort-key", "name"]) == ["x", "--sort-key", "name"]


def test_ordinary_command_is_unchanged() -> None:
    argv = ["python", "-m", "pkg.train", "--lr", "3e-4", "data/train.csv", "model.depth=4"]
    assert redact_argv(argv) == argv


def test_redact_text_keeps_spacing_and_quotes() -> None:
    text = "python  train.py --password 'a b' --lr 3 HF_TOKEN=\"x y\" --name 'my run'"
    assert redact_text(text) == (
        f"python  train.py --password {REDACTED} --lr 3 HF_TOKEN={REDACTED} --name 'my run'"
    )


def test_redact_text_masks_private_key_blocks() -> None:
    text = "echo '-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----'"
    assert "MIIEow" not in redact_text(text)


def test_redact_env_keeps_only_allowed_and_redacts_secrets() -> None:
    env = {
        "CUDA_VISIBLE_DEVICES": "0,1",
        "SLURM_JOB_ID": "42",
        "OMP_NUM_THREADS": "4",
        "HOME": "/home/alice",
        "PATH": "/usr/bin",
        "HF_TOKEN": "hf_" + "x" * 34,
        "AWS_SECRET_ACCESS_KEY": "abc",
        "TORCH_SECRET_TOKEN": "abc",
        "TORCH_HOME": "https://u:pw@cache.example.com/t",
    }
    assert redact_env(env) == {
        "CUDA_VISIBLE_DEVICES": "0,1",
        "OMP_NUM_THREADS": "4",
        "SLURM_JOB_ID": "42",
        "TORCH_HOME": "https://u:***@cache.example.com/t",
        "TORCH_SECRET_TOKEN": REDACTED,
    }


def test_redact_env_with_a_custom_allow_list() -> None:
    env = {"MY_VAR": "1", "MY_TOKEN": "t", "OTHER": "2"}
    assert redact_env(env, allow=["MY_*"]) == {"MY_TOKEN": REDACTED, "MY_VAR": "1"}


_word = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789._/"), min_size=1, max_size=12)


@given(st.lists(_word, max_size=8))
def test_words_without_secrets_pass_through(words: list[str]) -> None:
    assert redact_argv(words) == words
    assert redact_text(" ".join(words)) == " ".join(words)


@given(st.text(min_size=1, max_size=30).filter(lambda v: "\n" not in v))
def test_a_planted_password_never_survives(secret: str) -> None:
    planted = "Zq" + secret
    for argv in (["x", "--password", planted], [f"--password={planted}"], [f"TOKEN={planted}"]):
        assert all(planted not in word for word in redact_argv(argv))


def test_huge_arguments_are_redacted_in_linear_time() -> None:
    # Regression: a scheme pattern that could start anywhere rescanned long words from every
    # position (minutes for 200 kB). No time limit here: a regression shows as a slow suite.
    words = ["a" * 100_000, "https://" + "a" * 100_000 + ":", "A" * 100_000, "a:" * 50_000]
    assert redact_argv(words) == words
    assert redact_text(" ".join(words)) == " ".join(words)
    assert not is_secret_name("A" * 100_000)


@settings(max_examples=300)
@given(
    st.lists(st.text(alphabet="AB_*?[]!x", min_size=1, max_size=5), max_size=4),
    st.lists(st.text(alphabet="AB_x[]!", max_size=6), max_size=8),
)
def test_allow_patterns_match_as_fnmatchcase_does(patterns: list[str], names: list[str]) -> None:
    # redact_env tests every name against all patterns with one compiled expression.
    env = dict.fromkeys(names, "v")
    expected = {n for n in names if any(fnmatchcase(n, p) for p in patterns)}
    assert set(redact_env(env, patterns)) == expected
