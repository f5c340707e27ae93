"""Studio configs and code filters: what users can type is accepted, anything else is refused by name."""
import pytest

from guance_monitor import configs
from guance_monitor.configs import ConfigError, Field, Schema


# -- load ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ('[{"namespace": "a"}, {"namespace": ["b", "c"]}]', [{"namespace": "a"}, {"namespace": ["b", "c"]}]),
    ("[{'cluster_name': 'k8s-prod', 'namespace': 'a', 'flag': True, 'x': None}]",
     [{"cluster_name": "k8s-prod", "namespace": "a", "flag": True, "x": None}]),
    ('{"namespace": "a"}', [{"namespace": "a"}]),
    ([{"namespace": "a"}], [{"namespace": "a"}]),
    ({"namespace": "a"}, [{"namespace": "a"}]),
    (({"namespace": "a"},), [{"namespace": "a"}]),
    (b'[{"namespace": "a"}]', [{"namespace": "a"}]),
    ("  \n [ ] \n", []),
    (None, []),
    ("", []),
    ("   ", []),
    ([], []),
    ({}, []),
    ("[]", []),
    ("{}", []),
])
def test_load_accepts_what_studio_delivers(raw, expected):
    assert configs.load(raw) == expected


def test_load_names_line_and_column_of_bad_json():
    with pytest.raises(ConfigError) as info:
        configs.load('[{"namespace": "a"},\n {"namespace": ]')
    text = str(info.value)
    assert text.startswith("configs is not valid JSON")
    assert "line 2, column 16" in text


def test_load_uses_the_given_name():
    with pytest.raises(ConfigError) as info:
        configs.load("not json", name="rules")
    assert str(info.value).startswith("rules is not valid JSON")
    assert "line 1, column 1" in str(info.value)


@pytest.mark.parametrize("raw, shown", [("5", "5"), ("'text'", "'text'"), (5, "5"), (True, "true")])
def test_load_refuses_a_scalar(raw, shown):
    with pytest.raises(ConfigError) as info:
        configs.load(raw)
    assert str(info.value) == "configs: expected a JSON list of objects, got %s" % shown


@pytest.mark.parametrize("raw, index, shown", [
    ('[{"a": 1}, 3]', 1, "3"),
    ([{"a": 1}, {"b": 2}, "ns-a"], 2, "'ns-a'"),
    ([["a"]], 0, '["a"]'),
])
def test_load_names_the_entry_that_is_not_an_object(raw, index, shown):
    with pytest.raises(ConfigError) as info:
        configs.load(raw)
    assert str(info.value).startswith("configs[%d]: expected an object" % index)
    assert str(info.value).endswith("got %s" % shown)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


# -- Schema -------------------------------------------------------------------------------------

def k8s_schema():
    return Schema([
        Field("cluster_name", configs.string),
        Field("namespace", configs.string_list, default=["*"]),
        Field("threshold", configs.number(0, 1), default=0.2),
    ])


def test_schema_fills_defaults_and_normalises():
    parsed = k8s_schema().parse('[{"cluster_name": " prod "}, {"namespace": "a", "threshold": "0.5"}]')
    assert parsed == [
        {"cluster_name": "prod", "namespace": ["*"], "threshold": 0.2},
        {"cluster_name": None, "namespace": ["a"], "threshold": 0.5},
    ]


@pytest.mark.parametrize("empty", [None, "", []])
def test_schema_treats_empty_values_as_missing(empty):
    parsed = k8s_schema().parse([{"namespace": empty}])
    assert parsed == [{"cluster_name": None, "namespace": ["*"], "threshold": 0.2}]


def test_schema_of_nothing_is_no_entries():
    assert k8s_schema().parse(None) == []
    assert k8s_schema().parse("") == []


def test_schema_names_entry_and_field_of_a_bad_value():
    with pytest.raises(ConfigError) as info:
        k8s_schema().parse('[{"namespace": "a"}, {"namespace": 5}]')
    assert str(info.value) == "configs[1].namespace: expected a string or a list of strings, got 5"


def test_schema_bad_number_names_the_range():
    with pytest.raises(ConfigError) as info:
        k8s_schema().parse([{"threshold": 3}])
    assert str(info.value) == "configs[0].threshold: expected a number <= 1, got 3"


