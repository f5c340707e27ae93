"""The sandbox's DQL engine (guance_monitor_local.sandbox.dql): parsing, semantics, paging, refusals."""
import json

import numpy as np
import pandas as pd
import pytest

from guance_monitor import dql as client
from guance_monitor_local.sandbox import dql
from guance_monitor_local.sandbox.dql import DQLError, PointStore, execute, parse

MIN = 60000
T0 = 1700006400000          # a whole hour, so interval buckets start at T0
NOW = T0 + 10 * MIN


def point(measurement, minute, tags, fields):
    return {"measurement": measurement, "tags": dict(tags), "fields": dict(fields), "time_ms": T0 + minute * MIN}


def pod_tags(cluster, namespace, uid, pod):
    tags = {"cluster_name_k8s": cluster, "uid": uid, "pod_name": pod}
    if namespace is not None:
        tags["namespace"] = namespace
    return tags


def kube_pod_points():
    out = []
    for minute, restarts in enumerate([0, 0, 1, 1, 2]):
        out.append(point("kube_pod", minute, pod_tags("c1", "a", "u1", "p1"), {"restarts": restarts, "ready": 1}))
    for minute, (restarts, ready) in enumerate([(3, 1), (3, 0), (3, 1)]):
        out.append(point("kube_pod", minute, pod_tags("c1", "a", "u2", "p2"), {"restarts": restarts, "ready": ready}))
    for minute, restarts in enumerate([5, 4]):
        out.append(point("kube_pod", minute, pod_tags("c2", "b", "u3", "p3"), {"restarts": restarts, "ready": 1}))
    out.append(point("kube_pod", 3, pod_tags("c1", None, "u4", "p4"), {"restarts": 7, "ready": 1}))
    return out


def object_points():
    return [
        point("kubelet_pod", 0, {"name": "n1", "namespace": "a"}, {"status": "Running", "restarts": 1}),
        point("kubelet_pod", 5, {"name": "n1", "namespace": "a"}, {"status": "CrashLoopBackOff", "restarts": 4}),
        point("kubelet_pod", 1, {"name": "n2", "namespace": "b"}, {"status": "Running", "restarts": 0}),
        point("kubelet_pod", -40, {"name": "n3", "namespace": "a"}, {"status": "Running", "restarts": 0}),
    ]


def event_points():
    return [
        point("kubernetes_events", 1, {"type": "Warning", "reason": "BackOff"},
              {"involved_name": "p1", "involved_namespace": "a",
               "message": "Back-off restarting failed container"}),
        point("kubernetes_events", 2, {"type": "Warning", "reason": "Unhealthy"},
              {"involved_name": "p2", "involved_namespace": "a", "message": "Liveness probe failed"}),
        point("kubernetes_events", 3, {"type": "Normal", "reason": "Pulled"},
              {"involved_name": "p2", "involved_namespace": "b", "message": "Pulled image"}),
    ]


def keyevent_points():
    return [
        point("monitor", 1, {"df_monitor_checker_event_ref": "r1"}, {"df_title": "t1", "df_status": "critical"}),
        point("monitor", 2, {"df_monitor_checker_event_ref": "r1"}, {"df_title": "t2", "df_status": "ok"}),
        point("monitor", 3, {}, {"df_title": "t3", "df_status": "info"}),
    ]


@pytest.fixture
def store():
    s = PointStore()
    s.add_points("M", kube_pod_points())
    s.add_points("O", object_points())
    s.add_points("L", event_points())
    s.add_points("E", keyevent_points())
    return s


def run(store, q, now=NOW, **params):
    query = {"q": q, "disableMultipleField": False, "timeRange": [T0, NOW]}
    query.update(params)
    for key in [k for k, v in query.items() if v is None]:
        del query[key]
    answer = execute(store, query, now)
    json.dumps(answer, allow_nan=False)  # JSON-safe, no numpy types or NaN
    return answer


def values(answer):
    assert len(answer["series"]) == 1, answer["series"]
    return answer["series"][0]["values"]


def tags_and_values(answer):
    return [(s.get("tags"), s["values"]) for s in answer["series"]]


def refused(store, q, code, fragment, **params):
    with pytest.raises(DQLError) as info:
        run(store, q, **params)
    assert info.value.code == code, str(info.value)
    assert fragment in str(info.value), str(info.value)
    return str(info.value)


# -- parsing ----------------------------------------------------------------------------------

def test_parse_every_clause():
    query = parse("M::`kube_pod`:(max(`restarts`) AS top, min(restarts)) {`cluster_name_k8s` = 'c1', a > 2} "
                  "[1h:30m:5m] BY `namespace`, uid ORDER BY time ASC LIMIT 10 OFFSET 2 SLIMIT 5 SOFFSET 1")
    assert (query.namespace, query.measurement) == ("M", "kube_pod")
    assert [(t.kind, t.func, t.field, t.name) for t in query.targets] == [
        ("agg", "max", "restarts", "top"), ("agg", "min", "restarts", "min(restarts)")]
    assert query.filter == ("and", [("cmp", "cluster_name_k8s", "=", "c1"), ("cmp", "a", ">", 2)])
    assert query.time == {"start": ("rel", 3600000.0), "end": ("rel", 1800000.0), "interval": 300000}
    assert query.by == ["namespace", "uid"]
    assert query.order == ("time", False)
    assert (query.limit, query.offset, query.slimit, query.soffset) == (10, 2, 5, 1)


@pytest.mark.parametrize("text,namespace", [
    ("M::cpu", "M"), ("metric::cpu", "M"), ("o::host", "O"), ("object::host", "O"), ("CO::ecs", "CO"),
    ("custom_object::ecs", "CO"), ("L::nginx", "L"), ("logging::nginx", "L"), ("E::monitor", "E"),
    ("keyevent::monitor", "E"), ("event::monitor", "E"), ("cpu", "M"), ("  M  ::  cpu  ", "M"),
])
def test_parse_namespaces(text, namespace):
    query = parse(text)
    assert query.namespace == namespace
    assert query.measurement in ("cpu", "host", "ecs", "nginx", "monitor")


def test_parse_keywords_case_insensitive_names_case_sensitive_and_comments():
    query = parse("m::Cpu:(Usage as U) # a comment\n {Host = 'x'} by Host order by TIME desc limit 3")
    assert query.measurement == "Cpu"
    assert [t.name for t in query.targets] == ["U"]
    assert query.filter == ("cmp", "Host", "=", "x")
    assert query.by == ["Host"] and query.order == ("time", True) and query.limit == 3


def test_parse_keyword_names_need_backticks():
    assert parse("M::cpu:(`by`) {`in` = 'x'} BY `limit`").by == ["limit"]
    with pytest.raises(DQLError) as info:
        parse("M::cpu:(by)")
    assert info.value.code == "DQL.ParseError" and "`by`" in str(info.value)


