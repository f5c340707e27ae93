"""AlertTracker: report a condition once, again only when it changes, recover with care."""
import pytest

from guance_monitor.alerts import AlertTracker
from guance_monitor.state import MemoryStore

T0 = 1795161600000  # 2026-11-20T08:00:00Z in epoch ms
MIN = 60 * 1000
HOUR = 60 * MIN
DAY = 24 * HOUR


def reasons(decisions):
    return sorted((d.key, d.status, d.reason) for d in decisions)


def step(tracker, firing=None, healthy=(), now_ms=T0, info=None):
    decisions = tracker.update(firing or {}, healthy, info=info, now_ms=now_ms)
    tracker.commit()
    return reasons(decisions)


@pytest.fixture
def store():
    return MemoryStore()


def test_new_condition_is_reported(store):
    tracker = AlertTracker(store)
    decisions = tracker.update({"pod-a": "warning"}, now_ms=T0)
    assert reasons(decisions) == [("pod-a", "warning", "new")]
    assert decisions[0].previous is None and decisions[0].since_ms == T0


def test_same_status_is_not_reported_again(store):
    tracker = AlertTracker(store)
    step(tracker, {"pod-a": "warning"}, now_ms=T0)
    assert step(tracker, {"pod-a": "warning"}, now_ms=T0 + 30 * MIN) == []
    assert step(tracker, {"pod-a": "warning"}, now_ms=T0 + 60 * MIN) == []
    assert tracker.state()["pod-a"]["reported_ms"] == T0


def test_escalated_and_deescalated(store):
    tracker = AlertTracker(store)
    step(tracker, {"pod-a": "warning"}, now_ms=T0)
    assert step(tracker, {"pod-a": "critical"}, now_ms=T0 + MIN) == [("pod-a", "critical", "escalated")]
    decisions = tracker.update({"pod-a": "error"}, now_ms=T0 + 2 * MIN)
    assert reasons(decisions) == [("pod-a", "error", "deescalated")]
    assert decisions[0].previous["status"] == "critical"
    assert decisions[0].since_ms == T0  # the condition started with the first report
    tracker.commit()
    assert step(tracker, {"pod-a": "error"}, now_ms=T0 + 3 * MIN) == []


def test_reminder_after_the_interval_then_quiet_again(store):
    tracker = AlertTracker(store, reminder_seconds=3600)
    step(tracker, {"pod-a": "warning"}, now_ms=T0)
    assert step(tracker, {"pod-a": "warning"}, now_ms=T0 + HOUR - 1) == []
    assert step(tracker, {"pod-a": "warning"}, now_ms=T0 + HOUR) == [("pod-a", "warning", "reminder")]
    # The reminder counts as a report: the next one is an interval later.
    assert step(tracker, {"pod-a": "warning"}, now_ms=T0 + HOUR + 30 * MIN) == []
    assert step(tracker, {"pod-a": "warning"}, now_ms=T0 + 2 * HOUR) == [("pod-a", "warning", "reminder")]


def test_escalation_restarts_the_reminder_interval(store):
    tracker = AlertTracker(store, reminder_seconds=3600)
    step(tracker, {"pod-a": "warning"}, now_ms=T0)
    step(tracker, {"pod-a": "critical"}, now_ms=T0 + 50 * MIN)
    assert step(tracker, {"pod-a": "critical"}, now_ms=T0 + HOUR) == []
    assert step(tracker, {"pod-a": "critical"}, now_ms=T0 + 50 * MIN + HOUR) == [
        ("pod-a", "critical", "reminder")]


def test_no_reminders_when_disabled(store):
    tracker = AlertTracker(store, reminder_seconds=None)
    step(tracker, {"pod-a": "warning"}, now_ms=T0)
    assert step(tracker, {"pod-a": "warning"}, now_ms=T0 + 6 * DAY) == []


