"""One line for a user's mistake: what is wrong, where, and what to do.

- ``script_problem(error, path)``: a startup script that cannot be loaded (a syntax
  error, an import of a script that does not exist, ``DFF.APi``, a missing key of
  ``account``), as ``path:line: what (did you mean ...?)``, the line being the
  innermost one of that file in the traceback;
- ``output_directory(path)``: the reason a directory cannot take our output, or None;
- ``did_you_mean(word, choices)``: `` (did you mean 'x'?)`` or nothing.

Nothing here prints or exits; the CLI does. Texts go through ``redact``.
"""
import difflib
import os
import re
import tempfile
import traceback

from guance_monitor import redact
from guance_monitor_local import func_runtime

_SUBSCRIPT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\[")


def did_you_mean(word, choices, quote=repr):
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return " (did you mean %s?)" % quote(close[0]) if close else ""


def first_line(error):
    """``Type: first line of the message`` of an exception, redacted."""
    return redact.describe_error(error)


def script_problem(error, path):
    """``path:line: what`` for an exception raised while loading the startup script at ``path``."""
    if isinstance(error, SyntaxError) and _same_file(error.filename, path):
        return redact.redact("%s:%s: syntax error: %s" % (path, error.lineno, error.msg))
    frame, line = _innermost_frame_in(error, path)
    where = "%s:%d" % (path, line) if line else path
    return redact.redact("%s: %s" % (where, _what(error, frame)))


def _what(error, frame):
    if isinstance(error, KeyError) and error.args:
        return "KeyError: %r%s" % (error.args[0], _close_key(error.args[0], frame))
    if isinstance(error, (func_runtime.FuncError, func_runtime.CustomImportError)):
        return str(error).strip().splitlines()[0]   # the runtime's own words, as Func would say them
    return first_line(error)


def _close_key(key, frame):
    """A did-you-mean among the keys of the dicts subscripted on the failing line (``account[...]``)."""
    if frame is None:
        return ""
    source = traceback.extract_stack(frame, limit=1)[-1].line or ""
    for name in _SUBSCRIPT.findall(source):
        value = frame.f_locals.get(name, frame.f_globals.get(name))
        if isinstance(value, dict) and key not in value:
            hint = did_you_mean(key, value)
            if hint:
                return hint[:-1] + " %s has %s)" % (name, ", ".join(repr(k) for k in value))
    return ""


def _innermost_frame_in(error, path):
    """(frame, line) of the innermost traceback entry in the file ``path``; (None, None) if none."""
    found = (None, None)
    tb = error.__traceback__
    while tb is not None:
        if _same_file(tb.tb_frame.f_code.co_filename, path):
            found = (tb.tb_frame, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _same_file(filename, path):
    return bool(filename) and os.path.abspath(filename) == os.path.abspath(path)


def output_directory(path):
    """Why ``path`` cannot be a directory we write into (created when missing), or None when it can."""
    if os.path.exists(path) and not os.path.isdir(path):
        return "%s is a file, not a directory: give a directory (it is created when missing)" % path
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        return "cannot write to %s (%s): give a directory you can write to" % (path, exc.strerror or exc)
    return None