def test_schema_suggests_the_closest_field_name():
    with pytest.raises(ConfigError) as info:
        k8s_schema().parse([{"namespace": "a"}, {"namspace": "b"}])
    text = str(info.value)
    assert text.startswith("configs[1]: unknown field 'namspace'")
    assert "(did you mean 'namespace'?)" in text
    assert text.endswith("known fields: cluster_name, namespace, threshold")


def test_schema_unknown_field_without_a_close_name_has_no_suggestion():
    with pytest.raises(ConfigError) as info:
        k8s_schema().parse([{"zzz": 1}])
    assert "did you mean" not in str(info.value)
    assert "unknown field 'zzz'" in str(info.value)


def test_schema_required_field():
    schema = Schema([Field("instance_type", configs.string, required=True),
                     Field("spot_with_price_limit", configs.number(0), default=None)])
    assert schema.parse([{"instance_type": "ecs.g7.large"}]) == [
        {"instance_type": "ecs.g7.large", "spot_with_price_limit": None}]
    with pytest.raises(ConfigError) as info:
        schema.parse([{"instance_type": "ecs.g7.large"}, {"spot_with_price_limit": 0.5}])
    assert str(info.value) == "configs[1].instance_type: required"
    with pytest.raises(ConfigError) as info:
        schema.parse([{"instance_type": "  "}])
    assert str(info.value) == "configs[0].instance_type: expected a non-empty string, got '  '"


def test_schema_uses_the_given_name():
    with pytest.raises(ConfigError) as info:
        k8s_schema().parse([{"namespace": 5}], name="rules")
    assert str(info.value).startswith("rules[0].namespace:")


def test_schema_error_shortens_a_long_value():
    with pytest.raises(ConfigError) as info:
        k8s_schema().parse([{"namespace": ["ok", 1] + ["x" * 10] * 20}])
    text = str(info.value)
    assert text.endswith("...")
    assert len(text.split(", got ", 1)[1]) == 80


# -- field parsers ------------------------------------------------------------------------------

def expect_error(parse, value, text):
    with pytest.raises(ValueError) as info:
        parse(value)
    assert str(info.value) == text


@pytest.mark.parametrize("value, expected", [("a", "a"), ("  spaced  ", "spaced"), (u"命名空间", u"命名空间")])
def test_string_good(value, expected):
    assert configs.string(value) == expected


@pytest.mark.parametrize("value", ["", "   ", 5, None, ["a"], True])
def test_string_bad(value):
    expect_error(configs.string, value, "expected a non-empty string")


@pytest.mark.parametrize("value, expected", [
    ("a", ["a"]), (" a ", ["a"]), (["a", " b"], ["a", "b"]), (("a", "b"), ["a", "b"]),
])
def test_string_list_good(value, expected):
    assert configs.string_list(value) == expected


@pytest.mark.parametrize("value", ["", [], ["a", 1], ["a", " "], 5, {"a": "b"}, None])
def test_string_list_bad(value):
    expect_error(configs.string_list, value, "expected a string or a list of strings")


@pytest.mark.parametrize("value, expected", [(1, 1.0), (0.5, 0.5), ("2.5", 2.5), (" 3 ", 3.0), (0, 0.0)])
def test_number_good(value, expected):
    result = configs.number(0, 10)(value)
    assert result == expected and isinstance(result, float)


@pytest.mark.parametrize("value, text", [
    (True, "expected a number"),
    ("abc", "expected a number"),
    (None, "expected a number"),
    ([1], "expected a number"),
    ("nan", "expected a finite number"),
    (float("inf"), "expected a finite number"),
    ("-inf", "expected a finite number"),
    (-0.1, "expected a number >= 0"),
    (10.5, "expected a number <= 10"),
])
def test_number_bad(value, text):
    expect_error(configs.number(0, 10), value, text)


def test_number_without_bounds():
    assert configs.number()(-1e9) == -1e9


@pytest.mark.parametrize("value, expected", [(3, 3), ("4", 4), (5.0, 5), ("-2", -2)])
def test_integer_good(value, expected):
    result = configs.integer()(value)
    assert result == expected and isinstance(result, int) and not isinstance(result, bool)


@pytest.mark.parametrize("value, text", [
    (2.5, "expected a whole number"), ("x", "expected a number"), (False, "expected a number"),
])
def test_integer_bad(value, text):
    expect_error(configs.integer(), value, text)


def test_integer_bounds():
    expect_error(configs.integer(1, 100), 0, "expected a number >= 1")
    expect_error(configs.integer(1, 100), 101, "expected a number <= 100")
    assert configs.integer(1, 100)(100) == 100


