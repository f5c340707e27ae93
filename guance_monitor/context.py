"""The run context: what ``self_hosted_monitor`` learned, for the Runner and EventReporter.

``self_hosted_monitor`` activates a ``RunContext`` for the duration of the
decorated call; ``Runner`` and ``EventReporter``, created inside that call,
read it with ``current()``. It carries the Guance client, the inspection's
identity (refKey, rule UUID), the run's deadline, the state store and the
time the run started.
"""
import threading

from guance_monitor import clock
from guance_monitor import retry

# Reporting needs time after the checkers: keep this share of the budget (at most REPORT_RESERVE_MAX s).
REPORT_RESERVE_SHARE = 0.2
REPORT_RESERVE_MAX = 30.0

_local = threading.local()


class RunContext(object):
    def __init__(self, api=None, store=None, deadline=None, ref_key=None, rule_uuid=None,
                 func_id=None, title=None, started_at=None):
        self.api = api                  # GuanceOpenAPI (None in debug runs outside Func)
        self.store = store              # guance_monitor.state.Store
        self.deadline = deadline or retry.Deadline(None)
        self.ref_key = ref_key
        self.rule_uuid = rule_uuid
        self.func_id = func_id
        self.title = title
        self.started_at = started_at or clock.now()

    def work_deadline(self):
        """The part of the budget checkers may spend, leaving a reserve for reporting."""
        remaining = self.deadline.remaining()
        if remaining is None:
            return retry.Deadline(None)
        reserve = min(REPORT_RESERVE_MAX, remaining * REPORT_RESERVE_SHARE)
        return retry.Deadline(max(0.0, remaining - reserve))


def current():
    """The active RunContext of this thread, or None outside ``self_hosted_monitor``."""
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


class activate(object):
    """``with activate(ctx):`` makes ``ctx`` current in this thread."""

    def __init__(self, ctx):
        self.ctx = ctx

    def __enter__(self):
        if not hasattr(_local, "stack"):
            _local.stack = []
        _local.stack.append(self.ctx)
        return self.ctx

    def __exit__(self, *exc):
        _local.stack.pop()
        return False
