"""Spot inspection configs and account: what users can type, and the messages when it is wrong."""
import pytest

from guance_monitor import configs
from guance_monitor import redact
from guance_monitor_spot_alive import options


@pytest.mark.parametrize("value, share", [
    (0.3, 0.3), ("0.3", 0.3), ("30%", 0.3), (" 30% ", 0.3), (u"3折", 0.3), (u"3.5折", 0.35),
    (1, 1.0), ("100%", 1.0), (u"10折", 1.0), ("5%", 0.05),
])
def test_accepted_discount_forms(value, share):
    entry = options.SCHEMA.parse([{"spot_with_price_limit": value}])[0]
    assert entry["spot_with_price_limit"] == pytest.approx(share)


@pytest.mark.parametrize("value, hint", [
    (0, None), (-0.2, None), ("0%", None), (1.5, u'"1.5折" or 0.15'), (30, '"30%"'), ("30", '"30%"'),
    ("150%", None), (u"12折", None), ("cheap", None), (True, None), ("nan", None),
])
def test_bad_discount_is_named_with_the_value(value, hint):
    with pytest.raises(configs.ConfigError) as caught:
        options.SCHEMA.parse([{"instance_type": "ecs.g7.large"}, {"spot_with_price_limit": value}])
    text = str(caught.value)
    assert text.startswith("configs[1].spot_with_price_limit: expected the accepted share of the pay-as-you-go price")
    assert "got" in text
    if hint:
        assert "did you mean %s" % hint in text


def test_instance_types_wildcards_and_lists():
    entries = options.SCHEMA.parse('[{"instance_type": "ecs.g7.*"}, '
                                   '{"instance_type": ["ECS.c7.large", "ecs.c7.xlarge"]}]')
    assert entries[0]["instance_type"] == ["ecs.g7.*"]
    assert entries[1]["instance_type"] == ["ecs.c7.large", "ecs.c7.xlarge"]
    for bad in ("ecs g7", ["ecs.g7.large", 3], "*", "ecs.g7.large|x"):
        with pytest.raises(configs.ConfigError) as caught:
            options.SCHEMA.parse([{"instance_type": bad}])
        assert str(caught.value).startswith("configs[0].instance_type: expected an instance type such as")


def test_regions_tags_and_knobs():
    entry = options.SCHEMA.parse([{"regions": "cn-hangzhou", "tags": {"env": "prod"}, "price_margin": "5%",
                                   "history_days": 3, "group_threshold": 10}])[0]
    assert entry["regions"] == ["cn-hangzhou"] and entry["tags"] == {"env": "prod"}
    assert entry["price_margin"] == pytest.approx(0.05) and entry["history_days"] == 3
    assert entry["group_threshold"] == 10
    with pytest.raises(configs.ConfigError) as caught:
        options.SCHEMA.parse([{"regions": ["cn hangzhou"]}])
    assert str(caught.value).startswith("configs[0].regions: expected a region ID such as cn-hangzhou")
    with pytest.raises(configs.ConfigError) as caught:
        options.SCHEMA.parse([{"history_days": 60}])
    assert "configs[0].history_days: expected a number <= 30" in str(caught.value)
    with pytest.raises(configs.ConfigError) as caught:
        options.SCHEMA.parse([{"instance_typ": "ecs.g7.large"}])
    assert "unknown field 'instance_typ' (did you mean 'instance_type'?)" in str(caught.value)


def _instance(**overrides):
    base = {"instance_id": "i-1", "instance_type": "ecs.g7.large", "region_id": "cn-hangzhou",
            "tags": {"env": "prod"}}
    base.update(overrides)
    return base


def test_selection_first_entry_giving_a_setting_wins():
    selection = options.Selection(options.SCHEMA.parse([
        {"instance_type": "ecs.g7.large", "spot_with_price_limit": "30%"},
        {"instance_type": "ecs.g7.*", "spot_with_price_limit": "50%", "price_margin": "20%", "group_threshold": 3},
        {"regions": ["cn-beijing"], "history_days": 3},
    ]))
    g7 = selection.settings(_instance())
    assert g7["discount"] == pytest.approx(0.3) and g7["price_margin"] == pytest.approx(0.2)
    assert g7["group_threshold"] == 3 and g7["history_days"] == 7 and g7["entry"] == 0
    xlarge = selection.settings(_instance(instance_type="ecs.g7.xlarge"))
    assert xlarge["discount"] == pytest.approx(0.5) and xlarge["entry"] == 1
    other = _instance(instance_type="ecs.c7.large")
    assert not selection.selects(other)
    beijing = _instance(instance_type="ecs.c7.large", region_id="cn-beijing")
    assert selection.selects(beijing) and selection.settings(beijing)["history_days"] == 3
    assert selection.settings(beijing)["discount"] is None
    assert selection.regions() is None and selection.type_patterns() is None