def test_parse_strings_and_escapes():
    query = parse(r"""M::cpu {a = 'it\'s', b = "say \"hi\"", c = 'back\\slash', d = 'tab\there', e = '\d+'}""")
    assert [n[3] for n in query.filter[1]] == ["it's", 'say "hi"', "back\\slash", "tab\there", "\\d+"]


def test_parse_client_helpers_round_trip():
    nasty = "it's a \\ test"
    text = "M::`cpu`:(`usage`) " + client.conditions(client.eq("host", nasty),
                                                     client.in_list("ns", ["a'b", "c"]),
                                                     client.regex("pod", r"web-\d+"))
    query = parse(text)
    assert query.filter == ("and", [("cmp", "host", "=", nasty), ("cmp", "ns", "in", ["a'b", "c"]),
                                    query.filter[1][2]])
    assert query.filter[1][2][2] == "re" and query.filter[1][2][3].pattern == r"web-\d+"


def test_parse_regex_and_base64_literal_forms():
    query = parse("L::x {a = re('^a.*'), b = re`b\\d`, c != re\"c\", d = b64'aGVsbG8='}")
    ops = [(n[1], n[2], getattr(n[3], "pattern", n[3])) for n in query.filter[1]]
    assert ops == [("a", "re", "^a.*"), ("b", "re", "b\\d"), ("c", "notre", "c"), ("d", "=", "hello")]


def test_parse_numbers_booleans_in_lists_and_exists():
    query = parse("L::x {a = -1, b = 2.5, c = 5.67E3, d = true, e IN [1, 'x', FALSE], f NOT IN [], g = exists(), "
                  "h != exists()}")
    assert [(n[1], n[2], n[3]) for n in query.filter[1]] == [
        ("a", "=", -1), ("b", "=", 2.5), ("c", "=", 5670.0), ("d", "=", True), ("e", "in", [1, "x", False]),
        ("f", "notin", []), ("g", "exists", None), ("h", "notexists", None)]


def test_parse_filter_precedence_comma_loosest():
    query = parse("M::m {a = 1 || b = 2, c = 3 && d = 4 OR e = 5 AND (f = 6, g = 7)}")
    assert query.filter == ("and", [
        ("or", [("cmp", "a", "=", 1), ("cmp", "b", "=", 2)]),
        ("or", [("and", [("cmp", "c", "=", 3), ("cmp", "d", "=", 4)]),
                ("and", [("cmp", "e", "=", 5), ("and", [("cmp", "f", "=", 6), ("cmp", "g", "=", 7)])])]),
    ])


@pytest.mark.parametrize("clause,expected", [
    ("[30m]", {"start": ("rel", 1800000.0), "end": None, "interval": None}),
    ("[1h:30m]", {"start": ("rel", 3600000.0), "end": ("rel", 1800000.0), "interval": None}),
    ("[2h::5m]", {"start": ("rel", 7200000.0), "end": None, "interval": 300000}),
    ("[1h30m:10s:1m]", {"start": ("rel", 5400000.0), "end": ("rel", 10000.0), "interval": 60000}),
    ("[1700000000000:1700001800000]", {"start": ("abs", 1700000000000), "end": ("abs", 1700001800000),
                                       "interval": None}),
    ("[1700000000000:1700001800000:5m]", {"start": ("abs", 1700000000000), "end": ("abs", 1700001800000),
                                          "interval": 300000}),
    ("[1672502400:1672588800]", {"start": ("abs", 1672502400000), "end": ("abs", 1672588800000),
                                 "interval": None}),
    ("[2023-01-01 00:00:00:2023-01-02]", {"start": ("abs", 1672531200000), "end": ("abs", 1672617600000),
                                          "interval": None}),
    ("[2019-01-01 12:13:14:5m:1w]", {"start": ("abs", 1546344794000), "end": ("rel", 300000.0),
                                     "interval": 604800000}),
    ("[::5m]", {"start": None, "end": None, "interval": 300000}),
    ("[1d]", {"start": ("rel", 86400000.0), "end": None, "interval": None}),
    ("[1w]", {"start": ("rel", 604800000.0), "end": None, "interval": None}),
])
def test_parse_time_clause(clause, expected):
    assert parse("M::cpu:(last(a)) " + clause).time == expected


@pytest.mark.parametrize("clause,code,fragment", [
    ("[:5m]", "DQL.Unsupported", "without a start"),
    ("[5x]", "DQL.ParseError", "bad time start '5x'"),
    ("[1h:2h:3m:4m]", "DQL.ParseError", "time clause must be"),
    ("[1h:30m:1700000000000]", "DQL.ParseError", "interval must be a duration"),
    ("[1h", "DQL.ParseError", "unterminated time clause"),
])
def test_parse_time_clause_errors(clause, code, fragment):
    with pytest.raises(DQLError) as info:
        parse("M::cpu:(last(a)) " + clause)
    assert info.value.code == code and fragment in str(info.value)


def test_parse_errors_quote_the_text():
    with pytest.raises(DQLError) as info:
        parse("M::cpu:(a) {host = }")
    assert info.value.code == "DQL.ParseError"
    assert "expected a value" in str(info.value) and "at char 19: }" in str(info.value)
    with pytest.raises(DQLError) as info:
        parse("M::cpu:(a) LIMIT 3 BY host")
    assert "out of place" in str(info.value) and "BY host" in str(info.value)
    with pytest.raises(DQLError) as info:
        parse("M::cpu:(a) {host = 'x'")
    assert "at the end of the query" in str(info.value)


# -- raw rows, time ---------------------------------------------------------------------------

def test_raw_rows_newest_first_with_tags_as_columns(store):
    answer = run(store, "M::kube_pod:(restarts, pod_name) {uid = 'u1'}")
    assert answer["series"] == [{
        "name": "kube_pod", "columns": ["time", "restarts", "pod_name"], "units": [None, None, None],
        "values": [[T0 + 4 * MIN, 2, "p1"], [T0 + 3 * MIN, 1, "p1"], [T0 + 2 * MIN, 1, "p1"],
                   [T0 + MIN, 0, "p1"], [T0, 0, "p1"]]}]
    assert answer["column_names"] == ["restarts", "pod_name"]
    assert answer["total_hits"] == 5
    assert answer["query_parse"] == {"namespace": "metric", "sources": {"kube_pod": "exact"},
                                     "fields": {"restarts": "restarts", "pod_name": "pod_name"}, "funcs": {}}
    assert answer["cost"].endswith("ms")


def test_order_by_time_asc_and_orderby_param(store):
    asc = run(store, "M::kube_pod:(restarts) {uid = 'u1'} ORDER BY time ASC")
    assert [r[0] for r in values(asc)] == [T0 + k * MIN for k in range(5)]
    param = run(store, "M::kube_pod:(restarts) {uid = 'u1'} ORDER BY time ASC", orderby=[{"time": "desc"}])
    assert [r[0] for r in values(param)] == [T0 + k * MIN for k in (4, 3, 2, 1, 0)]


