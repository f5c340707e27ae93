"""Script sets as DataFlux Func sees them: import rewriting, deploy, and the script-market export.

In this repository a script imports another in package form; in Func the same
import is written ``scriptset__script``::

    from guance_monitor import runner            <->  import guance_monitor__runner as runner
    from guance_monitor.runner import Runner     <->  from guance_monitor__runner import Runner

``to_func_form`` rewrites one into the other, line for line (line numbers are
kept, so tracebacks point at the repository's lines). The local Func runtime
loads package scripts through it, and ``export`` writes the script market with it.

``deploy`` is Func's "deploy startup script" step: every ``"<key>"`` placeholder
of an ``example`` script is replaced by the given value, or by ``""`` and a
trailing ``# key`` comment when no value is given.
"""
import ast
import datetime
import hashlib
import json
import os
import re

import guance_monitor_local

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(guance_monitor_local.__file__)))

# The Func script sets of this project, in dependency order, with their market metadata.
SCRIPT_SETS = [
    {"id": "guance_monitor",
     "title": {"zh-CN": u"观测云自建巡检（核心包）", "en": "Guance self-hosted inspection (core)"},
     "description": "Registration, runner, event reporting, DQL, state and report helpers shared by the inspections.",
     "requirements": ""},
    {"id": "guance_monitor_spot_alive",
     "title": {"zh-CN": u"观测云自建巡检（阿里云抢占式实例存活检测）",
               "en": "Guance self-hosted inspection (Alibaba Cloud spot instance survival)"},
     "description": "Finds Alibaba Cloud ECS spot instances about to be released or at risk; prices in every zone, "
                    "price history and advice.",
     "requirements": "alibabacloud-ecs20140526==7.11.8\nalibabacloud-cms20190101==4.0.10\n"
                     "alibabacloud-tea-openapi==0.4.6\ndarabonba-core==1.0.9\nalibabacloud-credentials\n"},
    {"id": "guance_monitor_k8s_pod_restart",
     "title": {"zh-CN": u"观测云自建巡检（K8S-Pod重启检测）",
               "en": "Guance self-hosted inspection (Kubernetes Pod restart)"},
     "description": "Detects a rising share of restarted pods per cluster and namespace, explains why, advises.",
     # PyYAML (pod YAML) is in DataFlux Func's image already.
     "requirements": ""},
]
SCRIPT_SET_IDS = [s["id"] for s in SCRIPT_SETS]
STARTUP_SET = "startup"
_PLACEHOLDER = re.compile(r'"<([^"<>\n]+)>"')


class MarketError(ValueError):
    pass


# -- import rewriting ---------------------------------------------------------------------------

def to_func_form(source, script_sets=None, where="script"):
    """``source`` with package-form imports of our script sets rewritten into Func's form.

    Raises MarketError naming the line for imports that have no Func form
    (``import guance_monitor.runner``, relative imports, sub-packages).
    """
    script_sets = set(script_sets or SCRIPT_SET_IDS)
    tree = ast.parse(source)
    lines = source.splitlines(True)
    edits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                raise MarketError("%s:%d: relative imports have no Func form" % (where, node.lineno))
            module = node.module or ""
            head = module.split(".")[0]
            if head not in script_sets:
                continue
            parts = module.split(".")
            if len(parts) == 1:
                names = ", ".join("%s__%s as %s" % (module, a.name, a.asname or a.name) for a in node.names)
                text = "import %s" % names
            elif len(parts) == 2:
                names = ", ".join(a.name if not a.asname else "%s as %s" % (a.name, a.asname) for a in node.names)
                text = "from %s__%s import %s" % (parts[0], parts[1], names)
            else:
                raise MarketError("%s:%d: %s: script sets have no sub-packages" % (where, node.lineno, module))
            edits.append((node, text))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in script_sets:
                    raise MarketError("%s:%d: write `from %s import %s` instead of `import %s`" % (
                        where, node.lineno, alias.name.split(".")[0], ".".join(alias.name.split(".")[1:]) or "...",
                        alias.name))
    for node, text in sorted(edits, key=lambda e: -e[0].lineno):
        first, last = node.lineno - 1, getattr(node, "end_lineno", node.lineno) - 1
        before = lines[first][:node.col_offset]
        after = lines[last][node.end_col_offset:]
        if before.strip() or (after.strip() and not after.strip().startswith("#")):
            raise MarketError("%s:%d: put the import of a script set on a line of its own "
                              "(Func's form rewrites whole lines)" % (where, node.lineno))
        indent = re.match(r"\s*", lines[first]).group(0)
        replacement = [indent + text + "\n"] + ["\n"] * (last - first)
        lines[first:last + 1] = replacement
    return "".join(lines)


# -- the scripts of the repository -------------------------------------------------------------