def test_recovers_after_one_healthy_run_by_default(store):
    tracker = AlertTracker(store)
    step(tracker, {"pod-a": "warning"}, now_ms=T0)
    decisions = tracker.update({}, healthy=["pod-a"], now_ms=T0 + 30 * MIN)
    assert reasons(decisions) == [("pod-a", "ok", "recovered")]
    assert decisions[0].since_ms == T0 and decisions[0].previous["status"] == "warning"
    tracker.commit()
    assert tracker.state() == {}
    # Recovered means forgotten: firing again is new.
    assert step(tracker, {"pod-a": "warning"}, now_ms=T0 + HOUR) == [("pod-a", "warning", "new")]


def test_recovery_needs_consecutive_healthy_runs_and_the_streak_resets(store):
    tracker = AlertTracker(store, recover_after_runs=3)
    step(tracker, {"pod-a": "error"}, now_ms=T0)
    assert step(tracker, healthy=["pod-a"], now_ms=T0 + 1 * MIN) == []
    assert step(tracker, healthy=["pod-a"], now_ms=T0 + 2 * MIN) == []
    assert tracker.state()["pod-a"]["clear_runs"] == 2
    # Fires again before the third healthy run: same status, nothing to report, streak back to 0.
    assert step(tracker, {"pod-a": "error"}, now_ms=T0 + 3 * MIN) == []
    assert tracker.state()["pod-a"]["clear_runs"] == 0
    assert step(tracker, healthy=["pod-a"], now_ms=T0 + 4 * MIN) == []
    assert step(tracker, healthy=["pod-a"], now_ms=T0 + 5 * MIN) == []
    assert step(tracker, healthy=["pod-a"], now_ms=T0 + 6 * MIN) == [("pod-a", "ok", "recovered")]


def test_healthy_keys_that_never_fired_report_nothing(store):
    tracker = AlertTracker(store)
    assert step(tracker, {}, healthy=["pod-b", "pod-c"], now_ms=T0) == []
    assert tracker.state() == {}


def test_no_data_keeps_the_state_and_never_recovers(store):
    tracker = AlertTracker(store, reminder_seconds=None, forget_after_seconds=7 * 86400)
    step(tracker, {"pod-a": "critical", "pod-b": "warning"}, now_ms=T0)
    before = tracker.state()["pod-a"]
    for hour in range(1, 25):
        # pod-a: no data at all; pod-b keeps firing.
        assert step(tracker, {"pod-b": "warning"}, now_ms=T0 + hour * HOUR) == []
    assert tracker.state()["pod-a"] == before
    # Data comes back, still firing with the same status: not new.
    assert step(tracker, {"pod-a": "critical"}, now_ms=T0 + 2 * DAY) == []


def test_no_data_between_healthy_runs_does_not_recover(store):
    tracker = AlertTracker(store, recover_after_runs=2)
    step(tracker, {"pod-a": "warning"}, now_ms=T0)
    assert step(tracker, healthy=["pod-a"], now_ms=T0 + MIN) == []
    assert step(tracker, {}, now_ms=T0 + 2 * MIN) == []
    assert step(tracker, {}, now_ms=T0 + 3 * MIN) == []
    assert "pod-a" in tracker.state()


def test_state_forgotten_after_forget_after_seconds_without_data(store):
    tracker = AlertTracker(store, forget_after_seconds=86400)
    step(tracker, {"pod-a": "warning"}, now_ms=T0)
    assert step(tracker, {}, now_ms=T0 + DAY - 1) == []
    assert "pod-a" in tracker.state()
    assert step(tracker, {}, now_ms=T0 + DAY) == []  # forgetting is silent: no recovery
    assert tracker.state() == {}
    assert step(tracker, {"pod-a": "warning"}, now_ms=T0 + DAY + MIN) == [("pod-a", "warning", "new")]


