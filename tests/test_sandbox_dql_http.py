"""The sandbox's DQL endpoints over HTTP: nested queries, deep paging, capped and unstable pages,
asynchronous and segmented answers, bucketing and sampling, as the scenario's ``sandbox.dql`` sets them."""
import pytest
import requests

from guance_monitor_local import scenario as scenarios

MIN = 60000
T0 = 1700006400000
NOW = T0 + 30 * MIN
KEY = "sandbox-api-key-id"
V1 = "/api/v1/df/query_data_v1"
ASYNC = "/api/v1/df/asynchronous/query_data"


def pod_points():
    """Pods in (cluster, namespace): restarts per minute over 30 minutes; some rise, some stay."""
    layout = [  # cluster, namespace, uid, restarts at minute m
        ("c1", "a", "u1", lambda m: 2),
        ("c1", "a", "u2", lambda m: m // 10),        # rose twice
        ("c1", "a", "u3", lambda m: 5 if m < 20 else 6),
        ("c1", "b", "u4", lambda m: 0),
        ("c1", "b", "u5", lambda m: 1 + m // 15),
        ("c2", "a", "u6", lambda m: 3),
        ("c2", "a", "u7", lambda m: 3),
    ]
    points = []
    for cluster, namespace, uid, restarts in layout:
        for minute in range(30):
            points.append({"measurement": "kube_pod", "time": T0 + minute * MIN,
                           "tags": {"cluster_name_k8s": cluster, "namespace": namespace, "uid": uid},
                           "fields": {"restarts": restarts(minute), "ready": 1}})
    return points


def log_points(count=25, source="app"):
    return [{"measurement": source, "time": T0 + (i // 2) * MIN, "tags": {"host": "h%d" % (i % 3)},
             "fields": {"message": "line %02d" % i, "n": i}} for i in range(count)]


def scenario(dql=None, faults=None, logs=25):
    points = {"metric": pod_points(), "logging": log_points(logs),
              "keyevent": log_points(7, "monitor"), "object": [], "custom_object": []}
    for index in range(12):
        for namespace, minute in (("object", 3), ("custom_object", 5)):
            points[namespace].append({"measurement": "host", "time": T0 + (minute + index) * MIN,
                                      "tags": {"name": "host-%02d" % index}, "fields": {"load": index}})
    data = {"runs": [NOW], "guance": {"points": points}, "sandbox": {"faults": faults or []}}
    if dql is not None:
        data["sandbox"]["dql"] = dql
    return data


@pytest.fixture
def guance(make_sandbox):
    """guance(dql=None, faults=None) -> a started sandbox at NOW."""

    def make(dql=None, faults=None, logs=25):
        box = make_sandbox(scenario(dql, faults, logs))
        box.set_run(0)
        return box

    return make


def post(box, path, body):
    return requests.post(box.url + path, json=body, headers={"DF-API-KEY": KEY}, timeout=10)


def ask(box, q, path=V1, **fields):
    """The data[0] of a successful answer to one query."""
    query = {"q": q, "timeRange": [T0, NOW], "disableMultipleField": False}
    query.update(fields)
    response = post(box, path, {"queries": [{"qtype": "dql", "query": query}]})
    assert response.status_code == 200, response.text
    return response.json()["content"]["data"][0]


def refused(box, q, code, fragment, **fields):
    query = {"q": q, "timeRange": [T0, NOW], "disableMultipleField": False}
    query.update(fields)
    response = post(box, V1, {"queries": [{"qtype": "dql", "query": query}]})
    body = response.json()
    assert (response.status_code, body["errorCode"]) == (400, code), body
    assert fragment in body["message"], body["message"]
    return body["message"]


def tagged(answer):
    return [(s.get("tags"), s["values"]) for s in answer["series"]]


# -- nested queries --------------------------------------------------------------------------

CHANGED = ("M::(M::`kube_pod`:(spread(`restarts`) AS `d`) BY `cluster_name_k8s`, `namespace`, `uid`)"
           ":(count(`d`)) {`d` > 0} BY `cluster_name_k8s`, `namespace`")


def test_nested_counts_the_pods_whose_restarts_changed_per_namespace(guance):
    box = guance()
    assert tagged(ask(box, CHANGED)) == [
        ({"cluster_name_k8s": "c1", "namespace": "a"}, [[T0, 2]]),
        ({"cluster_name_k8s": "c1", "namespace": "b"}, [[T0, 1]]),
    ]
    by_distinct = ("M::(M::kube_pod:(count_distinct(restarts) AS n) BY cluster_name_k8s, namespace, uid)"
                   ":(count(n)) {n > 1} BY cluster_name_k8s, namespace")
    assert tagged(ask(box, by_distinct)) == tagged(ask(box, CHANGED))
    pods = ask(box, "M::(M::kube_pod:(spread(restarts) AS d) BY cluster_name_k8s, namespace, uid):(count(d)) "
                    "BY cluster_name_k8s, namespace")
    assert [v[0][1] for _, v in tagged(pods)] == [3, 2, 2]        # every pod, the denominator


def test_spread_is_max_minus_min_and_documented_for_metrics_only(guance):
    box = guance()
    answer = ask(box, "M::kube_pod:(spread(restarts)) {uid IN ['u2', 'u4']} BY uid")
    assert tagged(answer) == [({"uid": "u2"}, [[T0, 2]]), ({"uid": "u4"}, [[T0, 0]])]
    assert answer["column_names"] == ["spread(restarts)"]
    assert answer["query_parse"]["funcs"] == {"spread(restarts)": ["spread"]}
    refused(box, "L::app:(spread(n))", "DQL.Unsupported", "spread() is documented for metrics (M::) only")


def test_nested_outer_aggregates_filters_and_tags_over_the_inner_columns(guance):
    box = guance()
    inner = "M::kube_pod:(max(restarts) AS top, min(restarts) AS low) BY cluster_name_k8s, namespace, uid"
    answer = ask(box, "M::(%s):(count(uid), count_distinct(namespace), sum(top), max(top), min(low), avg(top), "
                      "first(uid), last(uid)) {cluster_name_k8s = 'c1', top >= 2}" % inner)
    assert answer["column_names"] == ["count(uid)", "count_distinct(namespace)", "sum(top)", "max(top)",
                                      "min(low)", "avg(top)", "first(uid)", "last(uid)"]
    # c1 pods with top >= 2: u1 (2), u2 (2), u3 (6), u5 (2); rows of one time in the inner answer's order
    assert answer["series"][0]["values"] == [[T0, 4, 2, 12, 6, 0, 3.0, "u1", "u5"]]
    rows = ask(box, "M::(%s):(top, uid) {low > 0} BY cluster_name_k8s" % inner)
    assert [(s["tags"], [r[1:] for r in s["values"]]) for s in rows["series"]] == [
        ({"cluster_name_k8s": "c1"}, [[2, "u1"], [6, "u3"], [2, "u5"]]),
        ({"cluster_name_k8s": "c2"}, [[3, "u6"], [3, "u7"]])]


def test_nested_three_levels_as_documented_and_raw_inner_rows_are_complete(guance):
    box = guance()
    answer = ask(box, "M::(M::(M::kube_pod:(restarts) {uid = 'u2'}):(restarts) {restarts > 0}):"
                      "(last(restarts), count(restarts))")
    assert answer["series"][0]["values"] == [[T0, 2, 20]]
    alone = ask(box, "M::(M::(M::kube_pod:(restarts) {uid = 'u2'}):(restarts) {restarts > 0}):(last(restarts))")
    assert alone["series"][0]["values"] == [[T0 + 29 * MIN, 2]]       # a lone selector keeps its row's time
    # 210 inner rows: no default row limit inside; the outer raw rows get the query tool's 1000
    assert ask(box, "M::(M::kube_pod:(restarts)):(count(restarts))")["series"][0]["values"][0][1] == 210


def test_nested_outer_paging_by_series_and_rows(guance):
    box = guance()
    q = "M::(M::kube_pod:(last(restarts) AS r) BY namespace, uid):(r, uid) BY namespace"
    assert [s["tags"] for s in ask(box, q)["series"]] == [{"namespace": "a"}, {"namespace": "b"}]
    assert [s["tags"] for s in ask(box, q, slimit=1, soffset=1)["series"]] == [{"namespace": "b"}]
    first = ask(box, q, limit=2, offset=1)["series"][0]
    assert [row[2] for row in first["values"]] == ["u2", "u3"]


@pytest.mark.parametrize("q,code,fragment", [
    ("M::(M::kube_pod:(restarts)), (M::kube_pod:(ready)):(count(restarts))", "DQL.Unsupported",
     "several subqueries at one level"),
    ("M::(L::app:(n)):(count(n))", "DQL.Unsupported", "namespace (M::) must be its subquery's (L::)"),
    ("M::(M::kube_pod:(restarts)):(count(restarts)) [10m]", "DQL.Unsupported", "innermost query"),
    ("M::(M::kube_pod:(last(restarts) AS uid) BY uid):(count(uid))", "DQL.InvalidParam",
     "both a column and a BY tag"),
    ("M::(M::kube_pod:(restarts):(count(restarts))", "DQL.ParseError", "unexpected text"),
])
def test_nested_refusals(guance, q, code, fragment):
    refused(guance(), q, code, fragment)


# -- documented answer fields ----------------------------------------------------------------

def test_every_answer_carries_the_documented_fields(guance):
    answer = ask(guance(), "M::kube_pod:(max(restarts)) BY uid")
    assert {k: answer[k] for k in ("async_id", "is_running", "complete", "next_cursor_time", "sample", "interval",
                                   "window", "max_point", "scan_completed")} == {
        "async_id": "", "is_running": False, "complete": False, "next_cursor_time": -1, "sample": 1,
        "interval": 0, "window": 0, "max_point": 0, "scan_completed": False}
    bucketed = ask(guance(), "M::kube_pod:(max(restarts)) {uid = 'u2'}", interval=600)
    assert (bucketed["interval"], bucketed["window"], bucketed["max_point"]) == (600000, 600000, 4)


# -- deep paging -----------------------------------------------------------------------------

@pytest.mark.parametrize("q,total", [("L::app:(message)", 25), ("E::monitor:(message)", 7),
                                     ("O::host:(load)", 12), ("CO::host:(load)", 12)])
def test_search_after_pages_raw_rows_to_the_end(guance, q, total):
    box = guance()
    seen, after, pages = [], None, 0
    while True:
        fields = {"limit": 5}
        if after is not None:
            fields["search_after"] = after
        answer = ask(box, q, **fields)
        pages += 1
        assert answer["total_hits"] == total
        rows = answer["series"][0]["values"] if answer["series"] else []
        if not rows:
            assert "search_after" not in answer
            break
        assert answer["search_after"][0] == rows[-1][0]
        seen.extend(rows)
        after = answer["search_after"]
    assert len(seen) == total and pages == -(-total // 5) + 1
    assert len(set(tuple(r) for r in seen)) == total
    assert [r[0] for r in seen] == sorted((r[0] for r in seen), reverse=True)     # newest first throughout
    everything = ask(box, q, limit=100)["series"][0]["values"]
    assert seen == everything


def test_search_after_follows_the_order_and_offset_pages_carry_it_too(guance):
    box = guance()
    first = ask(box, "L::app:(n) ORDER BY time ASC", limit=10)
    assert [r[1] for r in first["series"][0]["values"]] == list(range(10))
    second = ask(box, "L::app:(n) ORDER BY time ASC", limit=10, search_after=first["search_after"])
    assert [r[1] for r in second["series"][0]["values"]] == list(range(10, 20))
    by_offset = ask(box, "L::app:(n) ORDER BY time ASC", limit=10, offset=10)
    assert by_offset["search_after"] == second["search_after"]


@pytest.mark.parametrize("q,fields,code,fragment", [
    ("L::app:(message) BY host", {"search_after": [T0, 3]}, "DQL.Unsupported", "without BY"),
    ("M::kube_pod:(restarts)", {"search_after": [T0, 3]}, "DQL.Unsupported", "L::, O::, CO:: and E::"),
    ("L::app:(count(n))", {"search_after": [T0, 3]}, "DQL.Unsupported", "raw rows"),
    ("L::app:(message)", {"search_after": [T0, 3], "offset": 5}, "DQL.InvalidParam", "cannot be combined"),
    ("L::app:(message)", {"search_after": ["x"]}, "DQL.InvalidParam", "previous answer"),
])
def test_search_after_refusals(guance, q, fields, code, fragment):
    refused(guance(), q, code, fragment, **fields)


def test_offset_paging_of_raw_rows_ends_at_the_result_window(guance):
    box = guance()
    assert ask(box, "L::app:(message)", limit=1000, offset=9000)["series"] == []
    message = refused(box, "L::app:(message)", "DQL.ResultWindowTooLarge", "offset + limit = 10001", limit=1000,
                      offset=9001)
    assert "10000" in message and "search_after" in message
    refused(box, "O::host:(load)", "DQL.ResultWindowTooLarge", "past the result window", limit=10001)
    assert ask(box, "M::kube_pod:(restarts)", limit=1000, offset=20000)["series"] == []      # metrics: no window
    assert ask(box, "L::app:(count(n)) BY host", limit=1000, offset=20000)["series"] == []   # aggregates: none
    small = guance({"offset_window": 20})
    assert len(ask(small, "L::app:(message)", limit=10, offset=10)["series"][0]["values"]) == 10
    refused(small, "L::app:(message)", "DQL.ResultWindowTooLarge", "window of 20 rows", limit=10, offset=11)
    unbounded = guance({"offset_window": None})
    assert ask(unbounded, "L::app:(message)", limit=1000, offset=20000)["series"] == []


# -- server page caps ------------------------------------------------------------------------

def test_capped_series_pages_are_shorter_but_consistent(guance):
    box = guance({"max_slimit": 2})
    q = "M::kube_pod:(last(restarts)) BY uid"
    assert len(ask(box, q)["series"]) == 2                        # no slimit: the cap still applies
    collected, soffset = [], 0
    while True:
        page = ask(box, q, slimit=1000, soffset=soffset)["series"]
        assert len(page) <= 2
        if not page:
            break
        collected.extend(s["tags"]["uid"] for s in page)
        soffset += len(page)
    assert collected == ["u1", "u2", "u3", "u4", "u5", "u6", "u7"]


def test_capped_row_pages(guance):
    box = guance({"max_limit": 4})
    assert len(ask(box, "L::app:(message)")["series"][0]["values"]) == 4          # the default 1000, capped
    answer = ask(box, "L::app:(n)", limit=1000)
    assert [r[1] for r in answer["series"][0]["values"]] == [24, 23, 22, 21]
    after = ask(box, "L::app:(n)", limit=1000, search_after=answer["search_after"])
    assert [r[1] for r in after["series"][0]["values"]] == [20, 19, 18, 17]
    per_series = ask(box, "M::kube_pod:(restarts) BY uid", limit=10, offset=4)
    assert all(len(s["values"]) == 4 for s in per_series["series"])
    assert ask(box, "M::kube_pod:(max(restarts)) [::1m] BY uid", slimit=1)["series"][0]["values"].__len__() == 4


# -- series order ----------------------------------------------------------------------------

def test_sorder_by_output_columns_and_tags(guance):
    box = guance()
    q = "M::kube_pod:(max(restarts) AS top) BY namespace, uid"
    by_top = ask(box, q, sorder_by=[{"column": "top", "order": "DESC"}])
    assert [s["tags"]["uid"] for s in by_top["series"]] == ["u3", "u6", "u7", "u1", "u2", "u5", "u4"]
    assert ask(box, q, sorder_by=[{"column": "`#1`", "order": "DESC"}])["series"] == by_top["series"]
    by_tags = ask(box, q, sorder_by=[{"column": "namespace", "order": "DESC"}, {"column": "top", "order": "ASC"}])
    assert [s["tags"]["uid"] for s in by_tags["series"]] == ["u4", "u5", "u1", "u2", "u6", "u7", "u3"]
    legacy = ask(box, q, sorderby=[{"uid": "desc"}], slimit=3, soffset=1)
    assert [s["tags"]["uid"] for s in legacy["series"]] == ["u6", "u5", "u4"]
    refused(box, "M::kube_pod:(restarts) BY uid", "DQL.Unsupported", "one row per series",
            sorder_by=[{"column": "restarts", "order": "DESC"}])


def uids_by_pages(box, size, **fields):
    out = []
    for soffset in range(0, 7, size):
        out.extend(s["tags"]["uid"] for s in ask(box, "M::kube_pod:(last(restarts)) BY uid", slimit=size,
                                                  soffset=soffset, **fields)["series"])
    return out


def test_unstable_series_order_breaks_offset_paging_unless_sorder_by(guance):
    stable = guance()
    assert uids_by_pages(stable, 2) == ["u1", "u2", "u3", "u4", "u5", "u6", "u7"]
    unstable = guance({"unstable_series_order": True, "seed": 7})
    paged = uids_by_pages(unstable, 2)
    assert len(paged) == 7 and len(set(paged)) < 7                # duplicates, hence missing series
    assert uids_by_pages(guance({"unstable_series_order": True, "seed": 7}), 2) == paged     # reproducible
    ordered = uids_by_pages(unstable, 2, sorder_by=[{"column": "uid", "order": "ASC"}])
    assert ordered == ["u1", "u2", "u3", "u4", "u5", "u6", "u7"]


# -- partial answers -------------------------------------------------------------------------

def test_async_polls_answer_running_then_the_result(guance):
    plain = ask(guance(), CHANGED)
    box = guance({"async_polls": 3})
    query = {"q": CHANGED, "timeRange": [T0, NOW], "disableMultipleField": False}
    first = post(box, V1, {"queries": [{"qtype": "dql", "query": query}]}).json()["content"]["data"][0]
    assert first["is_running"] is True and first["async_id"] and first["series"] == []
    assert "total_hits" not in first
    polls = []
    for _ in range(3):
        answer = post(box, ASYNC, {"queries": [{"qtype": "dql", "async_id": first["async_id"], "query": query}]})
        assert answer.status_code == 200, answer.text
        polls.append(answer.json()["content"]["data"][0])
    assert [p["is_running"] for p in polls] == [True, True, False]
    result = polls[-1]
    assert result["async_id"] == first["async_id"] and result["series"] == plain["series"]
    again = post(box, ASYNC, {"queries": [{"qtype": "dql", "async_id": first["async_id"], "query": query}]})
    assert again.status_code == 400 and again.json()["errorCode"] == "DQL.AsyncQueryNotFound"


def test_async_endpoint_rules(guance):
    box = guance()
    query = {"q": CHANGED, "timeRange": [T0, NOW], "disableMultipleField": False}
    direct = post(box, ASYNC, {"queries": [{"qtype": "dql", "query": query}]}).json()["content"]["data"][0]
    assert direct["is_running"] is False and direct["async_id"] == "" and direct["series"]
    running = guance({"async_polls": 1})
    started = post(running, ASYNC, {"queries": [{"qtype": "dql", "query": query}]}).json()["content"]["data"][0]
    assert started["is_running"] is True
    other = dict(query, q="M::kube_pod:(count(restarts))")
    wrong = post(running, ASYNC, {"queries": [{"qtype": "dql", "async_id": started["async_id"], "query": other}]})
    assert wrong.status_code == 400 and "belongs to another query" in wrong.json()["message"]
    unknown = post(running, ASYNC, {"queries": [{"qtype": "dql", "async_id": "nope", "query": query}]})
    assert unknown.json()["errorCode"] == "DQL.AsyncQueryNotFound" and "queries[0]" in unknown.json()["message"]
    done = post(running, ASYNC, {"queries": [{"qtype": "dql", "async_id": started["async_id"], "query": query}]})
    assert done.json()["content"]["data"][0]["series"] == direct["series"]


def test_segments_cover_the_range_once_newest_first(guance):
    box = guance({"segment_ms": 7 * MIN})
    rows, cursor, segments = [], None, []
    while True:
        fields = {"limit": 1000, "cursor_time": cursor} if cursor else {"limit": 1000}
        answer = ask(box, "L::app:(n)", **fields)
        segments.append(answer["next_cursor_time"])
        rows.extend(r[1] for s in answer["series"] for r in s["values"])
        if answer["next_cursor_time"] == -1:
            break
        cursor = answer["next_cursor_time"]
    assert segments == [NOW - 7 * MIN, NOW - 14 * MIN, NOW - 21 * MIN, NOW - 28 * MIN, -1]
    assert rows == list(range(24, -1, -1))                        # every row once, newest first
    assert ask(box, "L::app:(n)", limit=1000)["complete"] is False
    partial = ask(box, "M::kube_pod:(count(restarts)) {uid = 'u1'}")
    assert partial["series"][0]["values"][0][1] == 6 and partial["next_cursor_time"] == NOW - 7 * MIN


def test_cursor_time_without_segments_ends_the_range(guance):
    answer = ask(guance(), "L::app:(n)", cursor_time=T0 + 2 * MIN, limit=100)
    assert [r[1] for r in answer["series"][0]["values"]] == [5, 4, 3, 2, 1, 0]
    assert answer["next_cursor_time"] == -1


# -- bucketing and sampling ------------------------------------------------------------------

def test_auto_interval_buckets_aggregates_that_give_none(guance):
    box = guance({"auto_interval_ms": 10 * MIN})
    answer = ask(box, "M::kube_pod:(max(restarts)) {uid = 'u2'}")
    assert answer["series"][0]["values"] == [[T0 + 20 * MIN, 2], [T0 + 10 * MIN, 1], [T0, 0]]
    assert (answer["interval"], answer["window"]) == (10 * MIN, 10 * MIN)
    explicit = ask(box, "M::kube_pod:(max(restarts)) {uid = 'u2'}", interval=1800)
    assert len(explicit["series"][0]["values"]) == 1 and explicit["interval"] == 30 * MIN
    assert ask(box, "M::kube_pod:(restarts) {uid = 'u2'}")["interval"] == 0                # raw rows: none
    nested = ask(box, CHANGED)
    assert nested["interval"] == 0 and tagged(nested) == tagged(ask(guance(), CHANGED))   # nested: none
    assert ask(box, "L::app:(count(n) AS c) ORDER BY c DESC")["interval"] == 0


def test_sampling_reads_a_fixed_share_unless_disabled(guance):
    box = guance({"sample_rate": 0.5})
    sampled = ask(box, "M::kube_pod:(count(restarts))")
    count = sampled["series"][0]["values"][0][1]
    assert sampled["sample"] == 0.5 and 60 < count < 150
    assert ask(box, "M::kube_pod:(count(restarts))")["series"] == sampled["series"]          # deterministic
    rows = ask(box, "L::app:(n)", limit=100)
    assert rows["sample"] == 0.5 and 0 < len(rows["series"][0]["values"]) < 25
    full = ask(box, "M::kube_pod:(count(restarts))", disable_sampling=True)
    assert full["sample"] == 1 and full["series"][0]["values"][0][1] == 210
    assert ask(guance(), "M::kube_pod:(count(restarts))", disable_sampling=False)["sample"] == 1


# -- endless paging --------------------------------------------------------------------------

def test_endless_dql_pages_never_run_out(guance):
    box = guance(faults=[{"service": "guance", "action": V1, "endless": True}])
    q = "M::kube_pod:(last(restarts)) BY uid"
    for soffset in (0, 5, 700):
        assert len(ask(box, q, slimit=3, soffset=soffset)["series"]) == 3
    rows = ask(box, "M::kube_pod:(restarts) {uid = 'u1'}", limit=50, offset=1000)["series"][0]["values"]
    assert len(rows) == 50
    after = None
    for _ in range(8):
        answer = ask(box, "L::app:(n)", limit=10, **({"search_after": after} if after else {}))
        assert len(answer["series"][0]["values"]) == 10
        after = answer["search_after"]
    assert box.calls[-1]["fault"] == "endless"


def test_settings_are_validated_with_their_path():
    for dql, fragment in [({"max_limit": 0}, "sandbox.dql.max_limit: expected a whole number >= 1"),
                          ({"sample_rate": 1.5}, "sandbox.dql.sample_rate"),
                          ({"async_polls": -1}, "sandbox.dql.async_polls"),
                          ({"unstable_series_order": "yes"}, "sandbox.dql.unstable_series_order"),
                          ({"seed": 1.5}, "sandbox.dql.seed"),
                          ({"segment_ms": "1m"}, "sandbox.dql.segment_ms"),
                          ({"max_slimt": 3}, "sandbox.dql.max_slimt: unknown key"),
                          ([], "sandbox.dql: expected an object")]:
        with pytest.raises(scenarios.ScenarioError) as info:
            scenarios.from_dict({"sandbox": {"dql": dql}})
        assert fragment in str(info.value)
    with pytest.raises(scenarios.ScenarioError) as info:
        scenarios.from_dict({"sandbox": {"fault_seed": "x"}})
    assert "sandbox.fault_seed" in str(info.value)
