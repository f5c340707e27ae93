"""Secrets never leave the process: every text we log, report or raise goes through here.

Known secret values (Guance API key, workspace token, Aliyun AccessKey secret,
STS tokens) are registered when they are read; ``redact`` replaces them, and
anything that looks like a credential in a header or query string, with
``***``. Log lines go through ``logs``, whose handler redacts every record.
"""
import re
import threading

MASK = "***"

_lock = threading.Lock()
_secrets = set()

# An Authorization header's value has several words ("Bearer <token>", "ACS3-HMAC-SHA256 Credential=...").
_AUTHORIZATION = re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)[^\"'\r\n}]+")
# key=value / key: value pairs whose value is a credential, whatever the value is.
_CREDENTIAL_PAIRS = re.compile(
    r"(?i)((?:df-api-key|access_?key_?secret|accesskeysecret|security_?token|"
    r"securitytoken|signature|workspace_token|api_key|token|password)"
    r"[\"']?\s*[:=]\s*[\"']?)([^\s\"'&,;}]+)"
)


def register_secret(value):
    """Remember a secret value so that it is masked wherever it appears. Returns the value."""
    if isinstance(value, str) and len(value) >= 4:
        with _lock:
            _secrets.add(value)
    return value


def redact(text):
    """``text`` (any object, as str) with every known secret and credential-looking value masked."""
    if text is None:
        return text
    if not isinstance(text, str):
        text = str(text)
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _AUTHORIZATION.sub(lambda m: m.group(1) + MASK, text)
    return _CREDENTIAL_PAIRS.sub(lambda m: m.group(1) + MASK, text)


def describe_error(error):
    """One redacted line for an exception: ``Type: message``."""
    text = str(error).strip() or repr(error)
    first = text.splitlines()[0] if text else ""
    return redact("%s: %s" % (type(error).__name__, first))
