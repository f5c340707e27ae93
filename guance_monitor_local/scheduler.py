"""``guance-monitor serve``: run DFF.API functions on their ``fixed_crontab`` schedules.

Cron times are matched in DataFlux Func's default zone, Asia/Shanghai (UTC+8,
no daylight saving). A run that is still going when its next time comes is
skipped (Func's worker would queue it; for inspections a skipped run is the
better behaviour: the next one sees the same data). Time comes from the
injectable clock, so the schedule can be tested without waiting.
"""
import datetime
import threading

from croniter import croniter

from guance_monitor import clock

FUNC_ZONE = datetime.timezone(datetime.timedelta(hours=8))


class Job:
    def __init__(self, func_id, cron, start):
        self.func_id = func_id
        self.cron = cron
        self._iter = croniter(cron, start.astimezone(FUNC_ZONE))
        self.next_at = self._iter.get_next(datetime.datetime)
        self.thread = None
        self.skipped = 0

    def advance(self):
        self.next_at = self._iter.get_next(datetime.datetime)

    @property
    def running(self):
        return self.thread is not None and self.thread.is_alive()


class Scheduler:
    """Runs ``run(func_id, cron)`` for each job at its cron times, one thread per run."""

    def __init__(self, jobs, run, report=None):
        now = clock.now()
        self.jobs = [Job(func_id, cron, now) for func_id, cron in jobs]
        self.run = run
        self.report = report or (lambda message: None)

    def tick(self):
        """Start the jobs that are due; returns the seconds until the next one is."""
        now = clock.now()
        for job in self.jobs:
            if now < job.next_at:
                continue
            while job.next_at <= now:   # after a long pause, run once, not once per missed time
                job.advance()
            if job.running:
                job.skipped += 1
                self.report("%s: the previous run is still going; skipped" % job.func_id)
                continue
            job.thread = threading.Thread(target=self.run, args=(job.func_id, job.cron), daemon=True)
            job.thread.start()
        upcoming = min(job.next_at for job in self.jobs)
        return max(0.0, (upcoming - clock.now()).total_seconds())

    def forever(self):
        for job in self.jobs:
            self.report("scheduled %s: %s (next %s)" % (job.func_id, job.cron, job.next_at.strftime(
                "%Y-%m-%d %H:%M:%S %z")))
        while True:
            clock.sleep(max(0.2, self.tick()))