@pytest.mark.parametrize("value, expected", [
    (True, True), (False, False), ("true", True), (" Yes ", True), ("1", True),
    ("FALSE", False), ("no", False), ("0", False),
])
def test_boolean_good(value, expected):
    assert configs.boolean(value) is expected


@pytest.mark.parametrize("value", ["maybe", "", None, 2, [True]])
def test_boolean_bad(value):
    expect_error(configs.boolean, value, "expected true or false")


def test_string_map_good():
    assert configs.string_map({"env": "prod", "port": 8080, "ratio": 0.5}) == {
        "env": "prod", "port": "8080", "ratio": "0.5"}
    assert configs.string_map({}) == {}


@pytest.mark.parametrize("value", [{"env": True}, {"env": None}, {"env": ["a"]}, {"env": {"a": "b"}},
                                   ["env=prod"], "env=prod"])
def test_string_map_bad(value):
    expect_error(configs.string_map, value, 'expected an object of string values, such as {"env": "prod"}')


@pytest.mark.parametrize("value, expected", [
    (90, 90.0), (1.5, 1.5), (0, 0.0), ("90", 90.0), ("90s", 90.0), ("30m", 1800.0), (" 2H ", 7200.0),
    ("7d", 604800.0), ("0.5h", 1800.0),
])
def test_duration_seconds_good(value, expected):
    assert configs.duration_seconds(value) == expected


@pytest.mark.parametrize("value", [-1, "-5m", "abc", "", "m", "5 weeks", True, None, [60], "nan"])
def test_duration_seconds_bad(value):
    expect_error(configs.duration_seconds, value, 'expected a duration such as 300, "30m", "2h" or "7d"')


@pytest.mark.parametrize("value", ["inf", "infm", "1e999", float("inf")])
def test_duration_seconds_refuses_infinity(value):
    with pytest.raises(ValueError):
        configs.duration_seconds(value)


# -- filters ------------------------------------------------------------------------------------

def not_kube_system(obj):
    return obj.get("namespace") != "kube-system"


def test_check_filters_none_is_no_filters():
    assert configs.check_filters(None) == []


def test_check_filters_one_callable_becomes_a_list():
    assert configs.check_filters(not_kube_system) == [not_kube_system]


def test_check_filters_list_and_tuple():
    assert configs.check_filters([not_kube_system, len]) == [not_kube_system, len]
    assert configs.check_filters((not_kube_system,)) == [not_kube_system]
    assert configs.check_filters([]) == []


def test_check_filters_names_the_non_callable_by_index():
    with pytest.raises(ConfigError) as info:
        configs.check_filters([not_kube_system, "kube-system"])
    assert str(info.value) == "filters[1]: expected a function, got 'kube-system'"


def test_check_filters_refuses_a_non_list():
    with pytest.raises(ConfigError) as info:
        configs.check_filters("kube-system")
    assert str(info.value) == "filters: expected a list of functions, got 'kube-system'"


def test_keep_without_filters_keeps():
    assert configs.keep({"namespace": "a"}, []) is True


def test_keep_requires_every_filter():
    in_prod = lambda obj: obj.get("cluster_name") == "prod"  # noqa: E731
    filters = [not_kube_system, in_prod]
    assert configs.keep({"cluster_name": "prod", "namespace": "a"}, filters) is True
    assert configs.keep({"cluster_name": "prod", "namespace": "kube-system"}, filters) is False
    assert configs.keep({"cluster_name": "test", "namespace": "a"}, filters) is False


def test_keep_filter_returning_none_drops():
    def forgot_to_return(obj):
        obj.get("namespace") == "a"

    assert configs.keep({"namespace": "a"}, [forgot_to_return]) is False


def test_keep_stops_at_the_first_drop():
    calls = []

    def drop(obj):
        calls.append("drop")
        return False

    def later(obj):
        calls.append("later")
        return True

    assert configs.keep("web01", [drop, later]) is False
    assert calls == ["drop"]


def test_keep_filter_raising_names_the_filter():
    def by_namespace(obj):
        return obj["namespace"] != "kube-system"

    with pytest.raises(ConfigError) as info:
        configs.keep({"cluster_name": "prod"}, [by_namespace])
    assert str(info.value) == "filter by_namespace raised KeyError: 'namespace'"
