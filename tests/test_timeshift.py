"""Moving a scenario in time: every time moves, each in its own form; nothing else changes."""
import copy
import json

import pytest

from guance_monitor import clock
from guance_monitor_local import demo
from guance_monitor_local import scenario as scenarios
from guance_monitor_local import timeshift

DAY_MS = 24 * 3600 * 1000


@pytest.mark.parametrize("text, moved", [
    ("2026-11-19T10:00Z", "2026-11-20T10:00Z"),                       # ECS instance times: no seconds
    ("2026-11-20T07:27:50Z", "2026-11-21T07:27:50Z"),
    ("2026-11-20T07:27:50.125Z", "2026-11-21T07:27:50.125Z"),
    ("2026-11-30T23:59:59+08:00", "2026-12-01T23:59:59+08:00"),
    ("2026-11-20T08:00:00", "2026-11-21T08:00:00"),
    ("startedAt: '2026-11-20T07:27:50Z'\n  finishedAt: '2026-11-20T07:29:50Z'",
     "startedAt: '2026-11-21T07:27:50Z'\n  finishedAt: '2026-11-21T07:29:50Z'"),
    ('{"CreationTime": "2026-11-19T10:00Z", "Cpu": 2}', '{"CreationTime": "2026-11-20T10:00Z", "Cpu": 2}'),
    ("image: registry/app:2026-11-20", "image: registry/app:2026-11-20"),   # a date alone is not a time
    ("2026-13-45T99:99Z", "2026-13-45T99:99Z"),                           # not a real date-time
    ("cart-7d9f8c6b5a-x7k2p", "cart-7d9f8c6b5a-x7k2p"),
])
def test_date_times_in_text_move_in_their_own_form(text, moved):
    assert timeshift.shift_text(text, DAY_MS) == moved


@pytest.mark.parametrize("value, moved", [
    (1795159500000, 1795159500000 + DAY_MS),
    (1795159500000.0, 1795159500000.0 + DAY_MS),
    ("1795159500000", str(1795159500000 + DAY_MS)),
    ("2026-11-20T08:00:00Z", "2026-11-21T08:00:00Z"),
    ("", ""),
    (None, None),
])
def test_time_values_keep_their_type(value, moved):
    assert timeshift.shift_time(value, DAY_MS) == moved


def test_whole_minutes_back_never_passes_the_target():
    run = clock.to_ms(clock.parse_time("2026-11-20T08:00:30Z"))
    now = clock.to_ms(clock.parse_time("2027-01-05T14:37:12.5Z"))
    delta = timeshift.whole_minutes_back(run, now)
    assert delta % 60000 == 0 and now - 60000 < run + delta <= now


def load_demo():
    with open(demo.BUNDLED_SCENARIO, encoding="utf-8") as handle:
        return json.load(handle)


def test_every_time_of_the_demo_moves_and_nothing_else():
    data = load_demo()
    original = copy.deepcopy(data)
    moved = timeshift.shift_scenario_data(data, 3 * DAY_MS)
    assert data == original  # the input is not changed
    assert moved["runs"][0] == "2026-11-23T08:00:00Z"
    hz, hz0 = moved["aliyun"]["cn-hangzhou"], original["aliyun"]["cn-hangzhou"]
    assert hz["spot_price_history"][0]["Timestamp"] == "2026-11-16T06:00:00Z"
    assert hz["spot_price_history"][0]["SpotPrice"] == hz0["spot_price_history"][0]["SpotPrice"]
    assert hz["instances"][0]["CreationTime"] == "2026-11-22T10:00Z"
    assert hz["instances"][0]["_visible_until"] == "2026-11-23T07:58:00Z"
    assert hz["system_events"][0]["Time"] == "2026-11-23T07:58:30Z"
    assert hz["_zones"] == hz0["_zones"] and hz["instances"][0]["Memory"] == hz0["instances"][0]["Memory"]
    points, points0 = moved["guance"]["points"], original["guance"]["points"]
    for key in points0:
        for new, old in zip(points[key], points0[key]):
            assert clock.to_ms(clock.parse_time(new["time"])) == clock.to_ms(clock.parse_time(old["time"])) + 3 * DAY_MS
            assert new["tags"] == old["tags"]
            for name, value in old["fields"].items():
                if not isinstance(value, str):
                    assert new["fields"][name] == value, name   # restarts, age, memory: not times
    ecs = json.loads(points["custom_object"][0]["fields"]["message"])
    assert ecs["CreationTime"] == "2026-11-22T10:00Z"
    assert moved["guance"]["studio"] == original["guance"]["studio"]


def test_a_pod_yaml_inside_an_object_message_moves():
    data = load_demo()
    messages = [p["fields"]["message"] for p in data["guance"]["points"]["object"] if "startedAt" in
                p["fields"].get("message", "")]
    assert messages, "the demo has pods with container times"
    moved = timeshift.shift_scenario_data(data, DAY_MS)
    after = [p["fields"]["message"] for p in moved["guance"]["points"]["object"] if "startedAt" in
             p["fields"].get("message", "")]
    assert after == [timeshift.shift_text(m, DAY_MS) for m in messages] and after != messages


def test_scenario_moved_to_now_puts_the_chosen_run_at_the_current_minute():
    scenario = scenarios.load(demo.BUNDLED_SCENARIO)
    now = "2027-03-01T10:17:42Z"
    last = scenario.moved_to(now)
    assert clock.iso(last.runs[-1]) == "2027-03-01T10:17:00Z"
    first = scenario.moved_to(now, 0)
    assert clock.iso(first.runs[0]) == "2027-03-01T10:17:00Z"
    assert [clock.to_ms(b) - clock.to_ms(a) for a, b in zip(scenario.runs, first.runs)] == \
        [clock.to_ms(first.runs[0]) - clock.to_ms(scenario.runs[0])] * len(scenario.runs)
    delta = clock.to_ms(last.runs[-1]) - clock.to_ms(scenario.runs[-1])
    assert last.latest_point_ms() == scenario.latest_point_ms() + delta
    assert last.studio == scenario.studio


def test_a_run_index_out_of_range_names_the_runs():
    scenario = scenarios.load(demo.BUNDLED_SCENARIO)
    with pytest.raises(scenarios.ScenarioError) as info:
        scenario.moved_to("2027-03-01T10:17:42Z", 6)
    assert str(info.value) == "runs: no run 6; this scenario has 6 runs (0 to 5)"