def test_text_time_wins_over_time_range_and_range_is_inclusive(store):
    q = "M::kube_pod:(restarts) {uid = 'u1'} [%d:%d]" % (T0 + MIN, T0 + 3 * MIN)
    assert [r[0] for r in values(run(store, q, timeRange=[0, 1]))] == [T0 + 3 * MIN, T0 + 2 * MIN, T0 + MIN]
    ranged = run(store, "M::kube_pod:(restarts) {uid = 'u1'}", timeRange=[T0 + MIN, T0 + 2 * MIN])
    assert [r[0] for r in values(ranged)] == [T0 + 2 * MIN, T0 + MIN]


def test_relative_time_against_now(store):
    # [7m:6m] at NOW = T0+10m is [T0+3m, T0+4m]
    answer = run(store, "M::kube_pod:(restarts) {uid = 'u1'} [7m:6m]", timeRange=None)
    assert [r[0] for r in values(answer)] == [T0 + 4 * MIN, T0 + 3 * MIN]
    answer = run(store, "M::kube_pod:(restarts) {uid = 'u1'} [7m]", timeRange=None)
    assert [r[0] for r in values(answer)] == [T0 + 4 * MIN, T0 + 3 * MIN]


def test_default_windows_15m_for_metrics_30m_for_objects(store):
    late = NOW + 19 * MIN   # 15m window: [T0+14m, ...] -> no kube_pod point left
    assert run(store, "M::kube_pod:(restarts)", now=late, timeRange=None)["series"] == []
    just = T0 + 4 * MIN + 15 * MIN
    assert values(run(store, "M::kube_pod:(restarts) {uid='u1'}", now=just, timeRange=None)) == [[T0 + 4 * MIN, 2]]
    # objects: 30 minutes; n1's latest point (T0+5m) is still in at T0+35m, gone at T0+36m
    names = run(store, "O::kubelet_pod:(name)", now=T0 + 35 * MIN, timeRange=None)
    assert [r[1] for r in values(names)] == ["n1"]
    assert run(store, "O::kubelet_pod:(name)", now=T0 + 36 * MIN, timeRange=None)["series"] == []


def test_default_limit_1000_and_limit_offset(store):
    s = PointStore()
    s.add_points("L", [point("app", 0, {"host": "h"}, {"n": i}) for i in range(1205)])
    assert len(values(run(s, "L::app:(n)"))) == 1000
    page = run(s, "L::app:(n) ORDER BY time ASC", limit=100, offset=1200)
    assert [r[1] for r in values(page)] == [1200, 1201, 1202, 1203, 1204]
    text = run(s, "L::app:(n) ORDER BY time ASC LIMIT 3 OFFSET 2")
    assert [r[1] for r in values(text)] == [2, 3, 4]
    params_win = run(s, "L::app:(n) ORDER BY time ASC LIMIT 3 OFFSET 2", limit=2, offset=10)
    assert [r[1] for r in values(params_win)] == [10, 11]
    assert run(s, "L::app:(n)", offset=5000)["series"] == []


def test_metric_rows_lacking_every_selected_field_are_left_out(store):
    s = PointStore()
    s.add_points("M", [point("cpu", 0, {"h": "a"}, {"x": 1}), point("cpu", 1, {"h": "a"}, {"y": 2}),
                       point("cpu", 2, {"h": "a"}, {"x": 3, "y": 4})])
    assert values(run(s, "M::cpu:(x)")) == [[T0 + 2 * MIN, 3], [T0, 1]]
    assert values(run(s, "M::cpu:(x, y)")) == [[T0 + 2 * MIN, 3, 4], [T0 + MIN, None, 2], [T0, 1, None]]
    assert run(s, "M::cpu:(nope)")["series"] == []
    # logging keeps rows and shows null
    s.add_points("L", [point("app", 0, {}, {"x": 1}), point("app", 1, {}, {"y": 2})])
    assert values(run(s, "L::app:(x)")) == [[T0 + MIN, None], [T0, 1]]


def test_star_targets_sorted_columns_without_by_keys(store):
    answer = run(store, "M::kube_pod {uid = 'u4'}")
    assert answer["column_names"] == ["cluster_name_k8s", "namespace", "pod_name", "ready", "restarts", "uid"]
    assert values(answer) == [[T0 + 3 * MIN, "c1", None, "p4", 1, 7, "u4"]]
    assert run(store, "M::kube_pod:() {uid = 'u4'}")["series"] == answer["series"]
    by = run(store, "M::kube_pod:(*) {uid = 'u4'} BY uid, cluster_name_k8s")
    assert by["column_names"] == ["namespace", "pod_name", "ready", "restarts"]
    assert by["series"][0]["tags"] == {"uid": "u4", "cluster_name_k8s": "c1"}


# -- filters ----------------------------------------------------------------------------------

def uids(answer):
    return sorted(s["tags"]["uid"] for s in answer["series"])


@pytest.mark.parametrize("condition,expected", [
    ("{cluster_name_k8s = 'c1'}", ["u1", "u2", "u4"]),
    ("{cluster_name_k8s != 'c1'}", ["u3"]),
    ("{namespace != 'a'}", ["u3", "u4"]),             # missing tag: != is true
    ("{namespace = 'zz'}", []),
    ("{restarts > 3}", ["u3", "u4"]),
    ("{restarts >= 3}", ["u2", "u3", "u4"]),
    ("{restarts < 1}", ["u1"]),
    ("{restarts <= 1}", ["u1"]),
    ("{restarts = 2}", ["u1"]),
    ("{restarts != 3}", ["u1", "u3", "u4"]),
    ("{restarts = '2'}", ["u1"]),                      # string literal read as a number
    ("{uid > 'u2'}", ["u3", "u4"]),                    # strings compare as strings
    ("{uid IN ['u1', 'u3', 'nope']}", ["u1", "u3"]),
    ("{uid NOT IN ['u1', 'u3']}", ["u2", "u4"]),
    ("{namespace NOT IN ['a']}", ["u3", "u4"]),
    ("{restarts IN [4, 7]}", ["u3", "u4"]),
    ("{uid = re('[34]')}", ["u3", "u4"]),              # M:: regex searches anywhere
    ("{uid != re('^u[12]$')}", ["u3", "u4"]),
    ("{namespace != re('a')}", ["u3", "u4"]),
    ("{cluster_name_k8s = 'c1' && restarts > 2 || uid = 'u3'}", ["u2", "u3", "u4"]),
    ("{cluster_name_k8s = 'c1' AND (restarts > 2 OR uid = 'u1'), ready = 0}", ["u2"]),
    ("{nope = 'x'}", []),
    ("{nope != 'x'}", ["u1", "u2", "u3", "u4"]),
    ("{}", ["u1", "u2", "u3", "u4"]),
])
def test_filter_operators(store, condition, expected):
    assert uids(run(store, "M::kube_pod:(count(*)) %s BY uid" % condition)) == expected


