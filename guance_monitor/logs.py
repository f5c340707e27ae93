"""Logging: one standard ``logging`` logger per module, levels, secrets masked, lines in Func's task log.

    from guance_monitor import logs
    log = logs.get(__name__)
    log.info("reported %d events", n)

DataFlux Func sends Python ``logging`` output to the worker's standard output, not to
the task log a user reads; only ``print``/``DFF.LOG`` reach the task log. So every
logger here hangs under ``guance_monitor`` (script IDs such as
``guance_monitor_spot_alive__collect`` become ``guance_monitor.spot_alive.collect``),
which does not propagate to the root logger, and one handler writes each record,
redacted, to the task log of the run that logged it.

Which run? Func runs one task at a time per worker process, but the local runtime can
run overlapping tasks in threads, and a run's own thread pools log too. A run calls
``attach(sink)`` for its thread; ``bind(fn)`` carries the caller's sink into a pool
thread. A record from a thread no run claimed goes to the most recently attached sink,
or to standard error when there is none. The handler and the sink table live on the
shared ``logging`` objects, because inside Func each task loads fresh copies of our
scripts while ``logging`` itself is loaded once per process.
"""
import logging
import sys
import threading

from guance_monitor import redact

ROOT = "guance_monitor"
_MARK = "_guance_monitor_task_log"
_install_lock = threading.Lock()


def name_of(module_name):
    """``guance_monitor_spot_alive__collect`` or ``guance_monitor_spot_alive.collect`` -> ``guance_monitor.spot_alive.collect``."""
    name = (module_name or ROOT).replace("__", ".")
    if name.startswith(ROOT + "_"):
        name = ROOT + "." + name[len(ROOT) + 1:]
    if name != ROOT and not name.startswith(ROOT + "."):
        name = ROOT + "." + name
    return name


def get(module_name):
    """The logger of a module (pass ``__name__``)."""
    _install()
    return logging.getLogger(name_of(module_name))


class _Sinks:
    """Thread ident -> the task log sink (a callable taking one line) of the run that thread works for."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_thread = {}
        self.recent = []

    def claim(self, sink):
        ident = threading.get_ident()
        with self.lock:
            previous = self.by_thread.get(ident)
            self.by_thread[ident] = sink
            self.recent.append(sink)
        return ident, previous

    def release(self, ident, sink, previous):
        with self.lock:
            if previous is None:
                self.by_thread.pop(ident, None)
            else:
                self.by_thread[ident] = previous
            for index in range(len(self.recent) - 1, -1, -1):
                if self.recent[index] is sink:
                    del self.recent[index]
                    break

    def current(self):
        with self.lock:
            sink = self.by_thread.get(threading.get_ident())
            if sink is None and self.recent:
                sink = self.recent[-1]
        return sink


class _TaskLogHandler(logging.Handler):
    def __init__(self, sinks):
        logging.Handler.__init__(self)
        self.sinks = sinks
        setattr(self, _MARK, True)

    def emit(self, record):
        try:
            line = redact.redact(self.format(record))
        except Exception:  # noqa: BLE001 - a log line must never break a run
            line = "[guance_monitor] (unprintable log record)"
        sink = self.sinks.current()
        try:
            if sink is not None:
                sink(line)
            else:
                sys.stderr.write(line + "\n")
        except Exception:  # noqa: BLE001
            pass


class _Formatter(logging.Formatter):
    def format(self, record):
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        if record.levelno >= logging.WARNING:
            return "[guance_monitor] %s: %s" % (record.levelname, text)
        return "[guance_monitor] %s" % text


def _install():
    """The shared handler and sink table on the ``guance_monitor`` logger (once per process)."""
    root = logging.getLogger(ROOT)
    sinks = getattr(root, "_guance_monitor_sinks", None)
    if sinks is None:
        with _install_lock:
            sinks = getattr(root, "_guance_monitor_sinks", None)
            if sinks is None:
                sinks = _Sinks()
                handler = _TaskLogHandler(sinks)
                handler.setFormatter(_Formatter())
                root.addHandler(handler)
                root.propagate = False
                if root.level == logging.NOTSET:
                    root.setLevel(logging.INFO)
                root._guance_monitor_sinks = sinks
    return sinks


class attach:
    """``with logs.attach(sink):`` sends this thread's log records to ``sink`` (one line per call)."""

    def __init__(self, sink, level=None):
        self.sink = sink
        self.level = level
        self._claim = None
        self._saved_level = None

    def __enter__(self):
        sinks = _install()
        self._claim = sinks.claim(self.sink)
        if self.level is not None:
            root = logging.getLogger(ROOT)
            self._saved_level = root.level
            root.setLevel(self.level)
        return self

    def __exit__(self, *exc):
        ident, previous = self._claim
        _install().release(ident, self.sink, previous)
        if self._saved_level is not None:
            logging.getLogger(ROOT).setLevel(self._saved_level)
        return False


def bind(fn):
    """``fn`` wrapped so that, run in another thread, it logs to the caller's task log."""
    sink = _install().current()
    if sink is None:
        return fn

    def bound(*args, **kwargs):
        with attach(sink):
            return fn(*args, **kwargs)

    return bound
