"""The Alibaba Cloud client over the real SDK, with HTTP mocked by `responses`.

Paging of DescribeSpotPriceHistory, the retry classification (throttling, 5xx, retry-after, network
errors; not region errors), the degraded-region breaker, credentials and redaction.
"""
import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import responses

from guance_monitor import clock
from guance_monitor import redact
from guance_monitor import retry
from guance_monitor_spot_alive import aliyun
from guance_monitor_spot_alive import options

SECRET = "sdk-test-secret-000111"
ANY = re.compile(r"https?://.*")
NOW = clock.to_ms(clock.parse_time("2026-11-20T08:00:00Z"))


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


def cloud(endpoint=None, **account):
    keys = {"aliyun_access_key_id": "LTAItest", "aliyun_access_key_secret": SECRET}
    keys.update(account)
    if endpoint is not None:
        keys["aliyun_endpoint"] = endpoint
    return aliyun.Cloud(options.parse_account(keys), retry.Deadline(None), workers=4)


def query(request):
    return dict((k, v[0]) for k, v in parse_qs(urlparse(request.url).query).items())


def ok(body):
    body = dict(body, RequestId="req-1")
    return (200, {"x-acs-request-id": "req-1"}, json.dumps(body))


def error(status, code, message="failed", headers=None):
    return (status, dict(headers or {}), json.dumps({"RequestId": "req-e", "Code": code, "Message": message,
                                                     "HostId": "ecs.aliyuncs.com"}))


def price(zone, index):
    return {"ZoneId": zone, "InstanceType": "ecs.g7.large", "SpotPrice": 0.1 + index / 100000.0, "OriginPrice": 0.6,
            "Timestamp": clock.iso(clock.from_ms(NOW - (2000 - index) * 60 * 1000)), "NetworkType": "vpc"}


@responses.activate
def test_price_history_follows_next_offset_for_every_zone_at_the_default_endpoint(fake_sleep):
    seen = []

    def answer(request):
        params = query(request)
        seen.append((urlparse(request.url).netloc, request.headers["x-acs-action"], params))
        if params.get("Offset") in (None, "0"):
            return ok({"Currency": "CNY", "NextOffset": 1000,
                       "SpotPrices": {"SpotPriceType": [price("cn-hangzhou-h" if i % 2 else "cn-hangzhou-i", i)
                                                        for i in range(1000)]}})
        return ok({"Currency": "CNY", "NextOffset": 0,
                   "SpotPrices": {"SpotPriceType": [price("cn-hangzhou-j", 1000 + i) for i in range(5)]}})

    responses.add_callback(responses.POST, ANY, callback=answer)
    client = cloud()
    currency, points = client.price_history("cn-hangzhou", "ecs.g7.large", "linux", NOW - 7 * 86400000, NOW - 60000)
    client.close()
    assert currency == "CNY" and len(points) == 1005
    assert set(p[1] for p in points) == {"cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"}
    assert [s[0] for s in seen] == ["ecs-cn-hangzhou.aliyuncs.com"] * 2     # the SDK's Hangzhou host
    first, second = seen[0][2], seen[1][2]
    assert seen[0][1] == "DescribeSpotPriceHistory" and "ZoneId" not in first and "Offset" not in first
    assert second["Offset"] == "1000"
    assert first["StartTime"] == "2026-11-13T08:00:00Z" and first["EndTime"] == "2026-11-20T07:59:00Z"
    assert (first["NetworkType"], first["OSType"], first["InstanceType"]) == ("vpc", "linux", "ecs.g7.large")
    assert client.calls == {"DescribeSpotPriceHistory": 2}


@responses.activate
def test_throttling_and_5xx_are_retried_with_the_servers_retry_after(fake_sleep):
    answers = [error(400, "Throttling.User", "Request was denied due to user flow control."),
               error(503, "ServiceUnavailable"),
               error(429, "Throttling", headers={"x-acs-retry-after": "1500"}),
               ok({"Currency": "USD", "NextOffset": 0, "SpotPrices": {"SpotPriceType": [price("z", 1)]}})]
    responses.add_callback(responses.POST, ANY, callback=lambda request: answers.pop(0))
    client = cloud()
    currency, points = client.price_history("cn-beijing", "ecs.g7.large", None, NOW - 3600000, NOW - 60000)
    assert currency == "USD" and len(points) == 1
    assert client.calls == {"DescribeSpotPriceHistory": 4} and client.retries == 3
    assert fake_sleep.waits[2] == 1.5                                      # x-acs-retry-after, in ms
    assert all(0 < wait <= aliyun.MAX_DELAY for wait in fake_sleep.waits)
    assert client.failed_regions == {}