def test_filters_through_client_helpers(store):
    cond = client.conditions(client.eq("cluster_name_k8s", "c1"), client.in_list("namespace", ["a", "b"]),
                             client.regex("pod_name", "p[0-9]"))
    answer = run(store, "M::`kube_pod`:(max(`restarts`)) %s BY `uid`" % cond)
    assert [(s["tags"]["uid"], s["values"][0][1]) for s in answer["series"]] == [("u1", 2), ("u2", 3)]


def test_regex_on_other_namespaces_matches_the_whole_value(store):
    def reasons(cond):
        return sorted(r[1] for r in values(run(store, "L::kubernetes_events:(reason) %s" % cond))) \
            if run(store, "L::kubernetes_events:(reason) %s" % cond)["series"] else []
    assert reasons("{message = re('Back-off')}") == []
    assert reasons("{message = re('Back-off.*')}") == ["BackOff"]
    assert reasons("{message != re('.*probe.*')}") == ["BackOff", "Pulled"]
    assert reasons("{reason = re`Back.ff|Pulled`}") == ["BackOff", "Pulled"]


def test_exists_on_logging_and_events_refused_on_metrics(store):
    answer = run(store, "E::monitor:(df_title) {df_monitor_checker_event_ref = exists()} "
                        "BY df_monitor_checker_event_ref")
    assert tags_and_values(answer) == [({"df_monitor_checker_event_ref": "r1"},
                                        [[T0 + 2 * MIN, "t2"], [T0 + MIN, "t1"]])]
    assert values(run(store, "E::monitor:(df_title) {df_monitor_checker_event_ref != exists()}")) == \
        [[T0 + 3 * MIN, "t3"]]
    refused(store, "M::kube_pod:(restarts) {namespace = exists()}", "DQL.Unsupported", "exists() on M::")


def test_source_columns_of_logging_events_and_objects(store):
    assert len(values(run(store, "L::kubernetes_events:(reason) {source = 'kubernetes_events'}"))) == 3
    assert run(store, "L::kubernetes_events:(reason) {source = 'other'}")["series"] == []
    assert len(values(run(store, "E::monitor:(df_title) {df_source = 'monitor'}"))) == 3
    assert len(values(run(store, "O::kubelet_pod:(name) {class = 'kubelet_pod'}"))) == 2


def test_number_and_boolean_comparisons_across_types():
    s = PointStore()
    s.add_points("L", [point("app", 0, {"code": "200"}, {"ok": True, "v": "12"}),
                       point("app", 1, {"code": "500"}, {"ok": False, "v": "abc"}),
                       point("app", 2, {"code": "404"}, {"v": 3})])
    def codes(cond):
        answer = run(s, "L::app:(code) %s ORDER BY time ASC" % cond)
        return [r[1] for r in values(answer)] if answer["series"] else []
    assert codes("{code = 200}") == ["200"]
    assert codes("{code > 300}") == ["500", "404"]
    assert codes("{ok = true}") == ["200"]
    assert codes("{ok != true}") == ["500", "404"]
    assert codes("{ok = 'false'}") == ["500"]
    assert codes("{v > 5}") == ["200"]          # "12" reads as 12, "abc" does not compare
    assert codes("{v = 'abc'}") == ["500"]
    assert codes("{v IN [3, 'abc']}") == ["500", "404"]


# -- aggregates -------------------------------------------------------------------------------

def by_uid(answer):
    return dict((s["tags"]["uid"], s["values"]) for s in answer["series"])


def test_selector_aggregates_carry_the_selected_points_time(store):
    q = "M::kube_pod:(%s(restarts)) BY uid"
    assert by_uid(run(store, q % "last")) == {"u1": [[T0 + 4 * MIN, 2]], "u2": [[T0 + 2 * MIN, 3]],
                                              "u3": [[T0 + MIN, 4]], "u4": [[T0 + 3 * MIN, 7]]}
    assert by_uid(run(store, q % "first")) == {"u1": [[T0, 0]], "u2": [[T0, 3]], "u3": [[T0, 5]],
                                               "u4": [[T0 + 3 * MIN, 7]]}
    assert by_uid(run(store, q % "max"))["u1"] == [[T0 + 4 * MIN, 2]]
    assert by_uid(run(store, q % "max"))["u2"] == [[T0, 3]]              # ties: earliest point
    assert by_uid(run(store, q % "min"))["u1"] == [[T0, 0]]
    assert by_uid(run(store, q % "min"))["u3"] == [[T0 + MIN, 4]]


def test_other_aggregates_carry_the_range_start(store):
    q = "M::kube_pod:(%s) {uid = 'u1'}"
    assert values(run(store, q % "avg(restarts)")) == [[T0, 0.8]]
    assert values(run(store, q % "sum(restarts)")) == [[T0, 4]]
    assert values(run(store, q % "count(restarts)")) == [[T0, 5]]
    assert values(run(store, q % "count(*)")) == [[T0, 5]]
    assert values(run(store, q % "count(`*`)")) == [[T0, 5]]
    assert values(run(store, q % "count_distinct(restarts)")) == [[T0, 3]]
    answer = run(store, q % "max(restarts) AS top, last(restarts)")
    assert answer["column_names"] == ["top", "last(restarts)"]
    assert values(answer) == [[T0, 2, 2]]
    assert answer["query_parse"]["funcs"] == {"top": ["max"], "last(restarts)": ["last"]}


def test_pod_restart_query_shape(store):
    q = ("M::`kube_pod`:(max(`restarts`), min(`restarts`), last(`restarts`)) {`cluster_name_k8s` = 'c1'} "
         "[%d:%d] BY `namespace`, `uid`, `pod_name`" % (T0, NOW))
    answer = run(store, q, slimit=1000, soffset=0)
    assert tags_and_values(answer) == [
        ({"namespace": "", "uid": "u4", "pod_name": "p4"}, [[T0, 7, 7, 7]]),
        ({"namespace": "a", "uid": "u1", "pod_name": "p1"}, [[T0, 2, 0, 2]]),
        ({"namespace": "a", "uid": "u2", "pod_name": "p2"}, [[T0, 3, 3, 3]]),
    ]
    assert answer["series"][0]["columns"] == ["time", "max(restarts)", "min(restarts)", "last(restarts)"]
    assert answer["total_hits"] == 9


def test_count_distinct_of_a_tag(store):
    answer = run(store, "M::kube_pod:(count_distinct(uid)) BY cluster_name_k8s")
    assert tags_and_values(answer) == [({"cluster_name_k8s": "c1"}, [[T0, 3]]),
                                       ({"cluster_name_k8s": "c2"}, [[T0, 1]])]