def test_selection_without_configs_takes_everything_with_defaults():
    selection = options.Selection([])
    settings = selection.settings(_instance())
    assert selection.selects(_instance(instance_type="anything"))
    assert settings == {"discount": None, "price_margin": 0.1, "history_days": 7, "group_threshold": 5,
                        "entry": None}


def test_selection_tags_and_query_narrowing():
    selection = options.Selection(options.SCHEMA.parse([
        {"instance_type": ["ecs.g7.*", "ecs.c7.large"], "regions": ["cn-hangzhou"], "tags": {"env": "*"}},
    ]))
    assert selection.selects(_instance())
    assert not selection.selects(_instance(tags={}))
    assert selection.regions() == ["cn-hangzhou"]
    assert selection.type_patterns() == ["ecs.g7.*", "ecs.c7.large"]
    assert options.type_regex(["ecs.g7.*", "ecs.c7.large"]) == r"(ecs\.g7\..*|ecs\.c7\.large)"


def test_account_endpoints():
    parse = options.parse_endpoints
    assert parse("") == {} and parse(None) == {}
    assert parse("http://127.0.0.1:9000") == {"ecs": ("127.0.0.1:9000", "http"), "cms": ("127.0.0.1:9000", "http")}
    assert parse("127.0.0.1:9000")["ecs"] == ("127.0.0.1:9000", "http")     # the sandbox's host:port
    assert parse("ecs-vpc.{region}.aliyuncs.com")["ecs"] == ("ecs-vpc.{region}.aliyuncs.com", "https")
    assert parse('{"ecs": "ecs-vpc.cn-hangzhou.aliyuncs.com", "cms": "https://metrics.cn-hangzhou.aliyuncs.com/"}') \
        == {"ecs": ("ecs-vpc.cn-hangzhou.aliyuncs.com", "https"), "cms": ("metrics.cn-hangzhou.aliyuncs.com", "https")}
    assert parse({"ecs": "http://10.0.0.1:80", "cms": ""}) == {"ecs": ("10.0.0.1:80", "http")}
    for bad, text in [("ftp://x", "scheme 'ftp' not supported"), ('{"ecs": ', "not valid JSON"),
                      ({"rds": "x"}, "unknown product 'rds'"), ("http://host/path", "expected a host"),
                      (5, "expected a host, a URL")]:
        with pytest.raises(options.AccountError) as caught:
            parse(bad)
        assert "account.aliyun_endpoint" in str(caught.value) and text in str(caught.value)


def test_account_keys_and_secret_registration():
    account = options.parse_account({"aliyun_access_key_id": "LTAIkey", "aliyun_access_key_secret": "s3cr3t-value-1",
                                     "instance_source": "describe_instances", "regions": "cn-hangzhou, cn-beijing",
                                     "object_window": "1h"})
    assert account.instance_source == "describe_instances"
    assert account.regions == ["cn-hangzhou", "cn-beijing"] and account.object_window_s == 3600
    assert redact.redact("leak s3cr3t-value-1 here") == "leak *** here"
    for bad, text in [({"aliyun_access_key_id": "LTAIkey"}, "account.aliyun_access_key_secret: empty"),
                      ({"instance_source": "ecs"}, "account.instance_source: expected 'guance'"),
                      ({"regions": ["bad region"]}, "account.regions: expected a region ID"),
                      ({"object_window": "5s"}, "account.object_window: expected at least 1 minute"),
                      ({"aliyun_endpoint": "gopher://x"}, "account.aliyun_endpoint")]:
        with pytest.raises(options.AccountError) as caught:
            options.parse_account(bad)
        assert text in str(caught.value)
    empty = options.parse_account({"aliyun_access_key_id": "", "aliyun_access_key_secret": "", "aliyun_endpoint": ""})
    assert empty.access_key_id is None and empty.endpoints == {} and empty.instance_source == "guance"


def test_inventory_refresh_and_no_data_runs():
    assert options.parse_account({}).inventory_refresh_s == 30 * 60
    assert options.parse_account({"inventory_refresh": "10m"}).inventory_refresh_s == 600
    assert options.parse_account({"inventory_refresh": 0}).inventory_refresh_s == 0      # every run
    with pytest.raises(options.AccountError) as error:
        options.parse_account({"inventory_refresh": "2d"})
    assert str(error.value) == ("account.inventory_refresh: expected at most 24 hours (0 reads the inventory every "
                                "run), got '2d'")
    with pytest.raises(options.AccountError) as error:
        options.parse_account({"object_window": "30s"})
    assert str(error.value) == "account.object_window: expected at least 1 minute, got '30s'"
    entries = options.SCHEMA.parse([{"instance_type": "ecs.g7.*"}, {"no_data_runs": 5}, {"no_data_runs": 1}])
    assert options.Selection(entries).no_data_runs() == 5 and options.Selection([]).no_data_runs() == 3
    with pytest.raises(configs.ConfigError) as error:
        options.SCHEMA.parse([{"no_data_runs": -1}])
    assert str(error.value).startswith("configs[0].no_data_runs:")
