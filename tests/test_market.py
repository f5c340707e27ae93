"""Script sets as DataFlux Func sees them: import rewriting, the repository lint, deploy and the market export."""
import ast
import datetime
import hashlib
import json
import os
import textwrap

import pytest

from guance_monitor_local import market
from guance_monitor_local.market import MarketError

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML is in both test environments
    yaml = None


def src(text):
    return textwrap.dedent(text).lstrip("\n")


# -- to_func_form --------------------------------------------------------------------------------

@pytest.mark.parametrize("package_form, func_form", [
    ("from guance_monitor import runner\n", "import guance_monitor__runner as runner\n"),
    ("from guance_monitor import a, b as c\n", "import guance_monitor__a as a, guance_monitor__b as c\n"),
    ("from guance_monitor.runner import Runner, X as Y\n", "from guance_monitor__runner import Runner, X as Y\n"),
    ("from guance_monitor_spot_alive import main\n", "import guance_monitor_spot_alive__main as main\n"),
    ("from guance_monitor_k8s_pod_restart.main import K8SPodRestartCheck\n",
     "from guance_monitor_k8s_pod_restart__main import K8SPodRestartCheck\n"),
])
def test_to_func_form_rewrites_package_imports(package_form, func_form):
    assert market.to_func_form(package_form) == func_form


def test_parenthesised_import_keeps_the_line_count():
    source = src('''
        """Doc."""
        from guance_monitor.runner import (
            Runner,
            X as Y,
        )
        VALUE = Runner  # line 6
    ''')
    converted = market.to_func_form(source)
    assert converted.splitlines() == ['"""Doc."""', "from guance_monitor__runner import Runner, X as Y",
                                      "", "", "", "VALUE = Runner  # line 6"]
    assert len(converted.splitlines()) == len(source.splitlines())


def test_indented_import_keeps_its_indent_and_the_code_compiles():
    source = src('''
        def load():
            from guance_monitor import clock
            if clock:
                from guance_monitor.state import (FileStore,
                                                  MemoryStore)
            return clock
    ''')
    converted = market.to_func_form(source)
    assert converted.splitlines()[1] == "    import guance_monitor__clock as clock"
    assert converted.splitlines()[3] == "        from guance_monitor__state import FileStore, MemoryStore"
    assert converted.splitlines()[4:] == ["", "    return clock"]
    compile(converted, "<converted>", "exec")


@pytest.mark.parametrize("source", [
    "import json\n",
    "import os, sys\nfrom collections import OrderedDict\n",
    "import guance_monitor__runner as runner\n",
    "from guance_monitor__register import self_hosted_monitor\n",
    "import __runner\n",
    "from guance_monitor_local import cli\n",
    '"""Use it as: from guance_monitor import runner"""\n# from guance_monitor import clock\n',
    "",
])
def test_to_func_form_leaves_other_imports_alone(source):
    assert market.to_func_form(source) == source


@pytest.mark.parametrize("source, where, message", [
    ("x = 1\nimport guance_monitor.runner\n", "guance_monitor__a",
     "guance_monitor__a:2: write `from guance_monitor import runner` instead of `import guance_monitor.runner`"),
    ("import guance_monitor\n", "script",
     "script:1: write `from guance_monitor import ...` instead of `import guance_monitor`"),
    ("\n\nfrom . import clock\n", "script", "script:3: relative imports have no Func form"),
    ("from .clock import now\n", "guance_monitor__b", "guance_monitor__b:1: relative imports have no Func form"),
    ("\nfrom guance_monitor.a.b import c\n", "script",
     "script:2: guance_monitor.a.b: script sets have no sub-packages"),
])
def test_to_func_form_refuses_imports_without_a_func_form(source, where, message):
    with pytest.raises(MarketError) as info:
        market.to_func_form(source, where=where)
    assert str(info.value) == message


def test_to_func_form_with_explicit_script_sets():
    assert market.to_func_form("from mine import x\n", script_sets=["mine"]) == "import mine__x as x\n"
    assert market.to_func_form("from guance_monitor import x\n", script_sets=["mine"]) == \
        "from guance_monitor import x\n"


