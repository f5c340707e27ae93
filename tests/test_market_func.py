"""The exported market as DataFlux Func reads it: plain titles, extra.i18n, originMD5, pinned requirements,
and a re-export that leaves nothing stale."""
import ast
import hashlib
import json
import os
import re
import struct

import pytest
import yaml

from guance_monitor_local import market

from conftest import HERE

ROOT = os.path.dirname(HERE)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("market")
    market.export(str(out))
    with open(str(out / "META.yaml"), encoding="utf-8") as handle:
        return out, yaml.safe_load(handle)


# -- Func's originMD5, reimplemented from its source ---------------------------------------------
# server/utils/common.js getScriptSetMD5: {scriptSet: {}, scripts: [...]} plus the set's id, title,
# description, requirements; each script reduced to id, title, description, type, codeMD5; the scripts
# sorted by id with JavaScript's `<`; then toolkit.getMD5(sortedJSON.sortify(obj, {stringify: true})).
# sorted-json 0.2.6: every object's keys taken `for (k in obj)`, sorted with Array.prototype.sort()
# (UTF-16 code units), re-inserted into a new object (where array-index keys come first, ascending),
# arrays kept in order, then JSON.stringify(result, null, null).

def utf16_units(text):
    raw = text.encode("utf-16-le")
    return struct.unpack("<%dH" % (len(raw) // 2), raw)


def is_array_index(key):
    return re.match(r"^(0|[1-9][0-9]*)$", key) is not None and int(key) < 4294967295


def quote_json_string(text):
    """ECMA-262 QuoteJSONString."""
    escapes = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"}
    out = ['"']
    for char in text:
        code = ord(char)
        if code in escapes:
            out.append(escapes[code])
        elif code < 0x20 or 0xD800 <= code <= 0xDFFF:
            out.append("\\u%04x" % code)
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def js_number(value):
    if float(value) == int(value):
        return "%d" % int(value)
    return repr(float(value))


def sortify_stringify(value):
    if isinstance(value, dict):
        ordered = sorted(value.keys(), key=utf16_units)
        layout = sorted([k for k in ordered if is_array_index(k)], key=int) + \
            [k for k in ordered if not is_array_index(k)]
        return "{" + ",".join(quote_json_string(k) + ":" + sortify_stringify(value[k]) for k in layout) + "}"
    if isinstance(value, list):
        return "[" + ",".join(sortify_stringify(v) for v in value) + "]"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return js_number(value)
    return quote_json_string(value)


def func_script_set_md5(script_set, scripts):
    data = {"scriptSet": {}, "scripts": []}
    for field in ("id", "title", "description", "requirements"):
        data[field] = script_set[field]      # Func throws when one is missing: so does this
    for script in scripts:
        data["scripts"].append(dict((f, script[f]) for f in ("id", "title", "description", "type", "codeMD5")))
    data["scripts"].sort(key=lambda s: utf16_units(s["id"]))
    return hashlib.md5(sortify_stringify(data).encode("utf-8")).hexdigest()


def test_every_set_carries_the_origin_md5_func_computes(exported):
    out, meta = exported
    for script_set in meta["scriptSets"]:
        for script in script_set["scripts"]:
            name = script["id"].split("__", 1)[1]
            with open(str(out / "script-sets" / script_set["id"] / (name + ".py")), "rb") as handle:
                assert script["codeMD5"] == hashlib.md5(handle.read()).hexdigest()
        assert re.match(r"^[0-9a-f]{32}$", script_set["originMD5"])
        assert script_set["originMD5"] == func_script_set_md5(script_set, script_set["scripts"]), script_set["id"]


def test_origin_md5_changes_with_what_func_hashes(exported):
    _, meta = exported
    core = dict(meta["scriptSets"][0])
    before = market.script_set_md5(core)
    for field in ("title", "description", "requirements"):
        changed = dict(core, **{field: core[field] + "x"})
        assert market.script_set_md5(changed) == func_script_set_md5(changed, changed["scripts"]) != before
    reordered = dict(core, scripts=list(reversed(core["scripts"])))
    assert market.script_set_md5(reordered) == before  # scripts are sorted by id first
    touched = dict(core, scripts=[dict(core["scripts"][0], codeMD5="0" * 32)] + core["scripts"][1:])
    assert market.script_set_md5(touched) == func_script_set_md5(touched, touched["scripts"]) != before


@pytest.mark.parametrize("value", [
    {"b": 1, "a": 2, "B": 3, "_": 4},
    {"10": "x", "2": "y", "01": "z", "-1": 0, "4294967294": 1, "4294967295": 2, "a": [3, 2, 1]},
    {u"é": 1, u"\uff5e": 2, u"\U0001F600": 3, "Z": {"y": None, "x": True, "w": False}},
    {"text": u"quote \" backslash \\ newline \n tab \t bell \u0007 del \u007f 中文 \u2028"},
    {"numbers": [1.0, 0.5, -3, 0, 2.25e-05, 1e21]},
])
def test_sorted_json_matches_the_reimplementation(value):
    assert market.sorted_json(value) == sortify_stringify(value)


# -- META.yaml as Func stores it ----------------------------------------------------------------

def test_titles_are_plain_strings_with_translations_in_extra_i18n(exported):
    _, meta = exported
    i18n = meta["extra"]["i18n"]
    for script_set in meta["scriptSets"]:
        assert isinstance(script_set["title"], str) and script_set["title"].startswith(u"观测云自建巡检")
        assert i18n["en"][script_set["title"]].startswith("Guance self-hosted inspection")
    assert i18n["zh-CN"]["Guance API Key ID"] == u"观测云 API Key ID"
    assert i18n["zh-CN"]["Aliyun AccessKey Secret"] == u"阿里云 AccessKey Secret"
    fields = set()
    for check in ("guance_monitor_spot_alive", "guance_monitor_k8s_pod_restart"):
        with open(os.path.join(ROOT, check, "example.py"), encoding="utf-8") as handle:
            fields.update(market.placeholders(handle.read()))
    assert fields <= set(i18n["zh-CN"])


def pins(text):
    return dict(line.split("==", 1) for line in text.splitlines() if line.strip() and not line.startswith("#"))


def test_every_requirement_is_pinned_as_in_the_func_constraints(exported):
    _, meta = exported
    with open(os.path.join(ROOT, "requirements", "func-py38.txt"), encoding="utf-8") as handle:
        constraints = pins(handle.read())
    for script_set in meta["scriptSets"]:
        for line in script_set["requirements"].splitlines():
            assert re.match(r"^[A-Za-z0-9._-]+==[0-9][0-9A-Za-z.]*$", line), line
            name, version = line.split("==")
            assert constraints.get(name) == version, name


# Python modules the Func image already has (its requirements.txt) or the standard library.
IN_FUNC_IMAGE = {"requests", "jinja2", "yaml", "croniter", "arrow", "dateutil", "simplejson", "six"}
DISTRIBUTION_OF = {"Tea": "alibabacloud-tea", "darabonba": "darabonba-core"}


def third_party_imports(set_id):
    names = set()
    folder = os.path.join(ROOT, set_id)
    for name in os.listdir(folder):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    ours = set(market.SCRIPT_SET_IDS)
    return set(n for n in names if n.split("__")[0] not in ours and not is_stdlib(n) and n not in IN_FUNC_IMAGE)


def is_stdlib(name):
    import importlib.util
    import sysconfig
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        return spec is not None
    return spec.origin.startswith(sysconfig.get_paths()["stdlib"]) and "site-packages" not in spec.origin


def test_each_set_requires_exactly_what_its_scripts_import(exported):
    _, meta = exported
    for script_set in meta["scriptSets"]:
        imported = set(DISTRIBUTION_OF.get(n, n.replace("_", "-")) for n in third_party_imports(script_set["id"]))
        assert set(pins(script_set["requirements"])) == imported, script_set["id"]


# -- re-export ----------------------------------------------------------------------------------

def test_re_export_replaces_the_previous_content(tmp_path):
    out = tmp_path / "market"
    market.export(str(out))
    stale = out / "script-sets" / "guance_monitor" / "removed_script.py"
    stale.write_text(u"x = 1\n", encoding="utf-8")
    (out / "script-sets" / "old_set").mkdir()
    (out / "notes.txt").write_text(u"old", encoding="utf-8")
    (out / ".git").mkdir()
    (out / ".git" / "HEAD").write_text(u"ref: refs/heads/main\n", encoding="utf-8")
    (out / "TOKEN").write_text(u"func-admin-token", encoding="utf-8")
    market.export(str(out))
    assert not stale.exists() and not (out / "script-sets" / "old_set").exists()
    assert not (out / "notes.txt").exists()
    assert (out / ".git" / "HEAD").read_text(encoding="utf-8") == u"ref: refs/heads/main\n"
    assert (out / "TOKEN").read_text(encoding="utf-8") == u"func-admin-token"
    assert sorted(p.name for p in out.iterdir()) == [".git", "META.yaml", "README.md", "TOKEN", "script-sets"]


def test_export_into_an_empty_or_git_only_directory(tmp_path):
    out = tmp_path / "repo"
    (out / ".git").mkdir(parents=True)
    market.export(str(out))
    assert (out / "META.yaml").is_file()


@pytest.mark.parametrize("content", [["README.md"], ["src", "setup.py", "a.txt", "b.txt"]])
def test_export_refuses_a_directory_with_other_content(tmp_path, content):
    out = tmp_path / "project"
    out.mkdir()
    for name in content:
        (out / name).write_text(u"mine", encoding="utf-8")
    with pytest.raises(market.MarketError) as info:
        market.export(str(out))
    assert str(info.value).startswith("%s already holds other files (" % out)
    assert sorted(p.name for p in out.iterdir()) == sorted(content)   # untouched


def test_export_refuses_a_file(tmp_path):
    target = tmp_path / "file"
    target.write_text(u"x", encoding="utf-8")
    with pytest.raises(market.MarketError) as info:
        market.export(str(target))
    assert str(info.value) == ("%s is a file, not a directory: give a new or empty directory, or a previous "
                               "export" % target)
