"""The sandbox's ECS / CMS stand-ins, driven by the real Alibaba Cloud SDK over HTTP."""
import hashlib
import json
import types

import pytest
import requests
import responses
from alibabacloud_cms20190101 import models as cms_models
from alibabacloud_cms20190101.client import Client as CmsClient
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi import utils_models as open_api_models
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_openapi.utils import Utils as OpenApiUtils
from darabonba.exceptions import UnretryableException
from darabonba.policy.retry import RetryOptions
from darabonba.runtime import RuntimeOptions

from guance_monitor import clock
from guance_monitor_local import scenario as scenario_mod
from guance_monitor_local.sandbox import Sandbox
from guance_monitor_local.sandbox import http as sandbox_http
from guance_monitor_local.sandbox.aliyun import AliyunService, CmsService, EcsService

AK = "LTAIsandboxAccessKey"
SECRET = "sandbox-aliyun-secret"
RUN0 = "2026-03-10T12:00:00Z"
RUN1 = "2026-03-10T18:00:00Z"
NOW0 = clock.to_ms(clock.parse_time(RUN0))
HOUR = 3600 * 1000
DAY = 24 * HOUR
HZ = "cn-hangzhou"
BJ = "cn-beijing"


def _iso(ms):
    return clock.iso(clock.from_ms(ms))


def _instance(index):
    zone = "cn-hangzhou-i" if index % 2 == 0 else "cn-hangzhou-j"
    instance_type = "ecs.g6.large" if index % 2 == 0 else "ecs.c6.xlarge"
    locks = [{"LockReason": "Recycling", "LockMsg": "spot pending release"}] if index in (3, 9) else []
    return {
        "InstanceId": "i-hz%02d" % index,
        "InstanceName": ("web-%02d" if index < 12 else "db-%02d") % index,
        "RegionId": HZ,
        "ZoneId": zone,
        "InstanceType": instance_type,
        "InstanceTypeFamily": _family(instance_type),
        "Cpu": 2 if index % 2 == 0 else 4,
        "Memory": 8192,
        "Status": "Stopped" if index % 5 == 4 else "Running",
        "InstanceChargeType": "PrePaid" if index == 7 else "PostPaid",
        "SpotStrategy": "SpotAsPriceGo" if index % 3 == 0 else "NoSpot",
        "SpotPriceLimit": 0.0,
        "SpotDuration": 1,
        "OperationLocks": {"LockReason": locks},
        "VpcAttributes": {"VpcId": "vpc-a" if index < 20 else "vpc-b",
                          "VSwitchId": "vsw-i" if index % 2 == 0 else "vsw-j",
                          "PrivateIpAddress": {"IpAddress": ["10.0.0.%d" % index]}},
        "Tags": {"Tag": [{"TagKey": "env", "TagValue": "prod" if index < 10 else "dev"}]
                 + ([{"TagKey": "team", "TagValue": "a"}] if index % 2 else [])},
        "CreationTime": "2026-03-01T00:00Z",
        "_note": "sandbox-only",
    }


def _family(instance_type):
    return ".".join(instance_type.split(".")[:2])