@responses.activate
def test_region_errors_are_not_retried_and_name_the_code(fake_sleep):
    responses.add(responses.POST, ANY, status=404, json={"RequestId": "r", "Code": "InvalidRegionId.NotFound",
                                                          "Message": "The specified RegionId does not exist."})
    client = cloud()
    with pytest.raises(aliyun.CloudError) as caught:
        client.describe_instances("cn-hangzou")
    exc = caught.value
    assert exc.code == "InvalidRegionId.NotFound" and not exc.transient and exc.region == "cn-hangzou"
    assert str(exc).startswith("DescribeInstances (cn-hangzou) failed: InvalidRegionId.NotFound:")
    assert client.calls == {"DescribeInstances": 1} and fake_sleep.waits == []


@responses.activate
def test_network_failures_are_retried_then_reported_as_network_errors(fake_sleep):
    responses.add(responses.POST, ANY, body=requests.ConnectionError("connection refused"))
    client = cloud()
    with pytest.raises(aliyun.CloudError) as caught:
        client.stock("cn-hangzhou")
    assert caught.value.code == "NetworkError" and caught.value.transient
    assert client.calls == {"DescribeAvailableResource": aliyun.ATTEMPTS}


def test_classification_tests_unretryable_before_tea_exception():
    names = aliyun.sdk()
    network = names.UnretryableException(None, Exception("boom"))
    assert isinstance(network, names.TeaException)
    assert aliyun.classify(network) == (True, None)
    assert aliyun.transient_code("Throttling.Api") and aliyun.transient_code("Rejected.Throttling")
    assert aliyun.transient_code("Whatever", 502) and not aliyun.transient_code("InvalidParameter", 400)
    assert aliyun.classify(ValueError("a bug")) == (False, None)


@responses.activate
def test_a_region_that_keeps_failing_is_degraded_and_skipped(fake_sleep):
    responses.add(responses.POST, ANY, status=503, json={"RequestId": "r", "Code": "ServiceUnavailable",
                                                          "Message": "down"})
    client = cloud()
    for _ in range(aliyun.BREAKER_FAILURES):
        with pytest.raises(aliyun.CloudError):
            client.stock("cn-beijing")
    attempts = client.calls["DescribeAvailableResource"]
    assert attempts == aliyun.BREAKER_FAILURES * aliyun.ATTEMPTS
    assert "cn-beijing" in client.failed_regions
    with pytest.raises(aliyun.CloudError) as caught:
        client.spot_advice("cn-beijing", ["ecs.g7.large"])
    assert caught.value.code == "RegionDegraded" and "DescribeSpotAdvice" not in client.calls
    assert client.calls["DescribeAvailableResource"] == attempts


@responses.activate
def test_advice_stock_events_and_instances_are_parsed(fake_sleep):
    def answer(request):
        action = request.headers["x-acs-action"]
        params = query(request)
        if action == "DescribeSpotAdvice":
            assert params["InstanceTypes.1"] == "ecs.g7.large" and params["InstanceTypes.2"] == "ecs.c7.large"
            return ok({"AvailableSpotZones": {"AvailableSpotZone": [
                {"ZoneId": "h", "AvailableSpotResources": {"AvailableSpotResource": [
                    {"InstanceType": "ecs.g7.large", "AverageSpotDiscount": 24, "InterruptionRate": 12.5,
                     "InterruptRateDesc": "10-100%"}]}},
                {"ZoneId": "k", "AvailableSpotResources": {"AvailableSpotResource": []}}]}})
        if action == "DescribeAvailableResource":
            assert (params["DestinationResource"], params["SpotStrategy"]) == ("InstanceType", "SpotAsPriceGo")
            return ok({"AvailableZones": {"AvailableZone": [
                {"ZoneId": "h", "Status": "Available", "StatusCategory": "WithStock", "AvailableResources": {
                    "AvailableResource": [{"Type": "InstanceType", "SupportedResources": {"SupportedResource": [
                        {"Value": "ecs.g7.large", "Status": "SoldOut", "StatusCategory": "WithoutStock"},
                        {"Value": "ecs.c7.large", "Status": "Available"}]}}]}},
                {"ZoneId": "k", "Status": "SoldOut", "AvailableResources": {"AvailableResource": []}}]}})
        if action == "DescribeSystemEventAttribute":
            assert params["Name"] == "Instance:PreemptibleInstanceInterruption" and "RegionId" not in params
            assert params["StartTime"] == str(NOW - 900000) and params["PageSize"] == "100"
            return ok({"Code": "200", "Success": "true", "SystemEvents": {"SystemEvent": [
                {"Id": "e1", "Time": NOW - 60000, "RegionId": "cn-hangzhou", "InstanceName": "web",
                 "ResourceId": "acs:ecs:cn-hangzhou:1:instance/i-1",
                 "Content": '{"instanceId":"i-1","action":"delete"}'},
                {"Id": "e2", "Time": NOW - 30000, "ResourceId": "acs:ecs:cn-beijing:1:instance/i-2", "Content": "x"}]}})
        if action == "DescribeInstances":
            assert params["InstanceIds"] == '["i-1", "i-2"]'
            return ok({"NextToken": "", "Instances": {"Instance": [{"InstanceId": "i-1"}]}})
        raise AssertionError(action)

    responses.add_callback(responses.POST, ANY, callback=answer)
    client = cloud()
    assert client.spot_advice("cn-hangzhou", ["ecs.g7.large", "ecs.c7.large"]) == {
        "ecs.g7.large": {"h": {"discount": 24.0, "rate": 12.5, "desc": "10-100%"}}, "ecs.c7.large": {}}
    assert client.stock("cn-hangzhou") == {"zones": {"h": "WithStock", "k": "WithoutStock"},
                                           "types": {"h": {"ecs.g7.large": "WithoutStock", "ecs.c7.large": "WithStock"},
                                                     "k": {}}}
    events = client.interruption_events(NOW - 900000, NOW)
    assert [(e["instance_id"], e["region_id"], e["time_ms"]) for e in events] == [
        ("i-1", "cn-hangzhou", NOW - 60000), ("i-2", "cn-beijing", NOW - 30000)]
    assert [i["InstanceId"] for i in client.instances_by_id("cn-hangzhou", ["i-2", "i-1", "i-1"])] == ["i-1"]