def test_aggregates_over_missing_values(store):
    s = PointStore()
    s.add_points("M", [point("cpu", 0, {"h": "a"}, {"x": 1}), point("cpu", 1, {"h": "b"}, {"y": 2.5})])
    # metrics: a series without a value for the aggregate is left out
    assert tags_and_values(run(s, "M::cpu:(max(x)) BY h")) == [({"h": "a"}, [[T0, 1]])]
    assert tags_and_values(run(s, "M::cpu:(count(*)) BY h")) == [({"h": "a"}, [[T0, 1]]), ({"h": "b"}, [[T0, 1]])]
    s.add_points("L", [point("app", 0, {"h": "a"}, {"x": 1}), point("app", 1, {"h": "b"}, {"y": 2.5})])
    # elsewhere it stays, with null / 0 (and a null time: the docs' L:: examples)
    assert tags_and_values(run(s, "L::app:(max(x)) BY h")) == [({"h": "a"}, [[None, 1]]), ({"h": "b"}, [[None, None]])]
    assert tags_and_values(run(s, "L::app:(count(x)) BY h")) == [({"h": "a"}, [[None, 1]]), ({"h": "b"}, [[None, 0]])]
    assert values(run(s, "L::app:(last(y))")) == [[T0 + MIN, 2.5]]


def test_aggregate_needs_numbers(store):
    refused(store, "M::kube_pod:(max(uid))", "DQL.InvalidParam", "max() needs a numeric field")
    assert values(run(store, "M::kube_pod:(last(uid)) {cluster_name_k8s = 'c2'}")) == [[T0 + MIN, "u3"]]


def test_logging_aggregates_and_order_by_output_column(store):
    answer = run(store, "L::kubernetes_events:(count(*) AS n) BY involved_namespace ORDER BY n DESC")
    assert tags_and_values(answer) == [({"involved_namespace": "a"}, [[None, 2]]),
                                       ({"involved_namespace": "b"}, [[None, 1]])]
    answer = run(store, "L::kubernetes_events:(count(*) AS n) BY involved_namespace ORDER BY n ASC")
    assert [s["tags"]["involved_namespace"] for s in answer["series"]] == ["b", "a"]
    assert tags_and_values(run(store, "L::kubernetes_events:(first(reason)) BY type")) == [
        ({"type": "Normal"}, [[T0 + 3 * MIN, "Pulled"]]), ({"type": "Warning"}, [[T0 + MIN, "BackOff"]])]


def test_logging_raw_order_by_a_field(store):
    answer = run(store, "L::kubernetes_events:(involved_name, reason) ORDER BY reason ASC")
    assert [r[2] for r in values(answer)] == ["BackOff", "Pulled", "Unhealthy"]
    answer = run(store, "L::kubernetes_events:(reason) ORDER BY reason", orderby=[{"reason": "desc"}])
    assert [r[1] for r in values(answer)] == ["Unhealthy", "Pulled", "BackOff"]


# -- intervals --------------------------------------------------------------------------------

def test_interval_buckets_newest_first(store):
    q = "M::kube_pod:(sum(restarts)) {uid = 'u1'} [%d:%d:2m]" % (T0, T0 + 4 * MIN)
    assert values(run(store, q)) == [[T0 + 4 * MIN, 2], [T0 + 2 * MIN, 2], [T0, 0]]
    assert values(run(store, q + " ORDER BY time ASC")) == [[T0, 0], [T0 + 2 * MIN, 2], [T0 + 4 * MIN, 2]]


def test_interval_buckets_align_to_epoch_multiples_and_skip_empty_ones(store):
    # 7-minute buckets: T0 is 1700006400000 = 4047634 * 420000 + 120000, so buckets start 2 min before T0
    start = T0 - 2 * MIN
    answer = run(store, "M::kube_pod:(count(restarts)) [%d:%d:7m] BY uid" % (T0, NOW))
    assert by_uid(answer) == {"u1": [[start, 5]], "u2": [[start, 3]], "u3": [[start, 2]], "u4": [[start, 1]]}
    answer = run(store, "M::kube_pod:(max(restarts)) {uid='u1'} [%d:%d:1m]" % (T0, NOW))
    assert len(values(answer)) == 5


def test_interval_request_field_in_seconds(store):
    q = "M::kube_pod:(sum(restarts)) {uid = 'u1'}"
    assert values(run(store, q, interval=120)) == [[T0 + 4 * MIN, 2], [T0 + 2 * MIN, 2], [T0, 0]]
    # the request's interval ranks above the statement's
    assert values(run(store, q + " [%d:%d:1h]" % (T0, NOW), interval=120)) == \
        [[T0 + 4 * MIN, 2], [T0 + 2 * MIN, 2], [T0, 0]]
    # raw queries ignore it (it is a density hint)
    assert len(values(run(store, "M::kube_pod:(restarts) {uid='u1'}", interval=120))) == 5


def test_interval_limit_per_series(store):
    q = "M::kube_pod:(last(restarts)) {uid = 'u1'} [%d:%d:1m] LIMIT 2" % (T0, NOW)
    assert values(run(store, q)) == [[T0 + 4 * MIN, 2], [T0 + 3 * MIN, 1]]


# -- objects ----------------------------------------------------------------------------------

def test_objects_are_their_latest_point(store):
    answer = run(store, "O::kubelet_pod:(name, status, restarts)", timeRange=None)
    assert values(answer) == [[T0 + 5 * MIN, "n1", "CrashLoopBackOff", 4], [T0 + MIN, "n2", "Running", 0]]


def test_object_filters_apply_to_the_latest_point(store):
    answer = run(store, "O::kubelet_pod:(name) {status = 'Running'}", timeRange=None)
    assert values(answer) == [[T0 + MIN, "n2"]]


def test_objects_vanish_when_not_reported_in_range(store):
    answer = run(store, "O::kubelet_pod:(name, status)", timeRange=[T0 - 45 * MIN, T0 + 2 * MIN])
    assert sorted(values(answer)) == [[T0 - 40 * MIN, "n3", "Running"], [T0, "n1", "Running"],
                                      [T0 + MIN, "n2", "Running"]]


def test_object_aggregates_by(store):
    answer = run(store, "O::kubelet_pod:(count(*)) BY status", timeRange=None)
    assert tags_and_values(answer) == [({"status": "CrashLoopBackOff"}, [[None, 1]]),
                                       ({"status": "Running"}, [[None, 1]])]
    early = run(store, "O::kubelet_pod:(count(*)) BY namespace", timeRange=[T0, T0 + 2 * MIN])
    assert tags_and_values(early) == [({"namespace": "a"}, [[None, 1]]), ({"namespace": "b"}, [[None, 1]])]


