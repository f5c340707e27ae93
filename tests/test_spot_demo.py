"""`guance-monitor demo --check spot-alive` shows the spot events of the bundled demo scenario."""
import io
import json
import os

from guance_monitor_local import cli
from guance_monitor_local import demo
from guance_monitor_local import scenario as scenarios


def read_events(out):
    with io.open(os.path.join(str(out), "events.jsonl"), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_demo_shows_the_spot_events(tmp_path, capsys):
    assert cli.main(["demo", "--check", "spot-alive", "--out", str(tmp_path)]) == 0
    stdout = capsys.readouterr().out
    assert "spot-alive" in stdout and "FAILED" not in stdout
    events = [e for e in read_events(tmp_path) if e["check"] == "spot-alive"]
    first = {}
    for event in events:
        first.setdefault((event["dimension_tags"].get("instance_id"), event["status"]), event)
    # whatever extra run times the merged demo has, the story is the same:
    for key in (("i-bp1pricey04", "warning"), ("i-bp1bidlow02", "error"), ("i-bp1recycle01", "critical")):
        assert key in first
    critical = first[("i-bp1recycle01", "critical")]
    assert "2026-11-20T07:58:00Z" <= critical["run"] <= "2026-11-20T08:04:00Z"     # locked at 07:58, gone at 08:05
    released = [e for e in events if e["status"] == "ok" and e["dimension_tags"].get("instance_id") == "i-bp1recycle01"]
    assert len(released) == 1 and released[0]["run"] >= "2026-11-20T08:05:00Z"
    assert released[0]["title"].startswith(u"抢占式实例已释放 / Spot instance released")
    assert u"## 抢占式实例类型历史价格" in critical["message"]
    assert len(os.listdir(os.path.join(str(tmp_path), "events"))) >= 4


def test_bundled_demo_has_what_the_issue_asks_for():
    data = scenarios.load(demo.BUNDLED_SCENARIO)
    region = data.aliyun["cn-hangzhou"]
    zones = set(p["ZoneId"] for p in region["spot_price_history"])
    assert len(zones) >= 3
    span_hours = {}
    for point in region["spot_price_history"]:
        span_hours.setdefault((point["InstanceType"], point["ZoneId"]), []).append(point["Timestamp"])
    for stamps in span_hours.values():
        assert len(stamps) >= 7 * 24
    locked = [i for i in region["instances"] if i["OperationLocks"]["LockReason"]]
    assert [i["InstanceId"] for i in locked] == ["i-bp1recycle01"]
    assert (locked[0]["_visible_from"], locked[0]["_visible_until"]) == ("2026-11-20T07:58:00Z", "2026-11-20T08:05:00Z")
    assert data.studio_for("spot-alive")["callKwargs"]["configs"] == [{"spot_with_price_limit": "25%"}]
