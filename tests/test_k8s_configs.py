"""Configs of the pod-restart inspection: what Studio users type, how it scopes the queries."""
import pytest

from guance_monitor.configs import ConfigError
from guance_monitor_k8s_pod_restart import collect
from guance_monitor_k8s_pod_restart import scopes
from guance_monitor_local.sandbox import dql as sandbox_dql


def parse(raw):
    return scopes.from_entries(scopes.SCHEMA.parse(raw))


def test_the_documented_examples():
    found = parse('[{"cluster_name": "c1", "namespace": ["ns1", "ns2"]}, {"namespace": "ns3"}]')
    assert [(s.cluster, s.namespaces) for s in found] == [("c1", ["ns1", "ns2"]), (None, ["ns3"])]
    assert found[0].thresholds == scopes.DEFAULTS
    single_quotes = parse("[{'cluster_name': 'xxx', 'namespace': ['xxx1', 'xxx2']}, "
                          "{'cluster_name': 'yyy', 'namespace': 'yyy1'}]")
    assert [(s.cluster, s.namespaces) for s in single_quotes] == [("xxx", ["xxx1", "xxx2"]), ("yyy", ["yyy1"])]


@pytest.mark.parametrize("raw", [None, "", "[]", [], {}])
def test_no_configs_inspect_everything(raw):
    found = parse(raw)
    assert len(found) == 1 and found[0].cluster is None and found[0].namespaces is None
    assert found[0].covers("any", "thing")


def test_thresholds_and_exclusions_per_entry():
    found = parse([{"cluster_name": "c1", "namespace": "shop", "min_restarted_pods": 1, "min_ratio": "20%",
                    "rise_factor": 2, "recover_after_runs": 4, "min_restarts": 5,
                    "exclude_workloads": ["batch-*", "statefulset/cache"]}])
    assert found[0].thresholds == {"min_restarted_pods": 1, "min_restarts": 5, "min_ratio": 0.2,
                                   "rise_factor": 2.0, "recover_after_runs": 4}
    assert found[0].excluded_by("deployment", "batch-import") == "batch-*"
    assert found[0].excluded_by("statefulset", "cache") == "statefulset/cache"
    assert found[0].excluded_by("deployment", "cache") is None


@pytest.mark.parametrize("raw, message", [
    ('[{"namespace": 5}]', "configs[0].namespace: expected a string or a list of strings, got 5"),
    ('[{"namespace": "a"}, {"cluster_name": ["c1"]}]',
     'configs[1].cluster_name: expected a non-empty string, got ["c1"]'),
    ('[{"namespce": "a"}]', "configs[0]: unknown field 'namespce' (did you mean 'namespace'?)"),
    ('[{"namespace": "a", "min_ratio": 3}]', "configs[0].min_ratio: expected a share between 0 and 1"),
    ('[{"namespace": "a", "min_ratio": "150%"}]', "configs[0].min_ratio: expected a number <= 100"),
    ('[{"namespace": "a", "recover_after_runs": 0}]', "configs[0].recover_after_runs: expected a number >= 1"),
    ('[{"namespace": "a", "recover_after_runs": 1.5}]', "configs[0].recover_after_runs: expected a whole number"),
    ('[{"namespace": "a", "rise_factor": true}]', "configs[0].rise_factor: expected a number"),
    ('[{"namespace": "a", "exclude_workloads": ["thing/x"]}]',
     "configs[0].exclude_workloads: expected workload names or patterns"),
    ('{"namespace": ', "configs is not valid JSON"),
    ("[1, 2]", "configs[0]: expected an object"),
    ("7", "configs: expected a JSON list of objects, got 7"),
])
def test_bad_configs_name_the_entry_and_the_field(raw, message):
    with pytest.raises(ConfigError) as caught:
        scopes.SCHEMA.parse(raw)
    assert message in str(caught.value)


def test_the_first_matching_entry_wins():
    found = parse([{"cluster_name": "c1", "namespace": "shop", "min_ratio": 0.5}, {"namespace": "shop"},
                   {"cluster_name": "c2"}])
    assert scopes.match(found, "c1", "shop").thresholds["min_ratio"] == 0.5
    assert scopes.match(found, "c3", "shop").index == 1
    assert scopes.match(found, "c2", "web").index == 2
    assert scopes.match(found, "c3", "web") is None
    assert scopes.explicit_namespaces(found) == [("c1", "shop"), (None, "shop")]


# -- the scope in DQL -------------------------------------------------------------------------

POINTS = [{"measurement": "kube_pod", "time_ms": 1000 + i,
           "tags": {"cluster_name_k8s": c, "namespace": n, "uid": "%s-%s" % (c, n)}, "fields": {"restarts": 0}}
          for i, (c, n) in enumerate([("c1", "ns1"), ("c1", "ns2"), ("c1", "ns3"), ("c2", "ns1"), ("c2", "ns3"),
                                      ("c3", "it's")])]


def selected(configs):
    store = sandbox_dql.PointStore()
    store.add_points("M", POINTS)
    where = scopes_where(configs)
    answer = sandbox_dql.execute(store, {"q": "M::`kube_pod`:(last(`restarts`)) %s BY `uid`" % where,
                                         "timeRange": [0, 5000]}, 5000)
    return sorted(s["tags"]["uid"] for s in answer["series"])


def scopes_where(configs):
    condition = collect.scope_condition(parse(configs))
    return "{%s}" % condition if condition else ""


@pytest.mark.parametrize("configs, uids", [
    (None, ["c1-ns1", "c1-ns2", "c1-ns3", "c2-ns1", "c2-ns3", "c3-it's"]),
    ([{"cluster_name": "c1", "namespace": ["ns1", "ns2"]}, {"namespace": "ns3"}],
     ["c1-ns1", "c1-ns2", "c1-ns3", "c2-ns3"]),
    ([{"cluster_name": "c2"}], ["c2-ns1", "c2-ns3"]),
    ([{"namespace": "it's"}], ["c3-it's"]),                        # quotes in names cannot break the query
    ([{"cluster_name": "c1", "namespace": "ns1"}, {"cluster_name": "c1", "namespace": "ns1"}], ["c1-ns1"]),
])
def test_scope_condition_selects_the_configured_namespaces(configs, uids):
    assert selected(configs) == uids


def test_scope_condition_text():
    assert collect.scope_condition(parse(None)) == ""
    assert collect.scope_condition(parse([{"cluster_name": "c1", "namespace": ["a", "b"]}, {"namespace": "c"}])) == \
        "((`cluster_name_k8s` = 'c1' && `namespace` IN ['a', 'b']) || `namespace` IN ['c'])"