def test_custom_objects():
    s = PointStore()
    s.add_points("custom_object", [
        point("aliyun_ecs", 0, {"name": "i-1", "InstanceChargeType": "PostPaid"}, {"OperationLocks": []}),
        point("aliyun_ecs", 1, {"name": "i-2", "InstanceChargeType": "PrePaid"},
              {"OperationLocks": [{"LockReason": "Recycling"}]}),
    ])
    answer = run(s, "CO::`aliyun_ecs`:(`name`, `OperationLocks`) {`InstanceChargeType`='PostPaid'}")
    assert values(answer) == [[T0, "i-1", "[]"]]
    assert values(run(s, "CO::aliyun_ecs:(OperationLocks) {name = 'i-2'}")) == \
        [[T0 + MIN, '[{"LockReason": "Recycling"}]']]


# -- BY and paging ----------------------------------------------------------------------------

def test_by_series_sorted_missing_tag_first_and_raw_rows_per_series(store):
    answer = run(store, "M::kube_pod:(restarts) {cluster_name_k8s = 'c1'} BY namespace LIMIT 2")
    assert tags_and_values(answer) == [
        ({"namespace": ""}, [[T0 + 3 * MIN, 7]]),
        ({"namespace": "a"}, [[T0 + 4 * MIN, 2], [T0 + 3 * MIN, 1]]),
    ]
    assert all(s["name"] == "kube_pod" for s in answer["series"])


def test_without_by_no_tags_key(store):
    series = run(store, "M::kube_pod:(count(*))")["series"]
    assert series == [{"name": "kube_pod", "columns": ["time", "count(*)"], "values": [[T0, 11]],
                       "units": [None, None]}]


def test_slimit_soffset_paging(store):
    q = "M::kube_pod:(last(restarts)) BY uid"
    assert uids(run(store, q, slimit=2)) == ["u1", "u2"]
    assert uids(run(store, q, slimit=2, soffset=2)) == ["u3", "u4"]
    assert uids(run(store, q, slimit=2, soffset=4)) == []
    assert uids(run(store, q + " SLIMIT 1 SOFFSET 1")) == ["u2"]
    assert uids(run(store, q + " SLIMIT 1 SOFFSET 1", slimit=3, soffset=1)) == ["u2", "u3", "u4"]


def test_paging_uses_the_cache_and_new_points_invalidate_it(store):
    q = "M::kube_pod:(last(restarts)) BY uid"
    run(store, q, slimit=2)
    cached = len(store._cache)
    run(store, q, slimit=2, soffset=2)
    assert len(store._cache) == cached
    store.add_points("M", [point("kube_pod", 6, pod_tags("c1", "a", "u1", "p1"), {"restarts": 9})])
    assert by_uid(run(store, q))["u1"] == [[T0 + 6 * MIN, 9]]


class _FakeAPI(object):
    """Stands in for GuanceOpenAPI: answers query_data_v1 bodies from a store."""

    def __init__(self, store, now):
        self.store = store
        self.now = now
        self.bodies = []

    def post(self, path, body, **kwargs):
        self.bodies.append(body)
        return {"data": [execute(self.store, q["query"], self.now) for q in body["queries"]]}


def test_the_client_pages_through_every_series_and_row():
    s = PointStore()
    frame = pd.DataFrame({
        "time_ms": np.repeat(T0 + np.arange(3) * MIN, 25),
        "uid": np.tile(["u%02d" % i for i in range(25)], 3),
        "restarts": np.arange(75) // 25,
    })
    s.add_frame("M", "kube_pod", frame, ["uid"])
    api = _FakeAPI(s, NOW)
    dql_client = client.DQLClient(api, page_size=10)
    rows = dql_client.rows("M::`kube_pod`:(max(`restarts`), min(`restarts`)) BY `uid`", T0, NOW, paging="series")
    assert len(rows) == 25 and rows.complete
    # the short last page (5 of 10) is confirmed by one more request, since the server's cap is unknown
    assert dql_client.requests == 4
    assert rows[0] == {"uid": "u00", "time": T0, "max(restarts)": 2, "min(restarts)": 0}
    assert [b["queries"][0]["query"]["soffset"] for b in api.bodies] == [0, 10, 20, 25]
    raw = dql_client.rows("M::`kube_pod`:(`restarts`) {`uid` = 'u03'}", T0, NOW, paging="rows")
    assert [r["restarts"] for r in raw] == [2, 1, 0]


# -- disableMultipleField ---------------------------------------------------------------------

def test_disable_multiple_field_defaults_to_true(store):
    message = refused(store, "M::kube_pod:(max(restarts), min(restarts))", "DQL.InvalidParam",
                      "disableMultipleField", disableMultipleField=None)
    assert "max(restarts), min(restarts)" in message and "false" in message
    refused(store, "M::kube_pod {uid='u4'}", "DQL.InvalidParam", "disableMultipleField", disableMultipleField=True)
    assert values(run(store, "M::kube_pod:(max(restarts)) {uid='u1'}", disableMultipleField=None)) == \
        [[T0 + 4 * MIN, 2]]


# -- refusals ---------------------------------------------------------------------------------