@pytest.mark.parametrize("source", [
    "from guance_monitor import clock; VALUE = 1\n",
    "try: from guance_monitor import clock\nexcept ImportError: clock = None\nVALUE = 1\n",
])
def test_to_func_form_refuses_code_sharing_the_line_with_an_import(source):
    """Func's form rewrites whole lines: code next to the import would be lost, so it is refused."""
    with pytest.raises(market.MarketError) as info:
        market.to_func_form(source, where="demo__x")
    assert "demo__x:1" in str(info.value) and "line of its own" in str(info.value)


def test_to_func_form_keeps_a_trailing_comment_line():
    assert market.to_func_form("from guance_monitor import clock  # the clock\n") == \
        "import guance_monitor__clock as clock\n"


# -- the repository's scripts (a lint) ------------------------------------------------------------

SCRIPTS = market.package_scripts()


def package_form_imports(tree):
    """(line, text) of every import that only works as a Python package, not as Func scripts."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            head = (node.module or "").split(".")[0]
            if node.level or head in market.SCRIPT_SET_IDS or head == "guance_monitor_local":
                found.append((node.lineno, "from %s%s import ..." % ("." * node.level, node.module or "")))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in market.SCRIPT_SET_IDS + ["guance_monitor_local"]:
                    found.append((node.lineno, "import %s" % alias.name))
    return found


def script_imports(tree):
    """The Func script IDs a script imports (``import A__B`` / ``from A__B import``)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and "__" in node.module:
            names.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            names.extend((node.lineno, a.name) for a in node.names if "__" in a.name)
    return names


def test_the_repository_has_script_sets():
    assert any(sid.startswith("guance_monitor__") for sid in SCRIPTS)
    assert "guance_monitor__runner" in SCRIPTS or "guance_monitor__register" in SCRIPTS


@pytest.mark.parametrize("script_id", sorted(SCRIPTS))
def test_every_script_converts_to_func_form(script_id):
    with open(SCRIPTS[script_id], encoding="utf-8") as handle:
        source = handle.read()
    converted = market.read_script(SCRIPTS[script_id], script_id)
    assert len(converted.splitlines()) == len(source.splitlines()), "line numbers must be kept"
    tree = ast.parse(converted, filename=script_id)
    assert package_form_imports(tree) == [], "%s still has package-form imports" % script_id
    for line, name in script_imports(tree):
        set_id = name.split("__")[0]
        if set_id in market.SCRIPT_SET_IDS:
            assert name in SCRIPTS, "%s:%d imports %s, which is no script of this repository" % (
                script_id, line, name)


def test_package_scripts_maps_files_one_to_one(tmp_path):
    for folder, names in (("guance_monitor", ["runner.py", "__init__.py", ".hidden.py", "notes.txt"]),
                          ("startup", ["spot.py"]), ("elsewhere", ["x.py"])):
        (tmp_path / folder).mkdir()
        for name in names:
            (tmp_path / folder / name).write_text(u"", encoding="utf-8")
    scripts = market.package_scripts(str(tmp_path))
    assert sorted(scripts) == ["guance_monitor__runner", "startup__spot"]
    assert scripts["startup__spot"] == os.path.join(str(tmp_path), "startup", "spot.py")


# -- deploy / placeholders ---------------------------------------------------------------------

EXAMPLE = src('''
    account = {
        "api_key_id": "<Guance API Key ID>",
        "api_key": "<Guance API Key>",
        "guance_node": "<Guance Node>",
    }
    aliyun = {"ak_id": "<Aliyun AK ID>", "ak_secret": "<Aliyun AK Secret>"}  # keep this comment
    again = "<Guance API Key ID>"
    not_a_placeholder = '<single>' + "<>"

    ###### Do not modify the following content #####
''')


def test_placeholders_in_order_without_repeats():
    assert market.placeholders(EXAMPLE) == ["Guance API Key ID", "Guance API Key", "Guance Node",
                                            "Aliyun AK ID", "Aliyun AK Secret"]


