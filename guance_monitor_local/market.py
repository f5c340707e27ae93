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
import shutil
import tempfile

import guance_monitor_local

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(guance_monitor_local.__file__)))

# The Func script sets of this project, in dependency order, with their market metadata. Func stores
# a set's ``title`` as given (a mapping becomes "[object Object]"): a plain string, translated through
# the market's ``extra.i18n`` (language -> {text: translation}), which Func's UI applies to set titles and
# to the ``"<...>"`` placeholders of ``example`` scripts.
SCRIPT_SETS = [
    {"id": "guance_monitor",
     "title": "观测云自建巡检（核心包）",
     "translations": {"en": "Guance self-hosted inspection (core)"},
     "description": "Registration, runner, event reporting, DQL, state and report helpers shared by the inspections.",
     # jinja2 and requests: in DataFlux Func's image.
     "requirements": ""},
    {"id": "guance_monitor_spot_alive",
     "title": "观测云自建巡检（阿里云抢占式实例存活检测）",
     "translations": {"en": "Guance self-hosted inspection (Alibaba Cloud spot instance survival)"},
     "description": "Finds Alibaba Cloud ECS spot instances about to be released or at risk; prices in every zone, "
                    "price history and advice.",
     # What its scripts import, pinned as in requirements/func-py38.txt (Func's PIP tool installs each).
     "requirements": "alibabacloud-ecs20140526==7.11.8\nalibabacloud-cms20190101==4.0.10\n"
                     "alibabacloud-tea-openapi==0.4.6\ndarabonba-core==1.0.9\nalibabacloud-credentials==1.0.12\n"
                     "alibabacloud-tea==0.4.3\n"},
    {"id": "guance_monitor_k8s_pod_restart",
     "title": "观测云自建巡检（K8S-Pod重启检测）",
     "translations": {"en": "Guance self-hosted inspection (Kubernetes Pod restart)"},
     "description": "Detects a rising share of restarted pods per cluster and namespace, explains why, advises.",
     # PyYAML (pod YAML) is in DataFlux Func's image already.
     "requirements": ""},
]
# The deploy form's fields (the examples' placeholders), as Func's UI shows them per language.
PLACEHOLDER_TRANSLATIONS = {
    "zh-CN": {"Guance API Key ID": "观测云 API Key ID", "Guance API Key": "观测云 API Key",
              "Guance Node": "观测云节点", "Aliyun AccessKey ID": "阿里云 AccessKey ID",
              "Aliyun AccessKey Secret": "阿里云 AccessKey Secret", "Aliyun Endpoint": "阿里云 Endpoint"},
}
EXPORTED_BY = "guance-monitor export-market"
KEPT_ENTRIES = ("TOKEN",)   # Func's own file in a market it administers
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
    """Write the script market DataFlux Func reads into ``directory``; returns the META dict.

    ``directory`` is new, empty (hidden entries such as ``.git`` aside) or a previous
    export, whose content is replaced: nothing of an earlier export stays behind.
    Anything else is refused with MarketError. The market is written into a hidden
    folder first and moved in place once complete.
    """
    check_target(directory)
    os.makedirs(directory, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".export-", dir=directory)
    try:
        meta = _write_market(staging, root, now or datetime.datetime.now(datetime.timezone.utc))
        for name in _visible_entries(directory):
            if name not in KEPT_ENTRIES:
                _remove(os.path.join(directory, name))
        for name in os.listdir(staging):
            os.rename(os.path.join(staging, name), os.path.join(directory, name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return meta


def check_target(directory):
    """MarketError unless ``directory`` is absent, empty but for hidden entries, or an earlier export."""
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise MarketError("%s is a file, not a directory: give a new or empty directory, or a previous export"
                          % directory)
    if not os.path.isdir(directory):
        return
    visible = [name for name in _visible_entries(directory) if name not in KEPT_ENTRIES]
    if visible and not is_previous_export(directory):
        shown = ", ".join(sorted(visible)[:3]) + (", ..." if len(visible) > 3 else "")
        raise MarketError("%s already holds other files (%s): export into a new or empty directory, "
                          "or into a previous export, whose content is replaced" % (directory, shown))


def is_previous_export(directory):
    """Whether ``directory`` holds a market written by ``export`` (its META.yaml says so)."""
    text = _read(os.path.join(directory, "META.yaml"))
    return re.search(r'^\s*exportedBy: "%s"\s*$' % re.escape(EXPORTED_BY), text, re.MULTILINE) is not None


def _visible_entries(directory):
    return [name for name in os.listdir(directory) if not name.startswith(".")]


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.remove(path)


def _write_market(directory, root, now):
    stamp = now.strftime("%Y-%m-%d %H:%M:%S")
    scripts = package_scripts(root)
    meta = {"version": 2, "extra": {"exportTime": stamp, "exportedBy": EXPORTED_BY, "i18n": {}},
            "scriptSets": []}
    examples = []
    for spec in SCRIPT_SETS:
        set_dir = os.path.join(directory, "script-sets", spec["id"])
        os.makedirs(set_dir)
        entries = []
        for script_id, path in sorted(scripts.items()):
            set_id, name = script_id.split("__", 1)
            if set_id != spec["id"]:
                continue
            code = read_script(path, script_id)
            _write(os.path.join(set_dir, name + ".py"), code)
            if name == "example":
                examples.append(code)
            entries.append({"id": script_id, "title": _script_title(code, name), "description": "",
                            "publishVersion": 1, "type": "python",
                            "codeMD5": hashlib.md5(code.encode("utf-8")).hexdigest(), "updateTime": stamp})
        _write(os.path.join(set_dir, "README.md"), _set_readme(spec))
        _write(os.path.join(set_dir, "CHANGELOG.md"), _read(os.path.join(root, "CHANGELOG.md")))
        _write(os.path.join(set_dir, "CHANGELOG-info.yaml"), to_yaml({"latestUpdateTime": stamp}))
        script_set = {"id": spec["id"], "title": spec["title"], "description": spec["description"],
                      "requirements": spec["requirements"], "origin": "scriptMarket", "originId": spec["id"],
                      "_extra": {}, "scripts": entries}
        script_set["originMD5"] = script_set_md5(script_set)
        meta["scriptSets"].append(script_set)
    meta["extra"]["i18n"] = translations(examples)
    _write(os.path.join(directory, "META.yaml"), to_yaml(meta))
    _write(os.path.join(directory, "README.md"), _read(os.path.join(root, "README.md")))
    return meta


def translations(examples):
    """The market's ``extra.i18n``: language -> {text as written: translation} for the set titles and
    the placeholders of the ``examples`` (sources)."""
    fields = [key for source in examples for key in placeholders(source)]
    i18n = {}
    for spec in SCRIPT_SETS:
        for language, text in spec["translations"].items():
            i18n.setdefault(language, {})[spec["title"]] = text
    for language, table in PLACEHOLDER_TRANSLATIONS.items():
        for field in fields:
            if field in table:
                i18n.setdefault(language, {})[field] = table[field]
    return i18n


def _script_title(code, name):
    try:
        doc = ast.get_docstring(ast.parse(code)) or ""
    except SyntaxError:
        doc = ""
    return doc.strip().splitlines()[0] if doc.strip() else name


def _set_readme(spec):
    return "# %s\n\n%s\n\n%s\n\nSee the project README for installation and configuration.\n" % (
        spec["title"], spec["translations"]["en"], spec["description"])


# -- originMD5, as DataFlux Func computes it ----------------------------------------------------

SCRIPT_SET_MD5_FIELDS = ("id", "title", "description", "requirements")
SCRIPT_MD5_FIELDS = ("id", "title", "description", "type", "codeMD5")


def script_set_md5(script_set):
    """A set's ``originMD5``: what Func's ``getScriptSetMD5`` (server/utils/common.js) computes.

    The object ``{scriptSet: {}, scripts: [...], id, title, description, requirements}``, the scripts
    reduced to ``id, title, description, type, codeMD5`` and sorted by id, serialized as the
    ``sorted-json`` package (0.2.6) does, then md5 of its UTF-8 bytes, in hex.
    """
    data = {"scriptSet": {}, "scripts": []}
    for field in SCRIPT_SET_MD5_FIELDS:
        data[field] = script_set[field]
    for script in script_set.get("scripts") or []:
        data["scripts"].append({field: script[field] for field in SCRIPT_MD5_FIELDS})
    data["scripts"].sort(key=lambda script: _utf16(script["id"]))
    return hashlib.md5(sorted_json(data).encode("utf-8")).hexdigest()


def sorted_json(value):
    """``sortedJSON.sortify(value, {stringify: true})``: keys sorted as JavaScript sorts strings (UTF-16
    code units), laid out as a JavaScript object orders them (array-index keys first, ascending), and
    ``JSON.stringify``'s compact text (non-ASCII as is; a whole float as an integer)."""
    if isinstance(value, dict):
        keys = sorted(value, key=_utf16)
        keys = sorted((k for k in keys if _is_array_index(k)), key=int) + [k for k in keys if not _is_array_index(k)]
        return "{%s}" % ",".join("%s:%s" % (_js_string(k), sorted_json(value[k])) for k in keys)
    if isinstance(value, (list, tuple)):
        return "[%s]" % ",".join(sorted_json(item) for item in value)
    if isinstance(value, str):
        return _js_string(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value)


def _utf16(text):
    return text.encode("utf-16-be")


def _is_array_index(key):
    return key.isdigit() and str(int(key)) == key and int(key) < 2 ** 32 - 1


def _js_string(text):
    return json.dumps(text, ensure_ascii=False)


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