@pytest.mark.parametrize("q,code,fragment", [
    ("M::cpu:(difference(usage))", "DQL.Unsupported", "difference()"),
    ("M::cpu:(derivative(usage))", "DQL.Unsupported", "derivative()"),
    ("M::cpu:(fill(avg(usage), 0))", "DQL.Unsupported", "fill()"),
    ("M::cpu:(usage + 1)", "DQL.Unsupported", "math expressions"),
    ("M::cpu:(usage/2)", "DQL.Unsupported", "math expressions"),
    ("M::cpu {(a + 1) > 2}", "DQL.Unsupported", "math expressions"),
    ("M::cpu {a > 1 * 2}", "DQL.Unsupported", "math expressions"),
    ("M::cpu:(count(distinct(host)))", "DQL.Unsupported", "distinct() inside count()"),
    ("M::cpu:(sum(int(x)))", "DQL.Unsupported", "int() inside sum()"),
    ("M::cpu:(percentile(x, 90))", "DQL.Unsupported", "percentile()"),
    ("M::cpu:(last(x, 2))", "DQL.Unsupported", "more than one argument"),
    ("M::cpu:(last(*))", "DQL.InvalidParam", "only count() accepts *"),
    ("M::cpu:(last(x), host)", "DQL.InvalidParam", "cannot be mixed"),
    ("M::cpu:('x')", "DQL.Unsupported", "constant targets"),
    ("M::cpu:(time)", "DQL.Unsupported", "`time` as a target"),
    ("M::cpu {host LIKE 'a%'}", "DQL.Unsupported", "LIKE"),
    ("M::cpu {NOT host = 'a'}", "DQL.Unsupported", "NOT before a condition"),
    ("M::cpu {host NOT LIKE 'a'}", "DQL.Unsupported", "NOT LIKE"),
    ("M::cpu {host =~ /a/}", "DQL.Unsupported", "=~"),
    ("M::cpu {host <> 'a'}", "DQL.Unsupported", "<>"),
    ("L::app {message = match('x')}", "DQL.Unsupported", "match()"),
    ("L::app {message = wildcard('x*')}", "DQL.Unsupported", "wildcard()"),
    ("L::app {message = NIL}", "DQL.Unsupported", "NIL"),
    ("L::app {@a.b = 'x'}", "DQL.Unsupported", "JSON path"),
    ("L::app {a = b}", "DQL.Unsupported", "another key (b)"),
    ("L::app {int(a) > 1}", "DQL.Unsupported", "function int() in a filter"),
    ("L::app {'x' = a}", "DQL.Unsupported", "constant on the left"),
    ("L::app {a = 5m}", "DQL.ParseError", "durations such as 5m"),
    ("L::app {a > re('x')}", "DQL.ParseError", "re() needs = or !="),
    ("L::app {a IN [re('x')]}", "DQL.Unsupported", "IN lists"),
    ("L::app {a = re('(')}", "DQL.InvalidParam", "invalid regular expression"),
    ("L::app {a > true}", "DQL.InvalidParam", "booleans"),
    ("L::*", "DQL.Unsupported", "wildcard measurement"),
    ("L::`*`:(count(*))", "DQL.Unsupported", "wildcard measurement"),
    ("M::re('cpu.*')", "DQL.Unsupported", "regex measurements"),
    ("M::cpu,mem:(a)", "DQL.Unsupported", "several measurements"),
    ("M::cpu:(host, usage) FILTER O::ecs:(hostname) WITH {host = hostname}", "DQL.Unsupported", "FILTER"),
    ("O::ecs:(host) LINK M::cpu:(usage) WITH {host = hostname}", "DQL.Unsupported", "LINK"),
    ("T::mysql:(count(*))", "DQL.Unsupported", "namespace T::"),
    ("R::error:(count(*))", "DQL.Unsupported", "namespace R::"),
    ("X::cpu", "DQL.ParseError", "namespace X::"),
    ("show_measurement()", "DQL.Unsupported", "show_measurement()"),
    ("M::cpu:(last(a)) BY time(5m)", "DQL.Unsupported", "function time() in BY"),
    ("M::cpu:(last(a)) BY host ORDER BY time, host", "DQL.Unsupported", "more than one column"),
    ("M::cpu:(a) ORDER BY a", "DQL.Unsupported", "sort by time only"),
    ("M::cpu:(a) [1h:30m:5m]", "DQL.Unsupported", "interval needs aggregate targets"),
    ("M::cpu [1h::5m]", "DQL.Unsupported", "interval needs aggregate targets"),
    ("L::app:(last(a)) ORDER BY b", "DQL.InvalidParam", "not an output column"),
    ("L::app:(last(a)) ORDER BY last(a)", "DQL.Unsupported", "function last() in ORDER BY"),
    ("M::cpu:(last(a)) BY host [5m]", "DQL.ParseError", "clause out of place"),
    ("M::cpu:(a) LIMIT -1", "DQL.ParseError", "non-negative integer"),
    ("M::cpu:(a) AS b", "DQL.ParseError", "unexpected text"),
    ("M::", "DQL.ParseError", "measurement name"),
    ("M::cpu:(a", "DQL.ParseError", "',' or ')'"),
    ("M::cpu:(`a)", "DQL.ParseError", "unterminated backticked name"),
    ("M::cpu {a = 'x}", "DQL.ParseError", "unterminated string"),
    ("M::cpu {a = b64'!!'}", "DQL.InvalidParam", "base64"),
])
def test_unsupported_and_malformed_queries_are_refused(store, q, code, fragment):
    refused(store, q, code, fragment)


def test_aggregate_order_by_with_interval_refused(store):
    refused(store, "L::kubernetes_events:(count(*) AS n) [1h::5m]", "DQL.Unsupported", "with a time interval",
            orderby=[{"n": "desc"}])


@pytest.mark.parametrize("params,code,fragment", [
    ({"sorderby": [{"x": "desc"}]}, "DQL.InvalidParam", "sorder_by x: neither an output column nor a BY tag"),
    ({"sorder_by": [{"column": "x", "order": "desc"}]}, "DQL.InvalidParam", "sorder_by x: neither"),
    ({"sorder_by": [{"column": "#2", "order": "desc"}]}, "DQL.InvalidParam", "has 1 output columns"),
    ({"sorder_by": {"column": "x"}}, "DQL.InvalidParam", "sorder_by: expected a list of objects"),
    ({"output_format": "lineprotocol"}, "DQL.Unsupported", "output_format"),
    ({"cursor_time": -5}, "DQL.InvalidParam", "cursor_time"),
    ({"cursor_time": T0 - 1}, "DQL.InvalidParam", "before the range start"),
    ({"disable_sampling": "yes"}, "DQL.InvalidParam", "disable_sampling"),
    ({"funcList": ["abs"]}, "DQL.Unsupported", "funcList"),
    ({"search_after": [1, 2]}, "DQL.Unsupported", "search_after pages raw rows of L::, O::, CO:: and E::"),
    ({"soffest": 10}, "DQL.InvalidParam", "unknown request field soffest"),
    ({"slimit": -1}, "DQL.InvalidParam", "slimit"),
    ({"limit": "10"}, "DQL.InvalidParam", "limit"),
    ({"timeRange": [1, 2, 3]}, "DQL.InvalidParam", "timeRange"),
    ({"timeRange": [5, 1]}, "DQL.InvalidParam", "starts (5) after it ends (1)"),
    ({"disableMultipleField": "no"}, "DQL.InvalidParam", "disableMultipleField"),
    ({"interval": 0}, "DQL.InvalidParam", "interval"),
    ({"interval": 60, "maxPointCount": 720}, "DQL.Unsupported", "maxPointCount"),
    ({"orderby": [{"a": "up"}]}, "DQL.InvalidParam", "asc or desc"),
    ({"orderby": [{"a": "asc"}, {"b": "asc"}]}, "DQL.Unsupported", "more than one column"),
])
def test_request_fields_checked(store, params, code, fragment):
    message = refused(store, "M::kube_pod:(sum(restarts))", code, fragment, **params)
    assert "query: M::kube_pod" in message


def test_ignored_request_fields_are_accepted(store):
    answer = run(store, "M::kube_pod:(sum(restarts)) {uid='u1'}", tz="Asia/Shanghai", align_time=True,
                 highlight=False, disable_sampling=False, maxPointCount=720, workspaceUUID="w", funcList=[],
                 order_by=[{"column": "time", "order": "desc"}])
    assert values(answer) == [[T0, 4]]


def test_query_object_and_text_required():
    with pytest.raises(DQLError) as info:
        execute(PointStore(), {"timeRange": [0, 1]}, NOW)
    assert info.value.code == "DQL.InvalidParam" and "with q" in str(info.value)
    with pytest.raises(DQLError):
        execute(PointStore(), "M::cpu", NOW)