def package_scripts(root=ROOT, script_sets=None):
    """script id -> file path of every script in our script sets (and ``startup``)."""
    scripts = {}
    for set_id in list(script_sets or SCRIPT_SET_IDS) + [STARTUP_SET]:
        folder = os.path.join(root, set_id)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py") and name != "__init__.py" and not name.startswith("."):
                scripts["%s__%s" % (set_id, name[:-3])] = os.path.join(folder, name)
    return scripts


def read_script(path, script_id):
    with open(path, "r", encoding="utf-8") as handle:
        source = handle.read()
    return to_func_form(source, where=script_id)


# -- deploy (Func's "deploy startup script") ---------------------------------------------------

def deploy(example_source, values=None):
    """The startup script Func makes from an ``example`` script and the user's config values."""
    values = values or {}
    out = []
    for line in example_source.splitlines(True):
        comments = []

        def replace(match):
            key = match.group(1)
            if key in values and values[key] is not None:
                return json.dumps(str(values[key]), ensure_ascii=False)
            comments.append(key)
            return '""'

        new = _PLACEHOLDER.sub(replace, line)
        if comments:
            ending = "\n" if new.endswith("\n") else ""
            new = new.rstrip("\n") + "  # " + ", ".join(comments) + ending
        out.append(new)
    return "".join(out)


def placeholders(example_source):
    """The config fields Func asks the user for: every ``"<...>"`` literal of the example."""
    seen = []
    for key in _PLACEHOLDER.findall(example_source):
        if key not in seen:
            seen.append(key)
    return seen


# -- export ------------------------------------------------------------------------------------

def export(directory, root=ROOT, now=None):
    """Write the script market DataFlux Func reads into ``directory``; returns the META dict."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S")
    scripts = package_scripts(root)
    meta = {"version": 2, "extra": {"exportTime": stamp, "exportedBy": "guance-monitor export-market"},
            "scriptSets": []}
    for spec in SCRIPT_SETS:
        set_dir = os.path.join(directory, "script-sets", spec["id"])
        os.makedirs(set_dir, exist_ok=True)
        entries = []
        for script_id, path in sorted(scripts.items()):
            set_id, name = script_id.split("__", 1)
            if set_id != spec["id"]:
                continue
            code = read_script(path, script_id)
            with open(os.path.join(set_dir, name + ".py"), "w", encoding="utf-8") as handle:
                handle.write(code)
            entries.append({"id": script_id, "title": _script_title(code, name), "description": "",
                            "publishVersion": 1, "type": "python",
                            "codeMD5": hashlib.md5(code.encode("utf-8")).hexdigest(), "updateTime": stamp})
        _write(os.path.join(set_dir, "README.md"), _set_readme(spec, root))
        _write(os.path.join(set_dir, "CHANGELOG.md"), _read(os.path.join(root, "CHANGELOG.md")))
        _write(os.path.join(set_dir, "CHANGELOG-info.yaml"), to_yaml({"latestUpdateTime": stamp}))
        meta["scriptSets"].append({"id": spec["id"], "title": spec["title"], "description": spec["description"],
                                   "requirements": spec["requirements"], "origin": "scriptMarket",
                                   "originId": spec["id"], "_extra": {}, "scripts": entries})
    _write(os.path.join(directory, "META.yaml"), to_yaml(meta))
    _write(os.path.join(directory, "README.md"), _read(os.path.join(root, "README.md")))
    return meta


def _script_title(code, name):
    try:
        doc = ast.get_docstring(ast.parse(code)) or ""
    except SyntaxError:
        doc = ""
    return doc.strip().splitlines()[0] if doc.strip() else name


def _set_readme(spec, root):
    title = spec["title"]
    return u"# %s\n\n%s\n\n%s\n\nSee the project README for installation and configuration.\n" % (
        title["zh-CN"], title["en"], spec["description"])


def _read(path):
    try:
        with open(path, "r", encoding="utf-8") as handle:
            return handle.read()
    except IOError:
        return ""


def _write(path, text):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def to_yaml(value, indent=0):
    """A small YAML emitter for dicts, lists and scalars (strings as JSON-style double-quoted)."""
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        out = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                out.append("%s%s:\n%s" % (pad, key, to_yaml(item, indent + 1)))
            else:
                out.append("%s%s: %s\n" % (pad, key, _scalar(item)))
        return "".join(out)
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        out = []
        for item in value:
            if isinstance(item, (dict, list)) and item:
                body = to_yaml(item, indent + 1)
                out.append("%s- %s" % (pad, body.lstrip(" ")))
            else:
                out.append("%s- %s\n" % (pad, _scalar(item)))
        return "".join(out)
    return pad + _scalar(value) + "\n"


def _scalar(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (dict, list)):
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(str(value), ensure_ascii=False)