def test_deploy_replaces_known_placeholders_and_comments_unknown_ones():
    values = {"Guance API Key ID": "wsak_123", "Guance API Key": 'sec"ret\\x', "Aliyun AK ID": u"LTAI中",
              "Aliyun AK Secret": None}
    deployed = market.deploy(EXAMPLE, values)
    lines = deployed.splitlines()
    assert lines[1] == '    "api_key_id": "wsak_123",'
    assert lines[2] == '    "api_key": "sec\\"ret\\\\x",'
    assert lines[3] == '    "guance_node": "",  # Guance Node'
    assert lines[5] == (u'aliyun = {"ak_id": "LTAI中", "ak_secret": ""}  # keep this comment'
                        u'  # Aliyun AK Secret')
    assert lines[6] == 'again = "wsak_123"'
    assert lines[7] == EXAMPLE.splitlines()[7]
    assert lines[9] == "###### Do not modify the following content #####"
    scope = {}
    exec(compile(deployed, "<startup>", "exec"), scope)
    assert scope["account"] == {"api_key_id": "wsak_123", "api_key": 'sec"ret\\x', "guance_node": ""}
    assert scope["aliyun"] == {"ak_id": u"LTAI中", "ak_secret": ""}
    assert len(lines) == len(EXAMPLE.splitlines())


def test_deploy_without_values_blanks_every_placeholder():
    deployed = market.deploy('a = "<X>"; b = "<Y>"\nc = 1\n')
    assert deployed == 'a = ""; b = ""  # X, Y\nc = 1\n'
    assert market.placeholders(deployed) == []


def test_deploy_of_a_last_line_without_newline():
    assert market.deploy('node = "<Guance Node>"') == 'node = ""  # Guance Node'


# -- to_yaml ---------------------------------------------------------------------------------

needs_yaml = pytest.mark.skipif(yaml is None, reason="PyYAML is not installed")


@needs_yaml
@pytest.mark.parametrize("value", [
    {"version": 2, "extra": {}, "scriptSets": []},
    {"title": {"zh-CN": u"观测云自建巡检（核心包）", "en": "Guance self-hosted inspection (core)"},
     "text": 'say "hi" \\ it\'s: # not a comment', "multi": "line1\nline2\n", "empty": "",
     "looks_like": ["yes", "no", "null", "123", "1.5", "true", "- dash", "[x]", "{y}", "*z", "&a", "!t", "%p",
                    "@q", "`r`", " padded "],
     "numbers": [0, -1, 2.5, True, False, None],
     "nested": [{"id": "a", "scripts": [{"id": "a__b", "n": 1}, {"id": "a__c", "tags": []}]}, [1, [2, 3]], {}],
     "requirements": "pandas==2.0.3\nnumpy==1.24.4\n"},
])
def test_to_yaml_round_trips(value):
    assert yaml.safe_load(market.to_yaml(value)) == value


def test_to_yaml_scalars():
    assert market.to_yaml("x") == '"x"\n'
    assert market.to_yaml(None) == "null\n"
    assert market.to_yaml([]) == "[]\n"
    assert market.to_yaml({}) == "{}\n"


# -- export ------------------------------------------------------------------------------------

def fake_root(tmp_path):
    root = tmp_path / "repo"
    (root / "guance_monitor").mkdir(parents=True)
    (root / "guance_monitor" / "__init__.py").write_text(u"", encoding="utf-8")
    (root / "guance_monitor" / "runner.py").write_text(src(u'''
        """Runner: runs the checkers（运行器）.

        More text.
        """
        from guance_monitor import clock
        from guance_monitor.state import FileStore
    '''), encoding="utf-8")
    (root / "guance_monitor" / "clock.py").write_text(u"NOW = 1\n", encoding="utf-8")
    (root / "guance_monitor_spot_alive").mkdir()
    (root / "guance_monitor_spot_alive" / "example.py").write_text(
        u'account = {"api_key_id": "<Guance API Key ID>"}\nfrom guance_monitor_spot_alive import main\n',
        encoding="utf-8")
    (root / "startup").mkdir()
    (root / "startup" / "mine.py").write_text(u"x = 1\n", encoding="utf-8")
    (root / "README.md").write_text(u"# guance-monitor\n", encoding="utf-8")
    (root / "CHANGELOG.md").write_text(u"## 0.1.0\n- first\n", encoding="utf-8")
    return str(root)


