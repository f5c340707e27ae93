"""The injectable clock, the state stores and redaction of secrets."""
import datetime
import json
import os

import pytest

from guance_monitor import clock
from guance_monitor import redact
from guance_monitor import state

UTC = datetime.timezone.utc
AT = datetime.datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
AT_MS = 1795161600000


# -- clock.parse_time -----------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "2026-11-20T08:00:00Z",
    "2026-11-20T08:00:00z",
    "2026-11-20T08:00Z",
    "2026-11-20T16:00:00+08:00",
    "2026-11-20T16:00+08:00",
    "2026-11-20T03:00:00-05:00",
    "2026-11-20 08:00:00",
    "2026-11-20T08:00:00",
    " 2026-11-20T08:00:00Z ",
])
def test_parse_time_iso_forms(text):
    parsed = clock.parse_time(text)
    assert parsed == AT
    assert parsed.utcoffset() == datetime.timedelta(0)


@pytest.mark.parametrize("fraction, micro", [
    ("1", 100000), ("12", 120000), ("123", 123000), ("1234", 123400), ("12345", 123450),
    ("123456", 123456), ("1234567", 123456), ("12345678", 123456), ("123456789", 123456),
])
def test_parse_time_fractional_seconds_of_any_length(fraction, micro):
    parsed = clock.parse_time("2026-11-20T08:00:00.%sZ" % fraction)
    assert parsed == AT.replace(microsecond=micro)


def test_parse_time_fraction_with_offset():
    assert clock.parse_time("2026-11-20T16:00:00.5+08:00") == AT.replace(microsecond=500000)


def test_parse_time_epoch_ms():
    assert clock.parse_time(AT_MS) == AT
    assert clock.parse_time(str(AT_MS)) == AT
    assert clock.parse_time(float(AT_MS + 250)) == AT.replace(microsecond=250000)


def test_parse_time_datetimes():
    assert clock.parse_time(AT) is AT
    assert clock.parse_time(datetime.datetime(2026, 11, 20, 8, 0)) == AT  # naive means UTC


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "2026-11-20T25:00Z", "-5", "12:00"])
def test_parse_time_bad_text_names_the_value(value):
    with pytest.raises(ValueError) as info:
        clock.parse_time(value)
    assert str(info.value) == "not an ISO 8601 time or epoch milliseconds: %r" % (value,)


@pytest.mark.parametrize("value", [None, "", "   ", True, [AT_MS], {}])
def test_parse_time_not_a_time(value):
    with pytest.raises(ValueError) as info:
        clock.parse_time(value)
    assert str(info.value) == "not a time: %r" % (value,)


def test_to_ms_from_ms_and_iso():
    assert clock.to_ms(AT) == AT_MS
    assert clock.to_ms(datetime.datetime(2026, 11, 20, 8, 0)) == AT_MS
    assert clock.from_ms(AT_MS) == AT
    assert clock.iso(AT.replace(microsecond=999999)) == "2026-11-20T08:00:00Z"
    assert clock.iso(clock.parse_time("2026-11-20T16:00:00+08:00")) == "2026-11-20T08:00:00Z"


# -- frozen / FakeSleep ----------------------------------------------------------------------

def test_frozen_holds_the_wall_clock_and_restores_it():
    with clock.frozen("2026-11-20T08:00:00Z") as at:
        assert at == AT
        assert clock.now() == AT
        assert clock.now_ms() == AT_MS
    assert abs((clock.now() - datetime.datetime.now(UTC)).total_seconds()) < 5


def test_frozen_accepts_ms_and_nests():
    with clock.frozen(AT_MS):
        with clock.frozen("2026-11-21T08:00:00Z"):
            assert clock.now_ms() == AT_MS + 86400 * 1000
        assert clock.now_ms() == AT_MS


def test_frozen_restores_after_an_error():
    with pytest.raises(RuntimeError):
        with clock.frozen(AT):
            raise RuntimeError("boom")
    assert clock.now() != AT