def test_forget_counts_from_the_last_healthy_sighting(store):
    tracker = AlertTracker(store, recover_after_runs=5, forget_after_seconds=86400)
    step(tracker, {"pod-a": "warning"}, now_ms=T0)
    step(tracker, healthy=["pod-a"], now_ms=T0 + 12 * HOUR)
    assert step(tracker, {}, now_ms=T0 + 30 * HOUR) == []
    assert "pod-a" in tracker.state()
    step(tracker, {}, now_ms=T0 + 36 * HOUR)
    assert tracker.state() == {}


def test_nothing_is_persisted_before_commit(store):
    tracker = AlertTracker(store)
    assert reasons(tracker.update({"pod-a": "warning"}, now_ms=T0)) == [("pod-a", "warning", "new")]
    assert store.get("alerts") is None
    # A crash before commit: the next run (a new tracker on the same store) reports it again.
    again = AlertTracker(store)
    assert reasons(again.update({"pod-a": "warning"}, now_ms=T0 + MIN)) == [("pod-a", "warning", "new")]
    again.commit()
    assert store.get("alerts")["pod-a"]["status"] == "warning"
    assert reasons(AlertTracker(store).update({"pod-a": "warning"}, now_ms=T0 + 2 * MIN)) == []


def test_commit_without_update_writes_nothing(store):
    tracker = AlertTracker(store)
    tracker.commit()
    assert store.get("alerts") is None


def test_info_is_kept_until_replaced(store):
    tracker = AlertTracker(store)
    step(tracker, {"pod-a": "warning"}, info={"pod-a": {"restarts": 3}}, now_ms=T0)
    step(tracker, {"pod-a": "warning"}, now_ms=T0 + MIN)
    assert tracker.state()["pod-a"]["info"] == {"restarts": 3}
    step(tracker, {"pod-a": "warning"}, info={"pod-a": {"restarts": 5}}, now_ms=T0 + 2 * MIN)
    assert tracker.state()["pod-a"]["info"] == {"restarts": 5}


@pytest.mark.parametrize("status", ["ok", "fatal", "", None, "WARNING"])
def test_invalid_firing_status_raises(store, status):
    tracker = AlertTracker(store)
    with pytest.raises(ValueError) as info:
        tracker.update({"pod-a": status}, now_ms=T0)
    assert str(info.value) == "firing status of 'pod-a' must be one of info, warning, error, critical"
    assert store.get("alerts") is None


def test_scoped_stores_keep_inspections_apart(store):
    spot = AlertTracker(store.scoped("spot-alive"))
    pods = AlertTracker(store.scoped("k8s-pod-restart"))
    step(spot, {"i-1": "critical"}, now_ms=T0)
    assert step(pods, {"i-1": "warning"}, now_ms=T0) == [("i-1", "warning", "new")]
    assert spot.state()["i-1"]["status"] == "critical"


def test_a_deleted_state_with_open_alerts_is_noticed_not_taken_for_a_first_run(store):
    """Found by the fault benchmark (seed 5: the spot alert state deleted from the store while an alert was
    open): the alert was reported again as new with no warning. Now the tracker says what happened."""
    tracker = AlertTracker(store)
    step(tracker, {"pod-a": "critical", "pod-b": "warning"}, now_ms=T0)
    store.delete("alerts")
    again = AlertTracker(store)
    assert again.state() == {}
    assert again.problems == ["the alert state is missing although 2 alerts were open (removed from the store?)"]
    step(again, {}, healthy=["pod-a", "pod-b"], now_ms=T0 + MIN)       # nothing open any more: nothing to notice
    store.delete("alerts")
    assert AlertTracker(store).state() == {} and AlertTracker(store).problems == []


def test_a_first_run_and_a_state_without_open_alerts_are_quiet(store):
    assert AlertTracker(store).state() == {} and AlertTracker(store).problems == []
    tracker = AlertTracker(store)
    step(tracker, {"pod-a": "warning"}, now_ms=T0)
    step(tracker, {}, healthy=["pod-a"], now_ms=T0 + MIN)
    fresh = AlertTracker(store)
    assert fresh.state() == {} and fresh.problems == []
