"""No secret in what the core prints, raises or sends (the full demo is checked in test_secrets_demo)."""
from guance_monitor import openapi
from guance_monitor import redact

from test_core_e2e import run_cli, write_startup


def secrets_of(sandbox):
    settings = sandbox.scenario.sandbox
    return [settings["guance_api_key_id"], settings["guance_api_key"], sandbox.scenario.workspace["token"]]


def assert_clean(text, secrets):
    for secret in secrets:
        assert secret not in text


def test_successful_run_prints_and_sends_no_secret(make_sandbox, tmp_path, capsys):
    sandbox = make_sandbox({})
    assert run_cli(write_startup(tmp_path, sandbox), tmp_path) == 0
    out = capsys.readouterr()
    secrets = secrets_of(sandbox)
    assert_clean(out.out + out.err, secrets)
    for event in sandbox.events:
        assert_clean(repr(event), secrets)
    for path in (tmp_path / "func").rglob("*.json"):
        text = path.read_text(encoding="utf-8")
        assert_clean(text, secrets[1:])  # the state store never holds the key or the token


def test_rejected_key_is_reported_without_the_key(make_sandbox, tmp_path, capsys):
    sandbox = make_sandbox({})
    path = write_startup(tmp_path, sandbox)
    text = open(path, encoding="utf-8").read().replace(sandbox.scenario.sandbox["guance_api_key_id"],
                                                      "wrong-key-id-123456")
    open(path, "w", encoding="utf-8").write(text)
    assert run_cli(path, tmp_path) == 1
    err = capsys.readouterr().err
    assert "HTTP 403" in err and "ft.InvalidAPIKey" in err and "self_built_checker" in err
    assert "wrong-key-id-123456" not in err
    assert len(err.strip().splitlines()) == 1


def test_guance_errors_never_carry_the_key():
    redact.register_secret("key-id-abcdef")
    error = openapi.GuanceAPIError("/api/v1/x", "refused", 400, "ft.Bad", "the key key-id-abcdef is not valid")
    assert "key-id-abcdef" not in str(error)
    assert "***" in str(error)