def test_frozen_refuses_a_bad_time():
    with pytest.raises(ValueError):
        clock.frozen("later")


def test_fake_sleep_records_and_advances_monotonic(fake_sleep):
    start = clock.monotonic()
    clock.sleep(1.5)
    clock.sleep(0)
    clock.sleep(-2)
    clock.sleep(3)
    assert fake_sleep.waits == [1.5, 3]
    assert clock.monotonic() - start == 4.5
    assert fake_sleep.elapsed == 4.5


def test_fake_sleep_uninstall_restores_real_clocks():
    sleeper = clock.FakeSleep().install()
    clock.sleep(100)
    assert clock.monotonic() == 100
    clock.FakeSleep.uninstall()
    assert sleeper.waits == [100]
    assert clock.monotonic() != 100  # the real monotonic clock again


# -- state.FileStore -------------------------------------------------------------------------

def test_file_store_round_trip(tmp_path):
    store = state.FileStore(str(tmp_path / "s"))
    value = {"status": "warning", "list": [1, 2.5, None, True], u"名字": u"抢占式实例"}
    store.set("alerts", value)
    assert store.get("alerts") == value
    assert state.FileStore(str(tmp_path / "s")).get("alerts") == value  # another process sees it
    store.set("alerts", [1])
    assert store.get("alerts") == [1]
    store.delete("alerts")
    assert store.get("alerts", "gone") == "gone"
    store.delete("alerts")  # deleting twice is fine


def test_file_store_missing_key_gives_default(tmp_path):
    store = state.FileStore(str(tmp_path))
    assert store.get("nope") is None
    assert store.get("nope", {"a": 1}) == {"a": 1}


def test_file_store_default_directory_is_the_state_dir_env(isolated_state):
    store = state.FileStore()
    store.set("k", 1)
    assert store.directory == str(isolated_state)
    files = [f for _, _, names in os.walk(str(isolated_state)) for f in names]
    assert len(files) == 1 and files[0].endswith(".json")


def test_file_store_leaves_no_temp_files(tmp_path):
    store = state.FileStore(str(tmp_path))
    for i in range(5):
        store.set("k", i)
    names = [f for _, _, files in os.walk(str(tmp_path)) for f in files]
    assert len(names) == 1 and not any(n.endswith(".tmp") for n in names)


def test_file_store_expiry_follows_the_injected_clock(tmp_path):
    store = state.FileStore(str(tmp_path))
    with clock.frozen(AT):
        store.set("price", 0.42, expires=60)
        store.set("forever", 1)
    with clock.frozen(AT_MS + 59 * 1000):
        assert store.get("price") == 0.42
    with clock.frozen(AT_MS + 60 * 1000):
        assert store.get("price") is None
    with clock.frozen(AT_MS - 3600 * 1000):
        assert store.get("price") is None  # expired entries are deleted when read
    with clock.frozen(AT_MS + 10 ** 9):
        assert store.get("forever") == 1


def test_file_store_corrupt_file_reads_as_default(tmp_path):
    store = state.FileStore(str(tmp_path))
    store.set("alerts", {"a": 1})
    path = store._path("alerts")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write('{"value": {"a": 1')
    assert store.get("alerts", "default") == "default"
    store.set("alerts", {"b": 2})  # and it can be written again
    assert store.get("alerts") == {"b": 2}


def test_file_store_keys_are_free_text(tmp_path):
    store = state.FileStore(str(tmp_path))
    keys = ["a/b", "../escape", u"命名空间:x", "x" * 500]
    for i, key in enumerate(keys):
        store.set(key, i)
    assert [store.get(k) for k in keys] == [0, 1, 2, 3]
    assert not os.path.exists(str(tmp_path.parent / "escape"))