def test_unknown_measurement_is_a_true_empty_answer(store):
    answer = run(store, "M::nope:(last(x)) BY host")
    assert answer["series"] == [] and answer["total_hits"] == 0 and answer["column_names"] == ["last(x)"]
    assert run(store, "M::kube_pod:(last(restarts)) {uid = 'zz'}")["series"] == []


# -- add_frame --------------------------------------------------------------------------------

EQUIVALENCE_QUERIES = [
    "M::kube_pod:(restarts, ready, pod_name) {cluster_name_k8s = 'c1'} BY uid",
    "M::kube_pod:(max(restarts), min(restarts), last(restarts)) BY namespace, uid, pod_name",
    "M::kube_pod:(avg(ready), sum(restarts), count(*), count_distinct(uid)) BY cluster_name_k8s",
    "M::kube_pod:(sum(restarts)) [%d:%d:2m] BY uid" % (T0, NOW),
    "M::kube_pod:(last(restarts)) {namespace != 'a', restarts > 3}",
    "M::kube_pod {uid = re('u[24]')}",
]


def frame_of(points, tag_keys, categorical=False):
    data = {"time_ms": np.array([p["time_ms"] for p in points], dtype=np.int64)}
    for key in tag_keys:
        column = [p["tags"].get(key) for p in points]
        data[key] = pd.Categorical(column) if categorical else column
    for key in sorted(set(k for p in points for k in p["fields"])):
        data[key] = [p["fields"].get(key) for p in points]
    return pd.DataFrame(data)


@pytest.mark.parametrize("categorical", [False, True])
def test_add_frame_answers_like_add_points(categorical):
    points = kube_pod_points()
    by_points = PointStore()
    by_points.add_points("M", points)
    by_frame = PointStore()
    tag_keys = ["cluster_name_k8s", "namespace", "uid", "pod_name"]
    shuffled = [points[i] for i in np.random.RandomState(3).permutation(len(points))]
    by_frame.add_frame("metric", "kube_pod", frame_of(shuffled, tag_keys, categorical), tag_keys)
    for q in EQUIVALENCE_QUERIES:
        left, right = run(by_points, q), run(by_frame, q)
        left.pop("cost"), right.pop("cost")
        assert left == right, q


def test_add_frame_and_points_merge_with_mixed_types():
    s = PointStore()
    s.add_points("L", [point("app", 0, {"host": "h1"}, {"v": 1, "note": "x"})])
    s.add_frame("L", "app", pd.DataFrame({
        "time_ms": [T0 + 2 * MIN, T0 + MIN],
        "host": ["h2", None],
        "v": pd.array([None, 5], dtype="Int64"),
        "w": [0.5, np.nan],
        "flag": [True, False],
    }), ["host"])
    answer = run(s, "L::app:(host, v, w, flag, note) ORDER BY time ASC")
    assert values(answer) == [[T0, "h1", 1, None, None, "x"], [T0 + MIN, None, 5, None, False, None],
                              [T0 + 2 * MIN, "h2", None, 0.5, True, None]]
    assert all(type(r[2]) is int for r in values(answer) if r[2] is not None)
    assert tags_and_values(run(s, "L::app:(sum(v)) BY host")) == [({"host": ""}, [[None, 5]]),
                                                                 ({"host": "h1"}, [[None, 1]]),
                                                                 ({"host": "h2"}, [[None, None]])]


def test_add_frame_checks_its_input():
    s = PointStore()
    with pytest.raises(ValueError):
        s.add_frame("M", "m", pd.DataFrame({"t": [1]}), [])
    with pytest.raises(ValueError):
        s.add_frame("M", "m", pd.DataFrame({"time_ms": [1]}), ["host"])
    with pytest.raises(ValueError):
        s.add_frame("Q", "m", pd.DataFrame({"time_ms": [1]}), [])
    with pytest.raises(ValueError):
        s.add_points("M", [{"measurement": "m", "time_ms": "soon"}])


def test_values_are_plain_json_types():
    s = PointStore()
    s.add_frame("M", "m", pd.DataFrame({"time_ms": np.array([T0], dtype=np.int64), "h": ["a"],
                                        "i": np.array([3], dtype=np.int32), "f": np.array([np.nan]),
                                        "g": np.array([1.5], dtype=np.float32)}), ["h"])
    row = values(run(s, "M::m:(i, f, g)"))[0]
    assert row == [T0, 3, None, 1.5]
    assert [type(v) for v in row] == [int, int, type(None), float]
    agg = values(run(s, "M::m:(last(i), max(g), count(i))"))[0]
    assert [type(v) for v in agg] == [int, int, float, int]


def test_store_lists_measurements(store):
    assert store.measurements("M") == ["kube_pod"]
    assert store.measurements("logging") == ["kubernetes_events"]
    assert dql.LONG_NAMES["E"] == "keyevent"


def test_unicode_names_and_aliases(store):
    s = PointStore()
    s.add_points("M", [point("cpu", 0, {"主机": "h1"}, {"usage": 5})])
    answer = run(s, "M::cpu:(usage AS 使用率) {主机 = 'h1'} BY 主机")
    assert tags_and_values(answer) == [({"主机": "h1"}, [[T0, 5]])]
    assert answer["column_names"] == ["使用率"]


def test_interval_only_time_clause_uses_the_time_range(store):
    answer = run(store, "M::kube_pod:(max(restarts)) {uid = 'u1'} [::2m]", timeRange=[T0, T0 + 3 * MIN])
    assert values(answer) == [[T0 + 2 * MIN, 1], [T0, 0]]


def test_by_a_numeric_field_groups_by_its_text():
    s = PointStore()
    s.add_points("L", [point("app", 0, {}, {"code": 200}), point("app", 1, {}, {"code": 200}),
                       point("app", 2, {}, {"code": 5.5}), point("app", 3, {}, {})])
    answer = run(s, "L::app:(count(*)) BY code")
    assert tags_and_values(answer) == [({"code": ""}, [[None, 1]]), ({"code": "200"}, [[None, 2]]),
                                       ({"code": "5.5"}, [[None, 1]])]


def test_relative_queries_follow_the_clock_between_calls(store):
    q = "M::kube_pod:(count(*)) {uid = 'u1'} [3m]"
    assert values(run(store, q, timeRange=None, now=T0 + 4 * MIN)) == [[T0 + MIN, 4]]
    assert values(run(store, q, timeRange=None, now=T0 + 6 * MIN)) == [[T0 + 3 * MIN, 2]]


def test_an_empty_answer_ordered_by_a_by_tag_is_empty(store):
    q = ("M::(M::kube_pod:(spread(restarts) AS d) BY cluster_name_k8s, namespace, uid):(count(d) AS n) {d > 100} "
         "BY cluster_name_k8s, namespace")
    answer = run(store, q, sorder_by=[{"column": "cluster_name_k8s", "order": "asc"},
                                      {"column": "namespace", "order": "asc"}])
    assert answer["series"] == []