@responses.activate
def test_endpoint_override_with_scheme_and_region_placeholder(fake_sleep):
    hosts = []
    responses.add_callback(responses.POST, ANY, callback=lambda r: (hosts.append(r.url.split("/?")[0]) or
                                                                    ok({"NextToken": "", "Instances": {}})))
    cloud("http://ecs-internal.{region}.example:8080").describe_instances("cn-shanghai")
    cloud('{"ecs": "ecs-vpc.{region}.aliyuncs.com"}').describe_instances("cn-shanghai")
    assert hosts == ["http://ecs-internal.cn-shanghai.example:8080", "https://ecs-vpc.cn-shanghai.aliyuncs.com"]


@responses.activate
def test_secrets_never_leave_in_error_texts(fake_sleep):
    responses.add(responses.POST, ANY, status=400, json={"RequestId": "r", "Code": "SignatureDoesNotMatch",
                                                          "Message": "string to sign had %s in it" % SECRET})
    client = cloud(aliyun_security_token="sts-token-abcdef-123")
    with pytest.raises(aliyun.CloudError) as caught:
        client.describe_instances("cn-hangzhou")
    assert SECRET not in str(caught.value) and "***" in str(caught.value)
    assert redact.redact("token sts-token-abcdef-123") == "token ***"


def test_credentials_account_then_dff_env_then_chain(monkeypatch, tmp_path):
    account = options.parse_account({"aliyun_access_key_id": "LTAIa", "aliyun_access_key_secret": "acct-secret-1"})
    assert aliyun.credentials(account)[1] == "account"
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIenv", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "env-secret-9876"}
    kwargs, source = aliyun.credentials(options.parse_account({}), env.get)
    assert source == "DFF.ENV" and kwargs["access_key_id"] == "LTAIenv"
    assert redact.redact("env-secret-9876") == "***"

    # The credentials library reads its environment when imported: set what it read.
    from alibabacloud_credentials.utils import auth_util
    monkeypatch.setattr(auth_util, "environment_access_key_id", None)
    monkeypatch.setattr(auth_util, "environment_access_key_secret", None)
    monkeypatch.setattr(auth_util, "environment_ecs_metadata_disabled", "true")
    monkeypatch.setattr(auth_util, "environment_credentials_file", str(tmp_path / "none.ini"), raising=False)
    empty = cloud(aliyun_access_key_id="", aliyun_access_key_secret="")
    assert empty.unavailable.startswith("no Alibaba Cloud credentials: fill in aliyun_access_key_id")
    with pytest.raises(aliyun.CloudError) as caught:
        empty.describe_instances("cn-hangzhou")
    assert caught.value.code == "Unavailable" and empty.calls == {}

    monkeypatch.setattr(auth_util, "environment_access_key_id", "LTAIchain")
    monkeypatch.setattr(auth_util, "environment_access_key_secret", "chain-secret-5555")
    kwargs, source = aliyun.credentials(options.parse_account({}))
    assert source == "credentials chain" and "credential" in kwargs
    assert redact.redact("chain-secret-5555") == "***"
