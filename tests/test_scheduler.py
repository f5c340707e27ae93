"""`guance-monitor serve` runs functions at their cron times (Asia/Shanghai), once per due time."""
import datetime
import threading

from guance_monitor import clock
from guance_monitor_local import scheduler


class Clock(object):
    def __init__(self, at):
        self.at = clock.parse_time(at)

    def __call__(self):
        return self.at

    def advance(self, seconds):
        self.at += datetime.timedelta(seconds=seconds)


def make(jobs, at="2026-11-20T08:00:30Z"):
    fake = Clock(at)
    clock.set_wall_clock(fake)
    runs = []

    def run(func_id, cron):
        runs.append((func_id, clock.iso(fake.at)))

    return scheduler.Scheduler(jobs, run), fake, runs


def wait_threads(sched):
    for job in sched.jobs:
        if job.thread is not None:
            job.thread.join(5)


def test_runs_each_function_at_its_cron_times():
    sched, fake, runs = make([("startup__a.run", "*/2 * * * *"), ("startup__b.run", "*/30 * * * *")])
    assert sched.tick() == 90.0            # next */2 time is 08:02:00
    fake.advance(90)
    sched.tick()
    wait_threads(sched)
    assert runs == [("startup__a.run", "2026-11-20T08:02:00Z")]
    fake.advance(28 * 60)                   # 08:30:00: both are due
    sched.tick()
    wait_threads(sched)
    assert sorted(r[0] for r in runs[1:]) == ["startup__a.run", "startup__b.run"]


def test_cron_is_matched_in_func_time_zone():
    # "0 9 * * *" is 09:00 in Asia/Shanghai = 01:00 UTC.
    sched, fake, runs = make([("startup__a.run", "0 9 * * *")], at="2026-11-20T00:30:00Z")
    assert sched.jobs[0].next_at == datetime.datetime(2026, 11, 20, 1, 0, tzinfo=datetime.timezone.utc)


def test_a_run_still_going_is_skipped_and_missed_times_run_once():
    release = threading.Event()
    calls = []

    def slow(func_id, cron):
        calls.append(func_id)
        release.wait(5)

    fake = Clock("2026-11-20T08:00:30Z")
    clock.set_wall_clock(fake)
    sched = scheduler.Scheduler([("startup__a.run", "* * * * *")], slow)
    fake.advance(30)
    sched.tick()
    fake.advance(60)
    sched.tick()                             # still running: skipped
    assert calls == ["startup__a.run"] and sched.jobs[0].skipped == 1
    release.set()
    wait_threads(sched)
    fake.advance(10 * 60)                    # ten missed minutes: one run, not ten
    sched.tick()
    wait_threads(sched)
    assert len(calls) == 2