def test_scoped_store_namespaces_keys(tmp_path):
    store = state.FileStore(str(tmp_path))
    spot = store.scoped("spot-alive")
    pods = store.scoped("k8s-pod-restart")
    spot.set("alerts", {"i-1": "critical"})
    pods.set("alerts", {"pod": "warning"})
    assert spot.get("alerts") == {"i-1": "critical"}
    assert pods.get("alerts") == {"pod": "warning"}
    assert store.get("spot-alive:alerts") == {"i-1": "critical"}
    assert store.get("alerts") is None
    assert spot.scoped("prices").get("x") is None
    spot.scoped("prices").set("x", 1)
    assert store.get("spot-alive:prices:x") == 1
    spot.delete("alerts")
    assert spot.get("alerts") is None and pods.get("alerts") == {"pod": "warning"}


def test_scoped_store_passes_expiry(tmp_path):
    scoped = state.FileStore(str(tmp_path)).scoped("spot")
    with clock.frozen(AT):
        scoped.set("price", 1, expires=10)
    with clock.frozen(AT_MS + 11 * 1000):
        assert scoped.get("price") is None


def test_memory_store_round_trip_and_expiry():
    store = state.MemoryStore()
    with clock.frozen(AT):
        store.set("k", {"a": [1]}, expires=5)
        value = store.get("k")
        value["a"].append(2)  # a copy: changing it changes nothing stored
        assert store.get("k") == {"a": [1]}
    with clock.frozen(AT_MS + 5000):
        assert store.get("k", "gone") == "gone"


# -- state.FuncCacheStore --------------------------------------------------------------------

class FakeCache(object):
    """DFF.CACHE as Func's 2024-10 release defines it: text values, ``scope=``, ``expires=``, ``not_exists=``."""

    def __init__(self):
        self.data = {}
        self.expires = {}
        self.calls = []

    def _key(self, key, scope):
        return "%s|%s" % (scope or "caller-script", key)

    def set(self, key, value, scope=None, expires=None, not_exists=False, exists=False, expire=None):
        assert isinstance(value, str)
        full = self._key(key, scope)
        self.calls.append(("set", full, expires, not_exists))
        if not_exists and full in self.data:
            return None
        self.data[full] = value
        if expires:
            self.expires[full] = expires
        return True

    def get(self, key, scope=None):
        return self.data.get(self._key(key, scope))

    def expire(self, key, expires, scope=None, expire=None):
        self.calls.append(("expire", self._key(key, scope), expires))
        self.expires[self._key(key, scope)] = expires

    def delete(self, key, scope=None):
        self.data.pop(self._key(key, scope), None)

    def incrby(self, key, step, scope=None):
        full = self._key(key, scope)
        self.data[full] = str(int(self.data.get(full) or 0) + step)
        return int(self.data[full])


def test_func_cache_store_stores_json_text_in_its_own_scope():
    cache = FakeCache()
    store = state.FuncCacheStore(cache, scope="guance_monitor__state")
    store.set("alerts", {u"实例": [1, None]})
    raw = cache.data["guance_monitor__state|alerts"]
    assert json.loads(raw) == {u"实例": [1, None]}
    assert u"实例" in raw  # readable in Func's cache viewer
    assert store.get("alerts") == {u"实例": [1, None]}


def test_func_cache_store_expiry_goes_with_the_set():
    cache = FakeCache()
    state.FuncCacheStore(cache, scope="s").set("price", 0.5, expires=90.7)
    assert cache.calls == [("set", "s|price", 90, False)]


def test_func_cache_store_missing_and_non_json():
    cache = FakeCache()
    store = state.FuncCacheStore(cache, scope="s")
    assert store.get("nope", "d") == "d"
    cache.data["s|raw"] = "not json {"
    assert store.get("raw", "d") == "d"
    value, problem = store.read("raw")
    assert value is state.MISSING and "raw is not valid JSON" in problem
    cache.data["s|bytes"] = b'{"a": 1}'
    assert store.get("bytes") == {"a": 1}


def test_func_cache_store_scoped_and_delete():
    cache = FakeCache()
    store = state.FuncCacheStore(cache, scope="s")
    store.scoped("spot").set("k", 1)
    assert "s|spot:k" in cache.data
    store.scoped("spot").delete("k")
    assert cache.data == {}


