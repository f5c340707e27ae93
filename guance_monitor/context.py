"""The run context: what ``self_hosted_monitor`` learned, for the Runner, the checkers and the EventReporter.

``self_hosted_monitor`` activates a ``RunContext`` for the duration of the
decorated call; ``Runner`` and ``EventReporter``, created inside that call,
read it with ``current()``. It carries the host (clock, store, environment,
task log), the Guance client, the inspection's identity (refKey, rule), the
run's deadline and the time the run started. The Runner hands each checker a
copy whose ``deadline`` is that checker's share of the budget (``for_checker``).

``hosted(host)`` makes the clock follow the host's and sends log records to the
host's task log for the duration of a run.
"""
import threading

from guance_monitor import clock
from guance_monitor import logs
from guance_monitor import retry

_local = threading.local()


class RunContext:
    def __init__(self, api=None, store=None, deadline=None, ref_key=None, rule_uuid=None,
                 func_id=None, title=None, started_at=None, host=None, timeout=None, rule=None,
                 guance_node=None):
        self.api = api                  # GuanceOpenAPI (None in debug runs outside Func)
        self.store = store              # guance_monitor.state.Store
        self.deadline = deadline or retry.Deadline(None)
        self.ref_key = ref_key
        self.rule_uuid = rule_uuid
        self.func_id = func_id
        self.title = title
        self.started_at = started_at or clock.now()
        self.host = host                # guance_monitor.host.Host (None in unit tests)
        self.timeout = timeout          # the function's DFF.API timeout, seconds
        self.rule = rule                # guance_monitor.register.Rule
        self.guance_node = guance_node

    def work_deadline(self):
        """The deadline this context's work must meet (a checker's budget inside the Runner)."""
        return self.deadline

    def env(self, name):
        """A Func environment variable (``DFF.ENV``), None when unset or outside a host."""
        return self.host.env(name) if self.host is not None else None

    def for_checker(self, deadline):
        """A copy of this context for one checker, with its own deadline."""
        copy = RunContext.__new__(RunContext)
        copy.__dict__.update(self.__dict__)
        copy.deadline = deadline
        return copy


def current():
    """The active RunContext of this thread, or None outside ``self_hosted_monitor``."""
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


class activate:
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


class hosted:
    """``with hosted(host):`` the clock follows the host's and log records go to its task log."""

    def __init__(self, host):
        self.host = host
        self._saved_clock = None
        self._logs = None

    def __enter__(self):
        self._saved_clock = clock.following()
        if self.host.clock is not None:
            clock.follow(self.host.clock)
        self._logs = logs.attach(self.host.print)
        self._logs.__enter__()
        return self.host

    def __exit__(self, *exc):
        self._logs.__exit__(*exc)
        clock.follow(self._saved_clock)
        return False