def _prices():
    points = []
    start = NOW0 - 31 * DAY
    for zone in ("cn-hangzhou-i", "cn-hangzhou-j"):
        at = start
        while at <= NOW0 + 3 * HOUR:     # three hourly points after run 0: not yet visible then
            points.append({"ZoneId": zone, "InstanceType": "ecs.g6.large", "NetworkType": "vpc",
                           "IoOptimized": "optimized", "SpotPrice": 0.1 + (at // HOUR % 7) / 100.0,
                           "OriginPrice": 0.9, "Timestamp": _iso(at)})
            at += HOUR
    for os_type, price in (("linux", 0.2), ("windows", 0.4)):
        points.append({"ZoneId": "cn-hangzhou-i", "InstanceType": "ecs.c6.xlarge", "NetworkType": "vpc",
                       "IoOptimized": "optimized", "SpotPrice": price, "OriginPrice": 1.2,
                       "Timestamp": _iso(NOW0 - HOUR), "_os_type": os_type, "_spot_duration": 1})
    points.append({"ZoneId": "cn-hangzhou-j", "InstanceType": "ecs.c6.xlarge", "NetworkType": "vpc",
                   "IoOptimized": "none", "SpotPrice": 0.3, "OriginPrice": 1.2, "Timestamp": _iso(NOW0 - HOUR),
                   "_spot_duration": 0})
    return points


def _advice():
    return [
        {"ZoneId": "cn-hangzhou-i", "AvailableSpotResources": {"AvailableSpotResource": [
            {"InstanceType": "ecs.g6.large", "AverageSpotDiscount": 20, "InterruptionRate": 1.5,
             "InterruptRateDesc": "0-3%", "_cores": 2, "_memory": 8, "_family_level": "EnterpriseLevel"},
            {"InstanceType": "ecs.c6.xlarge", "AverageSpotDiscount": 25, "InterruptionRate": 4.0,
             "InterruptRateDesc": "3-5%", "_cores": 4, "_memory": 8, "_family_level": "EnterpriseLevel"},
            {"InstanceType": "ecs.t6-c1m2.large", "AverageSpotDiscount": 30, "InterruptionRate": 12.0,
             "InterruptRateDesc": "10-100%", "_cores": 2, "_memory": 4, "_family_level": "CreditEntryLevel",
             "_family": "ecs.t6"},
        ]}},
        {"ZoneId": "cn-hangzhou-j", "AvailableSpotResources": {"AvailableSpotResource": [
            {"InstanceType": "ecs.g6.large", "AverageSpotDiscount": 18, "InterruptionRate": 6.0,
             "InterruptRateDesc": "5-10%", "_cores": 2, "_memory": 8, "_family_level": "EnterpriseLevel"},
        ]}},
        {"ZoneId": "cn-hangzhou-k", "AvailableSpotResources": {"AvailableSpotResource": []}},
    ]


def _available():
    def supported(value, status="Available", category="WithStock", **extra):
        entry = {"Value": value, "Status": status, "StatusCategory": category}
        entry.update(extra)
        return entry

    return [
        {"ZoneId": "cn-hangzhou-i", "Status": "Available", "StatusCategory": "WithStock",
         "_spot_strategy": ["SpotAsPriceGo", "SpotWithPriceLimit", "NoSpot"],
         "AvailableResources": {"AvailableResource": [
             {"Type": "InstanceType", "SupportedResources": {"SupportedResource": [
                 supported("ecs.g6.large"),
                 supported("ecs.c6.xlarge", "SoldOut", "WithoutStock"),
                 supported("ecs.g6.xlarge", _spot_strategy="NoSpot"),
             ]}},
             {"Type": "SystemDisk", "SupportedResources": {"SupportedResource": [
                 supported("cloud_essd", Min=20, Max=2048, Unit="GiB")]}},
         ]}},
        {"ZoneId": "cn-hangzhou-j", "Status": "Available", "StatusCategory": "WithStock",
         "AvailableResources": {"AvailableResource": [
             {"Type": "InstanceType", "SupportedResources": {"SupportedResource": [supported("ecs.g6.large")]}},
         ]}},
        {"ZoneId": "cn-hangzhou-k", "Status": "SoldOut", "StatusCategory": "WithoutStock",
         "AvailableResources": {"AvailableResource": []}},
    ]


def _event(index, name, at_ms, region=HZ, **extra):
    event = {"Id": "evt-%d" % index, "Product": "ECS", "Name": name, "Level": "WARN", "Status": "Normal",
             "Time": at_ms, "GroupId": "0", "RegionId": region,
             "ResourceId": "acs:ecs:%s:1234:instance/i-hz%02d" % (region, index),
             "InstanceName": "web-%02d" % index,
             "Content": json.dumps({"action": "delete", "instanceId": "i-hz%02d" % index}),
             "_event_type": "StatusNotification"}
    event.update(extra)
    return event


def _events():
    spot = "Instance:PreemptibleInstanceInterruption"
    events = [_event(i, spot, NOW0 - (i + 1) * 10 * 60 * 1000) for i in range(14)]
    events.append(_event(30, "Instance:SystemMaintenance.Reboot", NOW0 - 5 * HOUR, Level="CRITICAL",
                         _event_type="Maintenance", Content={"instanceId": "i-hz30", "action": "reboot"}))
    events.append(_event(31, spot, NOW0 + HOUR))                     # after run 0: invisible then
    events.append(_event(32, spot, RUN0, _visible_until=RUN0))       # withdrawn before run 0
    events.append(_event(33, "Disk:Stalled", NOW0 - 2 * HOUR, Product="EBS", Level="INFO", Status="Resolved",
                         GroupId="42"))
    return events


def scenario_data():
    instances = [_instance(i) for i in range(25)]
    released = _instance(40)
    released.update(InstanceId="i-released", _visible_until="2026-03-10T15:00:00Z")
    born = _instance(41)
    born.update(InstanceId="i-born", _visible_from=RUN1)
    return {
        "name": "aliyun emulator",
        "runs": [RUN0, RUN1],
        "aliyun": {
            HZ: {"instances": instances + [released, born], "spot_price_history": _prices(),
                 "spot_advice": _advice(), "available_resource": _available(), "system_events": _events()},
            BJ: {"_currency": "USD", "_zones": ["cn-beijing-h"],
                 "instances": [dict(_instance(50), InstanceId="i-bj50", RegionId=BJ, ZoneId="cn-beijing-h")],
                 "spot_price_history": [{"ZoneId": "cn-beijing-h", "InstanceType": "ecs.g6.large",
                                         "NetworkType": "vpc", "IoOptimized": "optimized", "SpotPrice": 0.02,
                                         "OriginPrice": 0.13, "Timestamp": _iso(NOW0 - HOUR)}],
                 "system_events": [_event(60, "Instance:PreemptibleInstanceInterruption", NOW0 - 15 * 60 * 1000,
                                          region=BJ)]},
        },
        "sandbox": {"aliyun_access_key_id": AK, "aliyun_access_key_secret": SECRET},
    }


@pytest.fixture(autouse=True)
def _environment(monkeypatch):
    monkeypatch.setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def scenario():
    return scenario_mod.from_dict(scenario_data())


@pytest.fixture
def sandbox(scenario):
    box = Sandbox(scenario, services=[])       # no Guance service: these tests need only ECS / CMS
    box.services = AliyunService.for_sandbox(box)
    box.start()
    box.set_run(0)
    yield box
    box.stop()


def _config(sandbox, key_id=AK, secret=SECRET, **extra):
    return Config(access_key_id=key_id, access_key_secret=secret, endpoint=sandbox.endpoint, protocol="http",
                  region_id=HZ, read_timeout=5000, connect_timeout=2000, **extra)


@pytest.fixture
def ecs(sandbox):
    return EcsClient(_config(sandbox))


@pytest.fixture
def cms(sandbox):
    return CmsClient(_config(sandbox))


def _instances(ecs, **kwargs):
    kwargs.setdefault("region_id", HZ)
    return ecs.describe_instances(ecs_models.DescribeInstancesRequest(**kwargs)).body


def _ids(body):
    return [i.instance_id for i in body.instances.instance]


def _visible_hz(predicate=lambda i: True):
    return [i["InstanceId"] for i in scenario_data()["aliyun"][HZ]["instances"]
            if i["InstanceId"] != "i-born" and predicate(i)]


# -- signatures ----------------------------------------------------------------------------


def test_signed_request_is_accepted_and_answered_in_api_shape(sandbox, ecs):
    response = ecs.describe_instances(ecs_models.DescribeInstancesRequest(region_id=HZ))
    assert response.status_code == 200
    raw = response.body.to_map()
    assert raw["RequestId"] and response.headers["x-acs-request-id"] == raw["RequestId"]
    assert raw["TotalCount"] == 26 and raw["PageNumber"] == 1 and raw["PageSize"] == 10 and raw["NextToken"] == ""
    first = raw["Instances"]["Instance"][0]
    assert first["OperationLocks"] == {"LockReason": []}
    assert "_note" not in first and first["InstanceId"] == "i-hz00"
    call = dict(sandbox.calls[-1])
    assert isinstance(call.pop("at_ms"), int)
    assert call == {"service": "ecs", "action": "DescribeInstances", "status": 200, "region": HZ, "run": 0}


def test_wrong_secret_is_rejected_without_leaking_the_secret(sandbox):
    client = EcsClient(_config(sandbox, secret="not-the-secret"))
    with pytest.raises(ClientException) as caught:
        client.describe_instances(ecs_models.DescribeInstancesRequest(region_id=HZ))
    exc = caught.value
    assert exc.code == "SignatureDoesNotMatch" and exc.status_code == 400
    assert exc.request_id and exc.data["RequestId"] == exc.request_id
    for text in (str(exc), exc.message, json.dumps(exc.data)):
        assert SECRET not in text and "not-the-secret" not in text
    assert sandbox.calls[-1]["status"] == 400


def test_unknown_access_key_id(sandbox):
    client = EcsClient(_config(sandbox, key_id="LTAIsomeoneElse"))
    with pytest.raises(ClientException) as caught:
        client.describe_instances(ecs_models.DescribeInstancesRequest(region_id=HZ))
    assert caught.value.code == "InvalidAccessKeyId.NotFound" and caught.value.status_code == 404


def test_legacy_v2_signature_is_refused_naming_acs3(sandbox):
    client = EcsClient(_config(sandbox, signature_algorithm="v2"))
    with pytest.raises(ClientException) as caught:
        client.describe_instances(ecs_models.DescribeInstancesRequest(region_id=HZ))
    assert caught.value.code == "InvalidSignatureMethod" and caught.value.status_code == 400
    assert "ACS3-HMAC-SHA256" in caught.value.message


def _signed(sandbox, action="DescribeInstances", query=None, body=b"", version="2014-05-26", secret=SECRET,
            extra_headers=None, nonce="nonce-1"):
    """A request signed by the SDK's own signer (``Utils.get_authorization``)."""
    query = dict(query if query is not None else {"RegionId": HZ})
    headers = {"host": sandbox.endpoint, "x-acs-action": action, "x-acs-version": version,
               "x-acs-date": "2026-03-10T12:00:00Z", "x-acs-signature-nonce": nonce,
               "accept": "application/json", "x-acs-content-sha256": hashlib.sha256(body).hexdigest()}
    headers.update(extra_headers or {})
    fake = types.SimpleNamespace(pathname="/", query=query, headers=headers, method="POST")
    headers["Authorization"] = OpenApiUtils.get_authorization(fake, "ACS3-HMAC-SHA256",
                                                              headers["x-acs-content-sha256"], AK, secret)
    return query, headers


def _post(sandbox, query, headers, body=b""):
    return requests.post(sandbox.url + "/", params=query, headers=headers, data=body, timeout=5)


def test_raw_signature_checks(sandbox):
    query, headers = _signed(sandbox)
    assert _post(sandbox, query, headers).status_code == 200
    replay = _post(sandbox, query, headers)                          # same nonce again
    assert (replay.status_code, replay.json()["Code"]) == (400, "SignatureNonceUsed")

    query, headers = _signed(sandbox, nonce="nonce-2")
    tampered = dict(query, RegionId=BJ)
    answer = _post(sandbox, tampered, headers)
    assert (answer.status_code, answer.json()["Code"]) == (400, "SignatureDoesNotMatch")

    query, headers = _signed(sandbox, nonce="nonce-3")              # body does not match x-acs-content-sha256
    answer = _post(sandbox, query, headers, body=b"RegionId=cn-beijing")
    assert (answer.status_code, answer.json()["Code"]) == (400, "SignatureDoesNotMatch")

    query, headers = _signed(sandbox, nonce="nonce-4")              # an x-acs header added after signing
    headers["x-acs-extra"] = "1"
    answer = _post(sandbox, query, headers)
    assert (answer.status_code, answer.json()["Code"]) == (400, "IncompleteSignature")

    query, headers = _signed(sandbox, nonce="nonce-5")
    del headers["Authorization"]
    answer = _post(sandbox, query, headers)
    body = answer.json()
    assert (answer.status_code, body["Code"]) == (400, "IncompleteSignature")
    assert "ACS3-HMAC-SHA256" in body["Message"]
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert body["HostId"] == sandbox.endpoint and "IncompleteSignature" in body["Recommend"]

    query, headers = _signed(sandbox, nonce="nonce-6")
    headers["Authorization"] = headers["Authorization"].replace("ACS3-HMAC-SHA256", "ACS3-HMAC-SM3")
    answer = _post(sandbox, query, headers)
    assert (answer.status_code, answer.json()["Code"]) == (400, "InvalidSignatureMethod")


def test_unknown_action(sandbox):
    client = EcsClient(_config(sandbox))
    params = open_api_models.Params(action="DescribeNothing", version="2014-05-26", protocol="HTTPS", pathname="/",
                                    method="POST", auth_type="AK", style="RPC", req_body_type="formData",
                                    body_type="json")
    request = open_api_models.OpenApiRequest(query={"RegionId": HZ})
    with pytest.raises(ClientException) as caught:
        client.call_api(params, request, RuntimeOptions())
    assert caught.value.code == "InvalidAction.NotFound" and caught.value.status_code == 404


# -- DescribeInstances ---------------------------------------------------------------------


def test_describe_instances_filters(ecs):
    tag = ecs_models.DescribeInstancesRequestTag
    cases = [
        (dict(zone_id="cn-hangzhou-j"), lambda i: i["ZoneId"] == "cn-hangzhou-j"),
        (dict(instance_ids=json.dumps(["i-hz01", "i-hz05", "i-nope"])), lambda i: i["InstanceId"] in ("i-hz01",
                                                                                                       "i-hz05")),
        (dict(instance_ids="[]"), lambda i: False),
        (dict(instance_type="ecs.c6.xlarge"), lambda i: i["InstanceType"] == "ecs.c6.xlarge"),
        (dict(instance_type_family="ecs.g6"), lambda i: i["InstanceType"].startswith("ecs.g6.")),
        (dict(instance_charge_type="PrePaid"), lambda i: i["InstanceChargeType"] == "PrePaid"),
        (dict(status="Stopped"), lambda i: i["Status"] == "Stopped"),
        (dict(lock_reason="Recycling"), lambda i: i["InstanceId"] in ("i-hz03", "i-hz09")),
        (dict(instance_name="web-*"), lambda i: i["InstanceName"].startswith("web-")),
        (dict(instance_name="*-1*"), lambda i: "-1" in i["InstanceName"]),
        (dict(instance_name="db-13"), lambda i: i["InstanceName"] == "db-13"),
        (dict(tag=[tag(key="env", value="prod")]), lambda i: i["Tags"]["Tag"][0]["TagValue"] == "prod"),
        (dict(tag=[tag(key="env", value="dev"), tag(key="team")]),
         lambda i: i["Tags"]["Tag"][0]["TagValue"] == "dev" and len(i["Tags"]["Tag"]) == 2),
        (dict(vpc_id="vpc-b"), lambda i: i["VpcAttributes"]["VpcId"] == "vpc-b"),
        (dict(v_switch_id="vsw-j", status="Running"),
         lambda i: i["VpcAttributes"]["VSwitchId"] == "vsw-j" and i["Status"] == "Running"),
    ]
    for kwargs, predicate in cases:
        body = _instances(ecs, max_results=100, **kwargs)
        assert _ids(body) == _visible_hz(predicate), kwargs
        assert body.total_count == len(_visible_hz(predicate))


def test_describe_instances_invalid_filters(ecs):
    for kwargs, status, code in [
        (dict(status="Broken"), 404, "InvalidStatus.NotFound"),
        (dict(lock_reason="nope"), 404, "InvalidLockReason.NotFound"),
        (dict(instance_charge_type="Free"), 404, "InvalidInstanceChargeType.NotFound"),
        (dict(instance_ids="i-hz01"), 400, "InvalidParameter"),
        (dict(instance_ids=json.dumps(["i-%d" % n for n in range(101)])), 400, "InvalidParameter"),
        (dict(tag=[ecs_models.DescribeInstancesRequestTag(value="prod")]), 400, "InvalidTag.Mismatch"),
        (dict(page_size=101), 400, "InvalidParameter"),
        (dict(next_token="not-a-token"), 400, "InvalidParameter"),
        (dict(dry_run=True), 400, "DryRunOperation"),
    ]:
        with pytest.raises(ClientException) as caught:
            _instances(ecs, **kwargs)
        assert (caught.value.status_code, caught.value.code) == (status, code), kwargs


def test_describe_instances_next_token_paging(ecs):
    seen, token, pages = [], None, 0
    while True:
        body = _instances(ecs, max_results=10, next_token=token)
        pages += 1
        assert len(body.instances.instance) <= 10 and body.total_count == 26
        seen += _ids(body)
        token = body.next_token
        if not token:
            break
        assert len(token) == 32
    assert pages == 3 and seen == _visible_hz()
    # MaxResults below 10 counts as 10, above 100 as 100 (the SDK model's documented behaviour).
    assert len(_instances(ecs, max_results=3).instances.instance) == 10
    assert len(_instances(ecs, max_results=500).instances.instance) == 26
    # A token is bound to the filters it was issued for.
    token = _instances(ecs, max_results=10).next_token
    with pytest.raises(ClientException) as caught:
        _instances(ecs, max_results=10, next_token=token, zone_id="cn-hangzhou-i")
    assert caught.value.code == "InvalidParameter" and "NextToken" in caught.value.message


def test_describe_instances_page_number_paging(ecs):
    seen, number = [], 1
    while True:
        body = _instances(ecs, page_number=number, page_size=7, status="Running")
        assert (body.page_number, body.page_size, body.next_token) == (number, 7, "")
        if not body.instances.instance:
            break
        seen += _ids(body)
        number += 1
    expected = _visible_hz(lambda i: i["Status"] == "Running")
    assert seen == expected and body.total_count == len(expected) and number == 4


def test_visibility_follows_the_scenario_timeline(sandbox, ecs):
    ids0 = _ids(_instances(ecs, max_results=100))
    assert "i-released" in ids0 and "i-born" not in ids0
    sandbox.set_run(1)
    ids1 = _ids(_instances(ecs, max_results=100))
    assert "i-released" not in ids1 and "i-born" in ids1
    assert sandbox.calls[-1]["run"] == 1


def test_unknown_region_uses_each_apis_code(ecs):
    calls = [
        (lambda: _instances(ecs, region_id="cn-nowhere"), 404, "InvalidRegionId.NotFound"),
        (lambda: ecs.describe_spot_price_history(ecs_models.DescribeSpotPriceHistoryRequest(
            region_id="cn-nowhere", network_type="vpc", instance_type="ecs.g6.large")), 400,
         "InvalidParams.RegionId"),
        (lambda: ecs.describe_spot_advice(ecs_models.DescribeSpotAdviceRequest(region_id="cn-nowhere")), 404,
         "Invalid.RegionId"),
        (lambda: ecs.describe_available_resource(ecs_models.DescribeAvailableResourceRequest(
            region_id="cn-nowhere", destination_resource="InstanceType")), 404, "Invalid.RegionId"),
    ]
    for call, status, code in calls:
        with pytest.raises(ClientException) as caught:
            call()
        assert (caught.value.status_code, caught.value.code) == (status, code)
        assert "RegionId" in caught.value.message


def test_missing_parameters(ecs):
    sph = ecs_models.DescribeSpotPriceHistoryRequest
    calls = [
        (lambda: ecs.describe_instances(ecs_models.DescribeInstancesRequest()), "MissingRegionId", "RegionId"),
        (lambda: ecs.describe_spot_price_history(sph(region_id=HZ, network_type="vpc")), "MissingInstanceType",
         "InstanceType"),
        (lambda: ecs.describe_spot_price_history(sph(region_id=HZ, instance_type="ecs.g6.large")),
         "MissingNetworkType", "NetworkType"),
        (lambda: ecs.describe_available_resource(ecs_models.DescribeAvailableResourceRequest(region_id=HZ)),
         "Invalid.Param", "DestinationResource"),
    ]
    for call, code, name in calls:
        with pytest.raises(ClientException) as caught:
            call()
        assert (caught.value.status_code, caught.value.code) == (400, code)
        assert name in caught.value.message


# -- DescribeSpotPriceHistory --------------------------------------------------------------


def _history(ecs, **kwargs):
    kwargs.setdefault("region_id", HZ)
    kwargs.setdefault("network_type", "vpc")
    kwargs.setdefault("instance_type", "ecs.g6.large")
    return ecs.describe_spot_price_history(ecs_models.DescribeSpotPriceHistoryRequest(**kwargs)).body


def _expected_points(start_ms, end_ms, zone=None, instance_type="ecs.g6.large"):
    points = [p for p in _prices() if p["InstanceType"] == instance_type and (zone is None or p["ZoneId"] == zone)
              and start_ms <= clock.to_ms(clock.parse_time(p["Timestamp"])) <= min(end_ms, NOW0)]
    points.sort(key=lambda p: (clock.to_ms(clock.parse_time(p["Timestamp"])), p["ZoneId"]))
    return [public_point(p) for p in points]


def public_point(point):
    return dict((k, v) for k, v in point.items() if not k.startswith("_"))


def test_spot_price_history_default_window(ecs):
    body = _history(ecs)
    raw = body.to_map()
    assert raw["Currency"] == "CNY" and raw["NextOffset"] == 0 and raw["RequestId"]
    points = raw["SpotPrices"]["SpotPriceType"]
    assert points == _expected_points(NOW0 - 3 * HOUR, NOW0)
    assert len(points) == 8                                    # 4 hourly points x 2 zones, none after now
    assert body.spot_prices.spot_price_type[0].spot_price == points[0]["SpotPrice"]


def test_spot_price_history_offset_paging_over_30_days(ecs):
    end = NOW0 + 2 * HOUR                                    # an EndTime after now is accepted
    start = end - 30 * DAY                                   # the longest span allowed
    collected, offset, pages = [], None, []
    while True:
        raw = _history(ecs, start_time=_iso(start), end_time=_iso(end), offset=offset).to_map()
        page = raw["SpotPrices"]["SpotPriceType"]
        pages.append((offset, len(page), raw["NextOffset"]))
        collected += page
        if raw["NextOffset"] == 0:
            break
        offset = raw["NextOffset"]
    expected = _expected_points(start, end)
    assert len(expected) == 2 * (30 * 24 - 1)
    assert collected == expected
    assert pages == [(None, 1000, 1000), (1000, len(expected) - 1000, 0)]
    stamps = [p["Timestamp"] for p in collected]
    assert stamps == sorted(stamps)                          # ascending time
    beyond = _history(ecs, start_time=_iso(start), end_time=_iso(end), offset=5000).to_map()
    assert beyond["SpotPrices"]["SpotPriceType"] == [] and beyond["NextOffset"] == 0


def test_spot_price_history_filters_and_currency(ecs):
    window = dict(start_time=_iso(NOW0 - 2 * HOUR), end_time=_iso(NOW0))
    zone = _history(ecs, zone_id="cn-hangzhou-j", **window).to_map()["SpotPrices"]["SpotPriceType"]
    assert zone == _expected_points(NOW0 - 2 * HOUR, NOW0, zone="cn-hangzhou-j") and len(zone) == 3

    def prices(**kwargs):
        raw = _history(ecs, instance_type="ecs.c6.xlarge", **dict(window, **kwargs)).to_map()
        return sorted(p["SpotPrice"] for p in raw["SpotPrices"]["SpotPriceType"])

    assert prices() == [0.2, 0.3, 0.4]
    assert prices(ostype="windows") == [0.3, 0.4]            # the zone-j point carries no OS: it matches any
    assert prices(io_optimized="none") == [0.3]
    assert prices(spot_duration=0) == [0.3]
    assert prices(spot_duration=1, ostype="linux") == [0.2]
    for point in _history(ecs, instance_type="ecs.c6.xlarge", **window).to_map()["SpotPrices"]["SpotPriceType"]:
        assert not any(key.startswith("_") for key in point)

    beijing = _history(ecs, region_id=BJ).to_map()
    assert beijing["Currency"] == "USD" and len(beijing["SpotPrices"]["SpotPriceType"]) == 1
    assert _history(ecs, region_id=BJ, zone_id="cn-beijing-h").to_map()["SpotPrices"]["SpotPriceType"]


def test_spot_price_history_errors(ecs):
    for kwargs, code in [
        (dict(start_time="2026-03-10 08:00:00"), "InvalidParams.StartTime"),
        (dict(end_time="2026-03-10T08:00Z"), "InvalidParams.EndTime"),
        (dict(start_time=_iso(NOW0 - 31 * DAY), end_time=_iso(NOW0)), "InvalidParams.StartTime"),
        (dict(start_time=_iso(NOW0), end_time=_iso(NOW0 - HOUR)), "InvalidParams.StartTime"),
        (dict(network_type="wired"), "InvalidParams.NetworkType"),
        (dict(ostype="beos"), "InvalidParams.OSType"),
        (dict(io_optimized="maybe"), "InvalidParams.IoOptimized"),
        (dict(spot_duration=9), "InvalidSpotDuration"),
        (dict(offset=-1), "InvalidParams.Offset"),
        (dict(zone_id="cn-hangzhou-z"), "InvalidZoneId.NotFound"),
    ]:
        with pytest.raises(ClientException) as caught:
            _history(ecs, **kwargs)
        assert (caught.value.status_code, caught.value.code) == (400, code), kwargs


# -- DescribeSpotAdvice --------------------------------------------------------------------


def _advice_map(ecs, **kwargs):
    kwargs.setdefault("region_id", HZ)
    raw = ecs.describe_spot_advice(ecs_models.DescribeSpotAdviceRequest(**kwargs)).body.to_map()
    assert raw["RegionId"] == kwargs["region_id"] and raw["RequestId"]
    return dict((zone["ZoneId"], [r["InstanceType"] for r in zone["AvailableSpotResources"]["AvailableSpotResource"]])
                for zone in raw["AvailableSpotZones"]["AvailableSpotZone"])


def test_spot_advice_filters(ecs):
    everything = {"cn-hangzhou-i": ["ecs.g6.large", "ecs.c6.xlarge", "ecs.t6-c1m2.large"],
                  "cn-hangzhou-j": ["ecs.g6.large"]}                  # zone k has no resources: left out
    assert _advice_map(ecs) == everything
    assert _advice_map(ecs, instance_types=["ecs.c6.xlarge"]) == {"cn-hangzhou-i": ["ecs.c6.xlarge"]}
    assert _advice_map(ecs, instance_types=["ecs.g6.large"], zone_id="cn-hangzhou-j") == {
        "cn-hangzhou-j": ["ecs.g6.large"]}
    assert _advice_map(ecs, cores=2, memory=8.0) == {"cn-hangzhou-i": ["ecs.g6.large"],
                                                     "cn-hangzhou-j": ["ecs.g6.large"]}
    assert _advice_map(ecs, min_cores=4, min_memory=8.0) == {"cn-hangzhou-i": ["ecs.c6.xlarge"]}
    assert _advice_map(ecs, min_cores=2, min_memory=4.0, instance_family_level="CreditEntryLevel") == {
        "cn-hangzhou-i": ["ecs.t6-c1m2.large"]}
    assert _advice_map(ecs, min_cores=1, min_memory=1.0, instance_type_family="ecs.c6") == {
        "cn-hangzhou-i": ["ecs.c6.xlarge"]}
    assert _advice_map(ecs, instance_types=["ecs.nope.large"]) == {}

    raw = ecs.describe_spot_advice(ecs_models.DescribeSpotAdviceRequest(region_id=HZ)).body.to_map()
    resource = raw["AvailableSpotZones"]["AvailableSpotZone"][0]["AvailableSpotResources"]["AvailableSpotResource"][0]
    assert resource == {"InstanceType": "ecs.g6.large", "AverageSpotDiscount": 20, "InterruptionRate": 1.5,
                        "InterruptRateDesc": "0-3%"}
    with pytest.raises(ClientException) as caught:
        _advice_map(ecs, instance_types=["ecs.t%d.large" % n for n in range(11)])
    assert (caught.value.status_code, caught.value.code) == (400, "InvalidParameter")


# -- DescribeAvailableResource -------------------------------------------------------------


def _available_map(ecs, **kwargs):
    kwargs.setdefault("region_id", HZ)
    raw = ecs.describe_available_resource(ecs_models.DescribeAvailableResourceRequest(**kwargs)).body.to_map()
    out = {}
    for zone in raw["AvailableZones"]["AvailableZone"]:
        assert zone["RegionId"] == HZ and not any(key.startswith("_") for key in zone)
        values = []
        for resource in zone["AvailableResources"]["AvailableResource"]:
            for supported in resource["SupportedResources"]["SupportedResource"]:
                assert not any(key.startswith("_") for key in supported)
                values.append((resource["Type"], supported["Value"], supported.get("Status")))
        out[zone["ZoneId"]] = values
    return out


def test_available_resource(ecs):
    spot = dict(destination_resource="InstanceType", instance_charge_type="PostPaid", spot_strategy="SpotAsPriceGo",
                io_optimized="optimized", network_category="vpc")
    assert _available_map(ecs, **spot) == {
        "cn-hangzhou-i": [("InstanceType", "ecs.g6.large", "Available"),
                          ("InstanceType", "ecs.c6.xlarge", "SoldOut")],      # g6.xlarge: NoSpot only
        "cn-hangzhou-j": [("InstanceType", "ecs.g6.large", "Available")],
        "cn-hangzhou-k": [],                                                 # sold out: stays, empty
    }
    assert _available_map(ecs, instance_type="ecs.c6.xlarge", **spot) == {
        "cn-hangzhou-i": [("InstanceType", "ecs.c6.xlarge", "SoldOut")], "cn-hangzhou-k": []}
    assert _available_map(ecs, destination_resource="InstanceType", zone_id="cn-hangzhou-i")["cn-hangzhou-i"] == [
        ("InstanceType", "ecs.g6.large", "Available"), ("InstanceType", "ecs.c6.xlarge", "SoldOut"),
        ("InstanceType", "ecs.g6.xlarge", "Available")]                     # default SpotStrategy: NoSpot
    assert _available_map(ecs, destination_resource="Zone", instance_type="ecs.g6.large",
                          spot_strategy="SpotWithPriceLimit", cores=2, memory=8.0) == {
        "cn-hangzhou-i": [("Zone", "cn-hangzhou-i", "Available")],
        "cn-hangzhou-j": [("Zone", "cn-hangzhou-j", "Available")],
        "cn-hangzhou-k": []}
    assert _available_map(ecs, destination_resource="SystemDisk") == {
        "cn-hangzhou-i": [("SystemDisk", "cloud_essd", "Available")], "cn-hangzhou-k": []}
    for kwargs, status, code in [
        (dict(destination_resource="Planet"), 404, "Invalid.DestinationResource"),
        (dict(destination_resource="InstanceType", spot_strategy="Cheap"), 404, "Invalid.SpotStrategy"),
        (dict(destination_resource="InstanceType", instance_charge_type="Free"), 400,
         "Invalid.InstanceChargeType"),
    ]:
        with pytest.raises(ClientException) as caught:
            _available_map(ecs, **kwargs)
        assert (caught.value.status_code, caught.value.code) == (status, code)


# -- CMS DescribeSystemEventAttribute ------------------------------------------------------


def _system_events(cms, **kwargs):
    raw = cms.describe_system_event_attribute(
        cms_models.DescribeSystemEventAttributeRequest(**kwargs)).body.to_map()
    assert (raw["Code"], raw["Success"], raw["Message"]) == ("200", "true", "success") and raw["RequestId"]
    return raw["SystemEvents"]["SystemEvent"]


def test_cms_system_events_filters(sandbox, cms):
    spot = dict(product="ECS", event_type="StatusNotification", name="Instance:PreemptibleInstanceInterruption")
    events = _system_events(cms, page_size=100, **spot)
    assert [e["Id"] for e in events] == ["evt-0", "evt-60"] + ["evt-%d" % i for i in range(1, 14)]  # newest first
    assert all(isinstance(e["Time"], int) and e["Time"] <= NOW0 for e in events)
    assert json.loads(events[0]["Content"]) == {"action": "delete", "instanceId": "i-hz00"}
    assert not any(key.startswith("_") for e in events for key in e)
    assert sandbox.calls[-1]["service"] == "cms" and sandbox.calls[-1]["region"] is None

    ids = lambda **kw: [e["Id"] for e in _system_events(cms, page_size=100, **kw)]  # noqa: E731
    assert ids(level="critical") == ["evt-30"]
    maintenance = _system_events(cms, event_type="Maintenance")
    assert [e["Id"] for e in maintenance] == ["evt-30"] and maintenance[0]["Content"] == \
        '{"instanceId":"i-hz30","action":"reboot"}'
    assert ids(product="ebs", status="resolved", group_id="42") == ["evt-33"]
    assert ids(search_keywords="i-hz05 or i-hz07") == ["evt-5", "evt-7"]
    assert ids(search_keywords="delete and I-HZ13") == ["evt-13"]
    assert ids(start_time=str(NOW0 - 35 * 60 * 1000), end_time=str(NOW0 - 20 * 60 * 1000), **spot) == [
        "evt-1", "evt-2"]                                   # evt-60 (BJ, -15 min) is outside
    assert len(ids(region_id=BJ)) == 17          # the CMS SDK never sends RegionId: events of every region

    sandbox.set_run(1)
    assert "evt-31" in ids(**spot)


def test_cms_system_events_paging(cms):
    collected, number = [], 1
    while True:
        page = _system_events(cms, page_number=number, page_size=4)
        collected += [e["Id"] for e in page]
        if len(page) < 4:
            break
        number += 1
    assert number == 5 and len(collected) == len(set(collected)) == 17
    assert collected == [e["Id"] for e in _system_events(cms, page_size=100)]
    with pytest.raises(ClientException) as caught:
        _system_events(cms, page_size=101)
    assert (caught.value.status_code, caught.value.code) == (400, "InvalidParameter")


# -- injected faults -----------------------------------------------------------------------


def test_throttling_fault_raises_client_exception(sandbox, ecs):
    sandbox.faults.add(service="ecs", action="DescribeSpotPriceHistory", status=400, code="Throttling.User", times=1)
    with pytest.raises(ClientException) as caught:
        _history(ecs)
    exc = caught.value
    assert not isinstance(exc, ThrottlingException)
    assert (exc.code, exc.status_code) == ("Throttling.User", 400)
    assert "Request was denied due to user flow control." in exc.message
    assert _history(ecs).spot_prices.spot_price_type                  # times=1: the next call passes


def test_retry_after_raises_throttling_exception(sandbox, ecs):
    sandbox.faults.add(service="ecs", status=400, code="Throttling.User", retry_after=1.5, times=1)
    with pytest.raises(ThrottlingException) as caught:
        _instances(ecs)
    assert caught.value.retry_after == 1500 and caught.value.code == "Throttling.User"
    assert caught.value.status_code == 400


def test_server_error_fault_raises_server_exception(sandbox, cms):
    sandbox.faults.add(service="cms", status=503)
    with pytest.raises(ServerException) as caught:
        _system_events(cms)
    assert (caught.value.code, caught.value.status_code) == ("ServiceUnavailable", 503)
    assert sandbox.calls[-1]["status"] == 503


def test_sdk_retry_honours_retry_after(sandbox):
    sandbox.faults.add(service="ecs", status=429, retry_after=0.01, times=1)
    options = RetryOptions({"retryable": True, "retryCondition": [
        {"maxAttempts": 2, "errorCode": ["Throttling.User"], "backoff": {"policy": "Fixed", "period": 10}}]})
    client = EcsClient(_config(sandbox, retry_options=options))
    assert _instances(client).total_count == 26       # the retry carries x-acs-retry-* headers, signed
    assert [c["status"] for c in sandbox.calls] == [429, 200]


def test_dropped_connection_raises_network_error(sandbox, ecs):
    sandbox.faults.add(service="ecs", drop=True, times=1)
    with pytest.raises(UnretryableException) as caught:
        _instances(ecs)
    assert getattr(caught.value, "code", None) is None
    assert sandbox.calls[-1]["status"] == "dropped"


def test_error_renders_faults_in_the_api_format(scenario):
    service = EcsService(types.SimpleNamespace(scenario=scenario, now_ms=lambda: NOW0))
    request = sandbox_http.Request("POST", "/?RegionId=cn-hangzhou", {"Host": "ecs.example"}, b"")
    response = service.error(request, 400, "Throttling.User", retry_after=0.25)
    assert response.status == 400 and response.headers["x-acs-retry-after"] == "250"
    assert response.body["Code"] == "Throttling.User" and response.body["HostId"] == "ecs.example"
    assert response.headers["x-acs-request-id"] == response.body["RequestId"]
    assert service.error(request, 500).body["Code"] == "InternalError"
    assert "x-acs-retry-after" not in service.error(request, 503).headers
    assert SECRET not in json.dumps(service.error(request, 400, "X", "leak %s" % SECRET).body)
    cms = CmsService(types.SimpleNamespace(scenario=scenario, now_ms=lambda: NOW0))
    assert cms.identify(request) is None
    assert service.identify(sandbox_http.Request("POST", "/", {"x-acs-action": "DescribeInstances",
                                                               "x-acs-version": "2014-05-26"}, b"")) == \
        ("DescribeInstances", None)


# -- the SDK's request, without a server ---------------------------------------------------


@responses.activate
def test_sdk_request_for_spot_price_history_carries_the_parameters(scenario):
    answer = {"RequestId": "R-1", "Currency": "CNY", "NextOffset": 0, "SpotPrices": {"SpotPriceType": [
        {"ZoneId": "cn-hangzhou-i", "InstanceType": "ecs.g6.large", "SpotPrice": 0.1, "OriginPrice": 0.9,
         "Timestamp": "2026-03-10T11:00:00Z", "NetworkType": "vpc", "IoOptimized": "optimized"}]}}
    responses.add(responses.POST, "http://127.0.0.1:9/", json=answer)
    client = EcsClient(Config(access_key_id=AK, access_key_secret=SECRET, endpoint="127.0.0.1:9",
                              protocol="http", region_id=HZ))
    body = client.describe_spot_price_history(ecs_models.DescribeSpotPriceHistoryRequest(
        region_id=HZ, network_type="vpc", instance_type="ecs.g6.large", zone_id="cn-hangzhou-i",
        start_time="2026-03-10T09:00:00Z", end_time="2026-03-10T12:00:00Z", offset=1000, ostype="linux",
        spot_duration=1, io_optimized="optimized")).body
    assert body.spot_prices.spot_price_type[0].spot_price == 0.1

    assert len(responses.calls) == 1
    sent = responses.calls[0].request
    wire = sandbox_http.Request(sent.method, sent.path_url, dict(sent.headers), sent.body or b"")
    assert wire.method == "POST" and wire.path == "/" and wire.body == b""
    assert wire.query == {"RegionId": HZ, "NetworkType": "vpc", "InstanceType": "ecs.g6.large",
                          "ZoneId": "cn-hangzhou-i", "StartTime": "2026-03-10T09:00:00Z",
                          "EndTime": "2026-03-10T12:00:00Z", "Offset": "1000", "OSType": "linux",
                          "SpotDuration": "1", "IoOptimized": "optimized"}
    assert wire.header("x-acs-action") == "DescribeSpotPriceHistory" and wire.header("x-acs-version") == "2014-05-26"
    assert wire.header("x-acs-content-sha256") == hashlib.sha256(b"").hexdigest()
    assert wire.header("authorization").startswith("ACS3-HMAC-SHA256 Credential=%s," % AK)
    # ... and the emulator's verifier accepts exactly this request.
    service = EcsService(types.SimpleNamespace(scenario=scenario, now_ms=lambda: NOW0))
    assert service.identify(wire) == ("DescribeSpotPriceHistory", HZ)
    service.authenticate(wire)