def test_func_cache_store_add_is_set_nx_with_expiry_and_incr_is_incrby():
    cache = FakeCache()
    store = state.FuncCacheStore(cache, scope="s")
    assert store.add("lock", {"token": "a"}, expires=65) is True
    assert store.add("lock", {"token": "b"}, expires=65) is False
    assert store.get("lock") == {"token": "a"} and cache.expires["s|lock"] == 65
    assert store.incr("n", 2, expires=120) == 2 and store.incr("n") == 3
    assert cache.expires["s|n"] == 120


# -- redact ----------------------------------------------------------------------------------

@pytest.fixture
def secrets(monkeypatch):
    """A fresh registry of secrets for the test (the real one is process-wide)."""
    monkeypatch.setattr(redact, "_secrets", set())


def test_registered_secret_is_masked_inside_longer_text(secrets):
    assert redact.register_secret("sk-live-9f8e7d6c") == "sk-live-9f8e7d6c"
    assert redact.redact("GET /x?k=sk-live-9f8e7d6cZZ failed") == "GET /x?k=***ZZ failed"
    assert redact.redact("a sk-live-9f8e7d6c b sk-live-9f8e7d6c") == "a *** b ***"


def test_longer_secret_masked_before_its_prefix(secrets):
    redact.register_secret("abcd")
    redact.register_secret("abcdefgh")
    assert redact.redact("x abcdefgh y abcd") == "x *** y ***"


@pytest.mark.parametrize("text, expected", [
    ("DF-API-KEY: x", "DF-API-KEY: ***"),
    ("df-api-key:x", "df-api-key:***"),
    ("AccessKeySecret=x", "AccessKeySecret=***"),
    ("GET /?AccessKeyId=LTAI&AccessKeySecret=abc123&Action=Describe",
     "GET /?AccessKeyId=LTAI&AccessKeySecret=***&Action=Describe"),
    ("access_key_secret = 'abc'", "access_key_secret = '***'"),
    ("Authorization: abcdef", "Authorization: ***"),
    ('{"api_key": "k-123", "title": "x"}', '{"api_key": "***", "title": "x"}'),
    ("{'DF-API-KEY': 'abcd'}", "{'DF-API-KEY': '***'}"),
    ("workspace_token=tkn_123", "workspace_token=***"),
    ("SecurityToken: STS.abc", "SecurityToken: ***"),
    ("password = hunter2", "password = ***"),
])
def test_credential_pairs_are_masked(secrets, text, expected):
    assert redact.redact(text) == expected


@pytest.mark.parametrize("text, leaked", [
    ("Authorization: Bearer s3cr3t-token-value", "s3cr3t-token-value"),
    ("Authorization: acs LTAI5tExampleId:SiGnAtUrE0=", "SiGnAtUrE0="),
])
def test_authorization_header_value_is_masked_whole(secrets, text, leaked):
    result = redact.redact(text)
    assert leaked not in result
    assert result.startswith("Authorization: ***")


def test_short_strings_are_not_registered(secrets):
    assert redact.register_secret("abc") == "abc"
    assert redact.register_secret("") == ""
    assert redact.register_secret(None) is None
    assert redact.register_secret(12345) == 12345
    assert redact.redact("abc abcabc 12345") == "abc abcabc 12345"
    redact.register_secret("abcd")
    assert redact.redact("abc abcd") == "abc ***"


def test_redact_of_non_text(secrets):
    assert redact.redact(None) is None
    redact.register_secret("secret-42")
    assert redact.redact({"k": "secret-42"}) == "{'k': '***'}"
    assert redact.redact(12) == "12"


def test_describe_error_is_one_redacted_line(secrets):
    redact.register_secret("key-secret-5678")
    error = ValueError("login with key-secret-5678 failed\nTraceback detail")
    assert redact.describe_error(error) == "ValueError: login with *** failed"


def test_describe_error_without_message(secrets):
    assert redact.describe_error(KeyError()) == "KeyError: KeyError()"
    assert redact.describe_error(RuntimeError("  ")) == "RuntimeError: RuntimeError('  ')"