NOW = datetime.datetime(2026, 11, 20, 8, 0, tzinfo=datetime.timezone.utc)


def test_export_writes_the_script_market(tmp_path):
    out = tmp_path / "market"
    meta = market.export(str(out), root=fake_root(tmp_path), now=NOW)
    assert meta["version"] == 2
    assert [s["id"] for s in meta["scriptSets"]] == market.SCRIPT_SET_IDS
    core = meta["scriptSets"][0]
    assert [s["id"] for s in core["scripts"]] == ["guance_monitor__clock", "guance_monitor__runner"]
    runner = core["scripts"][1]
    assert runner["title"] == u"Runner: runs the checkers（运行器）."
    assert core["scripts"][0]["title"] == "clock"
    assert runner["updateTime"] == "2026-11-20 08:00:00" and runner["type"] == "python"

    code = (out / "script-sets" / "guance_monitor" / "runner.py").read_text(encoding="utf-8")
    assert "import guance_monitor__clock as clock\n" in code
    assert "from guance_monitor__state import FileStore\n" in code
    assert runner["codeMD5"] == hashlib.md5(code.encode("utf-8")).hexdigest()
    example = (out / "script-sets" / "guance_monitor_spot_alive" / "example.py").read_text(encoding="utf-8")
    assert "import guance_monitor_spot_alive__main as main" in example
    assert '"<Guance API Key ID>"' in example  # placeholders are for Func's deploy, not replaced here
    assert not (out / "script-sets" / "startup").exists()
    assert not (out / "script-sets" / "guance_monitor" / "__init__.py").exists()

    for spec in market.SCRIPT_SETS:
        folder = out / "script-sets" / spec["id"]
        readme = (folder / "README.md").read_text(encoding="utf-8")
        assert spec["title"] in readme and spec["translations"]["en"] in readme
        assert (folder / "CHANGELOG.md").read_text(encoding="utf-8") == u"## 0.1.0\n- first\n"
    assert (out / "README.md").read_text(encoding="utf-8") == u"# guance-monitor\n"
    spot = meta["scriptSets"][1]
    assert "alibabacloud-ecs20140526==7.11.8" in spot["requirements"].splitlines()
    # The pod-restart set needs nothing beyond Func's image (PyYAML is in it).
    assert meta["scriptSets"][2]["id"] == "guance_monitor_k8s_pod_restart"
    assert meta["scriptSets"][2]["requirements"] == ""


@needs_yaml
def test_exported_meta_yaml_parses(tmp_path):
    out = tmp_path / "market"
    meta = market.export(str(out), root=fake_root(tmp_path), now=NOW)
    with open(str(out / "META.yaml"), encoding="utf-8") as handle:
        loaded = yaml.safe_load(handle)
    assert loaded == json.loads(json.dumps(meta))
    assert loaded["version"] == 2
    assert loaded["scriptSets"][1]["requirements"].startswith("alibabacloud-ecs20140526==7.11.8\n")
    info = yaml.safe_load((out / "script-sets" / "guance_monitor" / "CHANGELOG-info.yaml").read_text(
        encoding="utf-8"))
    assert info == {"latestUpdateTime": "2026-11-20 08:00:00"}


def test_export_of_this_repository(tmp_path):
    out = tmp_path / "market"
    meta = market.export(str(out))
    exported = dict((s["id"], s) for ss in meta["scriptSets"] for s in ss["scripts"])
    shipped = [sid for sid in SCRIPTS if sid.split("__")[0] in market.SCRIPT_SET_IDS]
    assert sorted(exported) == sorted(shipped)
    for script_id in shipped:
        set_id, name = script_id.split("__", 1)
        path = out / "script-sets" / set_id / (name + ".py")
        code = path.read_text(encoding="utf-8")
        assert package_form_imports(ast.parse(code)) == []
        assert exported[script_id]["codeMD5"] == hashlib.md5(code.encode("utf-8")).hexdigest()
    if yaml is not None:
        with open(str(out / "META.yaml"), encoding="utf-8") as handle:
            assert yaml.safe_load(handle)["version"] == 2
