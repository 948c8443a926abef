"""Keep secrets out of git: redact command lines and environment variables.

A run is pushed to shared remotes and can never be fully erased from everyone's clones, so
redaction errs on the safe side. Three independent checks, each applied everywhere:

- names: a flag, ``NAME=value`` word, query parameter or variable whose *name* looks like a
  credential (:func:`is_secret_name`) has its value replaced by ``[REDACTED]``;
- URLs: the password in ``scheme://user:password@host`` becomes ``***``;
- values: strings in a known token format (GitHub, OpenAI, Anthropic, Hugging Face, AWS,
  Slack, GitLab, JWT, PEM private keys), and the credential of an ``Authorization:`` header
  or after ``Bearer``, become ``[REDACTED]`` wherever they appear.

Params (config files, Hydra configs, the API) follow the same rules by key
(:func:`redact_params`).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from fnmatch import translate
from typing import Any

REDACTED = "[REDACTED]"
URL_PASSWORD_MASK = "***"

# Whole words (after splitting on punctuation and camelCase) that mark a credential.
_SECRET_WORDS = frozenset(
    {
        "token", "secret", "secrets", "password", "passwords", "passwd", "pass", "passphrase",
        "credential", "credentials", "creds", "auth", "authorization", "cookie", "cookies",
        "dsn", "apikey", "accesskey", "privatekey", "secretkey", "sessionid", "sessiontoken",
        "authtoken", "accesstoken", "refreshtoken", "bearer", "jwt", "pat", "pw", "pwd",
    }
)  # fmt: skip
# Glued endings: "dbpassword", "mytoken", "oauth"; never "tokenizer" or "max_tokens".
_SECRET_SUFFIXES = ("password", "passwd", "token", "secret", "apikey", "auth", "credentials")
# "key" alone is too common (sort_key, num_keys); these qualifiers make it a credential.
_KEY_QUALIFIERS = frozenset(
    {"api", "access", "private", "secret", "ssh", "signing", "encryption", "license", "master",
     "auth", "client", "account", "storage", "service", "session", "subscription", "deploy"}
)  # fmt: skip
_PAIRS = {("session", "id"), ("conn", "str"), ("connection", "string"), ("client", "secret")}
# The shell's working-directory variable, not a password ("--pwd", "DB_PWD" are secret).
_NOT_SECRET = frozenset({"PWD", "OLDPWD"})

_TOKEN_PATTERNS = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
    r"|\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"
    r"|\bsk-[A-Za-z0-9_-]{20,}"
    r"|\bhf_[A-Za-z0-9]{20,}"
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"
    r"|\bglpat-[A-Za-z0-9_-]{20,}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"
)
# ``Authorization: Bearer X``, ``authorization=Basic X``, and a bare ``Bearer X``: the
# credential goes, the scheme word stays so the log still reads as a header.
_AUTH_HEADER = re.compile(
    r"(?i)(?P<head>\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?"
    r"(?:(?:bearer|basic|token|digest|bot|apikey)\s+)?)(?P<value>[^\s'\",;]+)"
)
_BEARER = re.compile(r"(?i)(?P<head>\bbearer\s+)(?P<value>[A-Za-z0-9._~+/=-]{6,})")
# The lookbehind makes a scheme start only at a word's start: without it, a long word is
# rescanned from every position (quadratic time on a 100 kB argument).
_URL_PASSWORD = re.compile(
    r"(?P<head>(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+(?=@)"
)
_QUERY_PARAM = re.compile(r"(?P<head>[?&;](?P<name>[A-Za-z0-9_.-]+)=)(?P<value>[^&#\s'\"]*)")
_FLAG = re.compile(
    r"^(?P<dashes>--?)(?P<name>[A-Za-z][A-Za-z0-9_.-]*)(?P<eq>=)?(?P<value>.*)$", re.S
)
_ASSIGNMENT = re.compile(r"^(?P<name>[+~]{0,2}[A-Za-z_][A-Za-z0-9_.-]*)=(?P<value>.*)$", re.S)
_TEXT_TOKEN = re.compile(r"""(?:[^\s'"]+|'[^']*'|"[^"]*")+""")

DEFAULT_ENV_ALLOW: tuple[str, ...] = (
    # Accelerators and numerical libraries: they change results and speed.
    "CUDA_*", "CUBLAS_*", "CUDNN_*", "NCCL_*", "NVIDIA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES",
    "HIP_VISIBLE_DEVICES", "TORCH_*", "PYTORCH_*", "XLA_*", "JAX_*", "TF_*",
    "OMP_*", "KMP_*", "MKL_*", "OPENBLAS_NUM_THREADS", "NUMEXPR_*", "TOKENIZERS_PARALLELISM",
    # Python and its environment.
    "PYTHONHASHSEED", "PYTHONPATH", "PYTHONOPTIMIZE", "PYTHONUNBUFFERED", "PYTHONWARNINGS",
    "VIRTUAL_ENV", "CONDA_DEFAULT_ENV", "CONDA_PREFIX",
    # Distributed training and schedulers.
    "WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
    "SLURM_*", "PBS_*", "LSB_JOBID", "ACCELERATE_*",
    # Hugging Face caches and modes (HF_TOKEN is not listed, and would be redacted anyway).
    "HF_HOME", "HF_DATASETS_CACHE", "HF_HUB_CACHE", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE",
    "TRANSFORMERS_CACHE", "TRANSFORMERS_OFFLINE",
    # Machine and locale.
    "HOSTNAME", "LANG", "LC_*", "TZ",
)  # fmt: skip


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    spaced = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", "_", spaced)  # HTTPServer -> HTTP_Server
    return [word for word in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if word]


def is_secret_name(name: str) -> bool:
    """True when a flag, variable or key name looks like it holds a credential.

    Matching is by word, case-insensitive: ``HF_TOKEN``, ``--api-key``, ``dbPassword``,
    ``AWS_SECRET_ACCESS_KEY`` are secret; ``--tokenizer``, ``max_tokens``, ``num_keys``,
    ``sort_key``, ``author`` are not.
    """
    if name.lstrip("-$") in _NOT_SECRET:
        return False
    words = _words(name)
    for i, word in enumerate(words):
        if word in _SECRET_WORDS or word.endswith(_SECRET_SUFFIXES):
            return True
        if word in ("key", "keys") and i > 0 and words[i - 1] in _KEY_QUALIFIERS:
            return True
        if i > 0 and (words[i - 1], word) in _PAIRS:
            return True
    return False


def redact_value(value: str) -> str:
    """Mask URL passwords, secret query parameters, ``Authorization``/``Bearer``
    credentials and known token formats inside ``value``."""
    return redact_tokens(redact_urls(redact_auth(value)))


def redact_auth(value: str) -> str:
    """``Authorization: Bearer X`` and ``Bearer X``: the credential goes."""
    return _BEARER.sub(_keep_head, _AUTH_HEADER.sub(_keep_head, value))


def redact_urls(value: str) -> str:
    """URL passwords and secret query parameters."""
    value = _URL_PASSWORD.sub(lambda m: m["head"] + URL_PASSWORD_MASK, value)
    return _QUERY_PARAM.sub(
        lambda m: m["head"] + REDACTED if is_secret_name(m["name"]) and m["value"] else m[0],
        value,
    )


def redact_tokens(value: str) -> str:
    """Strings in a known token format."""
    return _TOKEN_PATTERNS.sub(REDACTED, value)


def _keep_head(match: re.Match[str]) -> str:
    return match["head"] + (match["value"] if match["value"] == REDACTED else REDACTED)


def redact_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a nested params mapping (a config file, a Hydra config) in which every
    value under a secret-looking key is ``[REDACTED]`` (``db: {password: x}``, and all the
    leaves of ``credentials: {...}``), and other strings are masked by :func:`redact_value`.
    Booleans and None stay: ``use_auth: true`` tells nothing away."""
    return {key: redact_param(key, value) for key, value in params.items()}


def redact_param(key: str, value: Any) -> Any:
    """One param value, redacted as :func:`redact_params` does."""
    if is_secret_name(key):
        return _redact_all(value)
    if isinstance(value, Mapping):
        return redact_params(value)
    if isinstance(value, list):
        return [redact_param("", item) for item in value]
    if isinstance(value, str):
        return redact_value(value)
    return value


def _redact_all(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _redact_all(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_all(item) for item in value]
    if value is None or isinstance(value, bool):
        return value
    return REDACTED


def _looks_random(value: str) -> bool:
    """A long string of mixed letters and digits with high entropy: an opaque key."""
    if len(value) < 20 or not re.fullmatch(r"[A-Za-z0-9+/=_\-.]+", value):
        return False
    if not (re.search(r"[A-Za-z]", value) and re.search(r"[0-9]", value)):
        return False
    counts = {c: value.count(c) for c in set(value)}
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return entropy >= 3.5


def _is_keyish(name: str) -> bool:
    words = _words(name)
    return bool(words) and words[-1] in ("key", "keys")


def _secret_value(flag: str, value: str) -> bool:
    return is_secret_name(flag) or (_is_keyish(flag) and _looks_random(value))


def _redact_token(token: str, after_flag: str | None) -> tuple[str, str | None]:
    """Redact one word of a command line. ``after_flag`` is the name of the flag just before
    it when that flag expects a value. Returns the word and the flag this word opens."""
    if after_flag is not None and not token.startswith("-") and _secret_value(after_flag, token):
        return REDACTED, None
    flag = _FLAG.match(token)
    if flag:
        if flag["eq"]:
            if _secret_value(flag["name"], flag["value"]):
                return f"{flag['dashes']}{flag['name']}={REDACTED}", None
            return f"{flag['dashes']}{flag['name']}={redact_value(flag['value'])}", None
        return token, flag["name"]
    assignment = _ASSIGNMENT.match(token)
    if assignment and is_secret_name(assignment["name"]):
        return f"{assignment['name']}={REDACTED}", None
    return redact_value(token), None


def redact_argv(argv: list[str]) -> list[str]:
    """A copy of ``argv`` with secret values replaced (see the module docstring).

    ``--password x`` and ``--password=x`` -> ``[REDACTED]``; ``TOKEN=x`` and Hydra-style
    ``db.password=x`` -> ``TOKEN=[REDACTED]``; short flags (``-p``) are never taken as
    secret names: they are too generic.
    """
    out: list[str] = []
    after_flag: str | None = None
    for token in argv:
        redacted, after_flag = _redact_token(token, after_flag)
        out.append(redacted)
    return out


def redact_text(text: str) -> str:
    """Redact a command line held as one string, keeping its spacing and quoting."""
    pieces: list[str] = []
    after_flag: str | None = None
    end = 0
    for match in _TEXT_TOKEN.finditer(text):
        pieces.append(text[end : match.start()])
        redacted, after_flag = _redact_token(match[0], after_flag)
        pieces.append(redacted)
        end = match.end()
    pieces.append(text[end:])
    # A final pass catches tokens that quoting split across words (PEM blocks).
    return redact_value("".join(pieces))


def redact_env(env: Mapping[str, str], allow: Iterable[str] = DEFAULT_ENV_ALLOW) -> dict[str, str]:
    """The allow-listed variables of ``env`` (exact names or glob patterns such as
    ``CUDA_*``), with secret-named ones set to ``[REDACTED]`` and credentials inside the
    other values masked."""
    allowed = _any_of(tuple(allow))
    kept: dict[str, str] = {}
    for name in sorted(env):
        if not allowed(name):
            continue
        kept[name] = REDACTED if is_secret_name(name) else redact_value(env[name])
    return kept


@functools.lru_cache(maxsize=8)
def _any_of(patterns: tuple[str, ...]) -> Any:
    """One compiled test for "matches one of these glob patterns" (``fnmatchcase`` of each
    pattern in turn compiles each to a regex and costs a call per name and pattern)."""
    if not patterns:
        return lambda name: False
    return re.compile("|".join(translate(pattern) for pattern in patterns)).match
