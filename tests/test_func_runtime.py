"""The local DataFlux Func runtime: DFF.API, script imports, task isolation, DFF helpers, timeouts."""
import hashlib
import textwrap

import pytest

from guance_monitor import clock
from guance_monitor_local import func_runtime
from guance_monitor_local.func_runtime import FuncError, FuncTimeout, InvalidAPIOption


def src(text):
    return textwrap.dedent(text).lstrip("\n")


API_SCRIPT = src('''
    import datetime

    @DFF.API('Demo title', fixed_crontab='*/5 * * * *', timeout=60, category='ops', tags=['b', 'a', 'b'])
    def run(configs=None, threshold=3, names=["a"], when=datetime.date(2026, 11, 20), *rest, **options):
        """
        zh-CN:
          title: 示例
        en:
          title: Example
        """
        return {"configs": configs, "threshold": threshold}

    @DFF.API('Bare')
    def bare(target):
        return target

    def helper():
        return "not an API"
''')


def test_dff_api_sets_the_func_attributes(make_runtime):
    runtime = make_runtime(scripts={"demo__api": API_SCRIPT})
    api_funcs, scope = runtime.load("demo__api")
    run = scope["run"]
    assert run._DFF_FUNC_ID == "demo__api.run"
    assert run._DFF_FUNC_NAME == "run"
    assert run._DFF_FUNC_TITLE == "Demo title"
    assert run._DFF_FUNC_DESCRIPTION == u"zh-CN:\n  title: 示例\nen:\n  title: Example"
    assert run._DFF_FUNC_DEFINITION == ("run(configs=None, threshold=3, names=['a'], "
                                        "when=datetime.date(2026, 11, 20), *rest, **options)")
    assert run._DFF_FUNC_ARGS == ["configs", "threshold", "names", "when", "*rest", "**options"]
    assert run._DFF_FUNC_KWARGS == {
        "configs": {"default": None}, "threshold": {"default": 3}, "names": {"default": ["a"]},
        "when": {"default": "<Complex Object>"}, "*rest": {}, "**options": {}}
    assert run._DFF_FUNC_CATEGORY == "ops"
    assert run._DFF_FUNC_TAGS == ["a", "b"]
    assert run.__name__ == "run" and run.__wrapped__._DFF_FUNC_ID == "demo__api.run"
    assert [f["name"] for f in api_funcs] == ["run", "bare"]
    assert api_funcs[0]["extraConfig"]["fixedCronExpr"] == "*/5 * * * *"
    assert api_funcs[0]["extraConfig"]["timeout"] == 60


def test_dff_api_without_default_or_docstring(make_runtime):
    runtime = make_runtime(scripts={"demo__api": API_SCRIPT})
    api_funcs, scope = runtime.load("demo__api")
    bare = scope["bare"]
    assert bare._DFF_FUNC_KWARGS == {"target": {}}
    assert bare._DFF_FUNC_ARGS == ["target"]
    assert bare._DFF_FUNC_DEFINITION == "bare(target)"
    assert bare._DFF_FUNC_DESCRIPTION is None
    assert bare._DFF_FUNC_CATEGORY == "general"
    assert api_funcs[1]["extraConfig"] == {}
    assert not hasattr(scope["helper"], "_DFF_FUNC_ID")


def test_api_function_runs_with_kwargs(make_runtime):
    runtime = make_runtime(scripts={"demo__api": API_SCRIPT})
    result = runtime.run("demo__api.run", {"configs": '[{"a": 1}]'})
    assert result.ok, result.error
    assert result.value == {"configs": '[{"a": 1}]', "threshold": 3}
    assert [f["name"] for f in result.api_funcs] == ["run", "bare"]


def api_option_script(options):
    return src('''
        @DFF.API('t', %s)
        def run():
            return 1
    ''' % options)


@pytest.mark.parametrize("options, message", [
    ("fixed_crontab='61 * * * *'", "`fixed_crontab` is not a valid crontab expression"),
    ("fixed_crontab='every five minutes'", "`fixed_crontab` is not a valid crontab expression"),
    ("fixed_crontab='0 */5 * * * *'", "`fixed_crontab` does not support second part"),
    ("timeout=3601", "`timeout` should be between `1` and `3600` (seconds)"),
    ("timeout=-1", "`timeout` should be between `1` and `3600` (seconds)"),
    ("timeout='60'", "`timeout` should be an integer"),
    ("timeout=1.5", "`timeout` should be an integer"),
    ("api_timeout=True", "`timeout` should be an integer"),
    ("expires=86401", "`expires` should be an integer between `1` and `86400`"),
    ("queue=0", "`queue` should be one of 1..9 (0 is the system queue)"),
    ("category=3", "`category` should be a string"),
    ("tags='a'", "`tags` should be a list of strings"),
])
def test_invalid_api_options_raise(make_runtime, options, message):
    runtime = make_runtime(scripts={"demo__opts": api_option_script(options)})
    with pytest.raises(InvalidAPIOption) as info:
        runtime.load("demo__opts")
    assert str(info.value) == message


def test_invalid_api_option_fails_the_task(make_runtime):
    runtime = make_runtime(scripts={"demo__opts": api_option_script("timeout=3601")})
    result = runtime.run("demo__opts.run")
    assert not result.ok and isinstance(result.error, InvalidAPIOption)


def test_timeout_zero_is_unset_as_in_func(make_runtime):
    """Func's DFF.API does ``timeout = timeout or api_timeout``: 0 means "not given" (default 35 s).

    (DataFlux Func worker, ``_export_as_api``.) The local runtime must behave the same, not stricter.
    """
    runtime = make_runtime(scripts={"demo__opts": api_option_script("timeout=0")})
    api_funcs, _ = runtime.load("demo__opts")
    assert "timeout" not in api_funcs[0]["extraConfig"]
    assert func_runtime._func_timeout(api_funcs, "run") == func_runtime.TIMEOUT_DEFAULT == 35


@pytest.mark.parametrize("options, extra", [
    ("timeout=1", {"timeout": 1}),
    ("timeout=3600", {"timeout": 3600}),
    ("api_timeout=90", {"timeout": 90}),
    ("fixed_cron_expr='0 * * * *'", {"fixedCronExpr": "0 * * * *", "fixedCrontab": "0 * * * *"}),
    ("expires=86400, queue=9, is_hidden=True", {"expires": 86400, "queue": 9, "isHidden": True}),
])
def test_valid_api_options_are_recorded(make_runtime, options, extra):
    runtime = make_runtime(scripts={"demo__opts": api_option_script(options)})
    api_funcs, _ = runtime.load("demo__opts")
    assert api_funcs[0]["extraConfig"] == extra


def test_duplicate_function_names_are_refused(make_runtime):
    script = src('''
        @DFF.API('one')
        def run():
            return 1

        @DFF.API('two')
        def run():
            return 2
    ''')
    runtime = make_runtime(scripts={"demo__dup": script})
    with pytest.raises(FuncError) as info:
        runtime.load("demo__dup")
    assert str(info.value) == "DuplicatedFuncName: Two or more functions named `run`"


# -- imports -------------------------------------------------------------------------------------

LIB = src('''
    print("lib loaded")
    VALUE = "from lib"
    ZERO = 0
    EMPTY = {}
    STATE = {"calls": 0}
    SEEN_FUNC_ID = _DFF_FUNC_ID
    SEEN_SCRIPT_ID = _DFF_SCRIPT_ID
    SEEN_MARK = globals().get("_DFF_MARK")

    def bump():
        STATE["calls"] += 1
        return STATE["calls"]

    def cache_set(key, value):
        DFF.CACHE.set(key, value)

    def cache_get(key):
        return DFF.CACHE.get(key)
''')


def runtime_with(make_runtime, main, **kwargs):
    return make_runtime(scripts={"demo__lib": LIB, "demo__main": src(main)}, **kwargs)


def test_from_script_import_a_truthy_name(make_runtime):
    runtime = runtime_with(make_runtime, '''
        from demo__lib import VALUE

        def run():
            return VALUE
    ''')
    assert runtime.run("demo__main.run").value == "from lib"


@pytest.mark.parametrize("name", ["ZERO", "EMPTY"])
def test_from_script_import_refuses_a_falsy_value(make_runtime, name):
    runtime = runtime_with(make_runtime, '''
        from demo__lib import %s

        def run():
            return 1
    ''' % name)
    result = runtime.run("demo__main.run")
    assert isinstance(result.error, ImportError)
    assert "Cannot import name `%s` from `demo__lib`" % name in str(result.error)


def test_from_script_import_refuses_a_missing_name(make_runtime):
    runtime = runtime_with(make_runtime, '''
        from demo__lib import VALUE, NOT_THERE
    ''')
    with pytest.raises(ImportError) as info:
        runtime.load("demo__main")
    assert "Cannot import name `NOT_THERE` from `demo__lib`" in str(info.value)


def test_import_of_a_missing_script_is_refused(make_runtime):
    runtime = make_runtime(scripts={"demo__main": "import demo__nothing\n"})
    with pytest.raises(ImportError) as info:
        runtime.load("demo__main")
    assert "demo__nothing" in str(info.value)


def test_import_dunder_name_resolves_in_the_same_script_set(make_runtime):
    runtime = runtime_with(make_runtime, '''
        import __lib
        import __lib as lib

        def run():
            return [__lib.VALUE, lib is __lib]
    ''')
    assert runtime.run("demo__main.run").value == ["from lib", True]


def test_import_dunder_name_does_not_reach_another_script_set(make_runtime):
    runtime = make_runtime(scripts={"demo__lib": LIB, "other__main": "import __lib\n"})
    with pytest.raises(ImportError):
        runtime.load("other__main")


def test_normal_imports_still_work(make_runtime):
    runtime = make_runtime(scripts={"demo__main": src('''
        import json
        from collections import OrderedDict

        def run():
            return json.dumps(OrderedDict([("a", 1)]))
    ''')})
    assert runtime.run("demo__main.run").value == '{"a": 1}'


def test_imported_scripts_inherit_dff_globals(make_runtime):
    runtime = runtime_with(make_runtime, '''
        import demo__lib as lib

        def run():
            return [lib.SEEN_FUNC_ID, lib.SEEN_SCRIPT_ID, _DFF_FUNC_NAME, _DFF_SCRIPT_SET_ID, _DFF_ORIGIN]
    ''')
    result = runtime.run("demo__main.run", origin="direct")
    assert result.value == ["demo__main.run", "demo__main", "run", "demo", "direct"]


def test_dff_globals_set_by_the_entry_script_reach_imported_scripts(make_runtime):
    # Func's worker execs the entry script in the very scope its __import__ is bound to, so a
    # _DFF_* global assigned before an import is what the imported script inherits.
    runtime = runtime_with(make_runtime, '''
        _DFF_MARK = "set by main"
        import demo__lib as lib

        def run():
            return lib.SEEN_MARK
    ''')
    assert runtime.run("demo__main.run").value == "set by main"


def test_module_level_state_does_not_survive_between_tasks(make_runtime):
    runtime = runtime_with(make_runtime, '''
        import demo__lib as lib
        import __lib

        def run():
            lib.bump()
            return __lib.bump()
    ''')
    first = runtime.run("demo__main.run")
    second = runtime.run("demo__main.run")
    assert first.value == 2 and second.value == 2  # one module per task, shared by both imports
    assert first.log.count("lib loaded") == 1 and second.log.count("lib loaded") == 1


def test_print_lines_are_collected_in_the_log(make_runtime):
    runtime = make_runtime(scripts={"demo__main": src('''
        print("loading")

        def run(name):
            print("hello", name, 3)
            print("a", "b", sep="-")
            return None
    ''')})
    result = runtime.run("demo__main.run", {"name": "web01"})
    assert result.ok
    assert result.log == ["loading", "hello web01 3", "a-b"]
    assert runtime.lines == ["loading", "hello web01 3", "a-b"]  # echoed as they come


def test_base_exception_is_not_a_builtin(make_runtime):
    runtime = make_runtime(scripts={"demo__main": "def run():\n    return BaseException\n"})
    result = runtime.run("demo__main.run")
    assert isinstance(result.error, NameError)


# -- DFF helpers ---------------------------------------------------------------------------------

def test_cache_values_come_back_as_strings(make_runtime):
    runtime = make_runtime(scripts={"demo__main": src('''
        def run():
            DFF.CACHE.set("n", 5)
            DFF.CACHE.set("flag", True)
            DFF.CACHE.set("text", u"中文")
            DFF.CACHE.incrby("n", 2)
            return [DFF.CACHE.get("n"), DFF.CACHE.get("flag"), DFF.CACHE.get("text"), DFF.CACHE.get("none")]
    ''')})
    assert runtime.run("demo__main.run").value == ["7", "True", u"中文", None]


def test_cache_is_scoped_per_script_and_survives_tasks(make_runtime):
    runtime = runtime_with(make_runtime, '''
        import demo__lib as lib

        def write():
            DFF.CACHE.set("k", "main")
            lib.cache_set("k", "lib")
            DFF.CACHE.set("shared", "x", scope="common")

        def read():
            return [DFF.CACHE.get("k"), lib.cache_get("k"), DFF.CACHE.get("k", scope="demo__lib"),
                    DFF.CACHE.get("shared", scope="common")]
    ''')
    assert runtime.run("demo__main.write").ok
    assert runtime.run("demo__main.read").value == ["main", "lib", "lib", "x"]


def test_cache_expire_follows_the_injected_clock(make_runtime):
    runtime = make_runtime(scripts={"demo__main": src('''
        def write():
            DFF.CACHE.set("price", 0.5)
            return DFF.CACHE.expire("price", 60)

        def read():
            return DFF.CACHE.get("price")
    ''')})
    with clock.frozen("2026-11-20T08:00:00Z"):
        assert runtime.run("demo__main.write").value is True
    with clock.frozen("2026-11-20T08:00:59Z"):
        assert runtime.run("demo__main.read").value == "0.5"
    with clock.frozen("2026-11-20T08:01:00Z"):
        assert runtime.run("demo__main.read").value is None


def test_sign_is_md5_of_secret_and_args(make_runtime):
    runtime = make_runtime(scripts={"demo__main": "def run():\n    return DFF.SIGN('a', 1)\n"})
    expected = hashlib.md5((runtime.secret + "\na\n1").encode("utf-8")).hexdigest()
    assert runtime.run("demo__main.run").value == expected


def test_secret_lives_in_the_config_dir_not_the_state_dir(make_runtime, tmp_path, monkeypatch):
    """Moving the state must not change the refKey (a second inspection in Guance)."""
    monkeypatch.delenv("GUANCE_MONITOR_FUNC_SECRET")
    monkeypatch.setenv("GUANCE_MONITOR_CONFIG_DIR", str(tmp_path / "config"))
    first = make_runtime(state_dir=str(tmp_path / "one"))
    moved = make_runtime(state_dir=str(tmp_path / "two"))
    assert first.secret == moved.secret and len(first.secret) == 64
    path = tmp_path / "config" / "func-secret"
    assert path.read_text(encoding="utf-8").strip() == first.secret
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert first.secret not in "".join(p.read_text(errors="replace") for p in (tmp_path / "one").rglob("*")
                                       if p.is_file())
    monkeypatch.setenv("GUANCE_MONITOR_CONFIG_DIR", str(tmp_path / "other-config"))
    assert make_runtime(state_dir=str(tmp_path / "one")).secret != first.secret


def test_secret_defaults_to_the_home_config_dir(make_runtime, tmp_path, monkeypatch):
    monkeypatch.delenv("GUANCE_MONITOR_FUNC_SECRET")
    monkeypatch.delenv("GUANCE_MONITOR_CONFIG_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    runtime = make_runtime()
    path = tmp_path / "home" / ".config" / "guance-monitor" / "func-secret"
    assert path.read_text(encoding="utf-8").strip() == runtime.secret


def test_secret_kept_in_a_state_dir_by_an_earlier_version_is_adopted(make_runtime, tmp_path, monkeypatch):
    monkeypatch.delenv("GUANCE_MONITOR_FUNC_SECRET")
    monkeypatch.setenv("GUANCE_MONITOR_CONFIG_DIR", str(tmp_path / "config"))
    from guance_monitor import state
    state.FileStore(str(tmp_path / "old" / "func")).set("func-secret", "earlier-secret-0001")
    assert make_runtime(state_dir=str(tmp_path / "old")).secret == "earlier-secret-0001"
    assert make_runtime(state_dir=str(tmp_path / "new")).secret == "earlier-secret-0001"


def test_secret_from_the_environment_wins(make_runtime, tmp_path, monkeypatch):
    monkeypatch.setenv("GUANCE_MONITOR_CONFIG_DIR", str(tmp_path / "config"))
    assert make_runtime().secret == "test-func-secret-0001"
    assert not (tmp_path / "config").exists()


def test_env(make_runtime):
    runtime = make_runtime(scripts={"demo__main": "def run():\n    return [DFF.ENV('REGION'), DFF.ENV('NONE')]\n"},
                           env={"REGION": "cn-hangzhou"})
    assert runtime.run("demo__main.run").value == ["cn-hangzhou", None]


@pytest.mark.parametrize("expression, message", [
    ("DFF.APi", "DFF has no attribute 'APi' (did you mean DFF.API?)"),
    ("DFF.CAHCE", "DFF has no attribute 'CAHCE' (did you mean DFF.CACHE?)"),
    ("DFF.Env", "DFF has no attribute 'Env' (did you mean DFF.ENV?)"),
    ("DFF.nothing_like_it", "DFF has no attribute 'nothing_like_it'"),
    ("DFF.SQL", "DFF.SQL exists in DataFlux Func but not in the local runtime"),
])
def test_unknown_dff_attribute_is_an_error_naming_it(make_runtime, expression, message):
    runtime = make_runtime(scripts={"demo__main": "def run():\n    return %s\n" % expression})
    error = runtime.run("demo__main.run").error
    assert isinstance(error, AttributeError) and str(error) == message


def test_lower_case_aliases_answer_as_in_func(make_runtime):
    runtime = make_runtime(scripts={"demo__main": src('''
        @DFF.api('lower')
        def run():
            return [DFF.env('REGION'), DFF.cache is DFF.CACHE, getattr(DFF, 'NOPE', 'default')]
    ''')}, env={"REGION": "cn-hangzhou"})
    assert runtime.run("demo__main.run").value == ["cn-hangzhou", True, "default"]


# -- failures -----------------------------------------------------------------------------------

def test_endless_function_times_out(make_runtime):
    runtime = make_runtime(scripts={"demo__spin": src('''
        @DFF.API('spin', timeout=1)
        def spin():
            while True:
                pass
    ''')})
    result = runtime.run("demo__spin.spin")
    assert isinstance(result.error, FuncTimeout)
    assert str(result.error) == "demo__spin.spin timed out after 1 s (the timeout of its DFF.API)"
    assert 0.9 <= result.seconds < 3


def test_missing_function_is_a_func_error(make_runtime):
    runtime = make_runtime(scripts={"demo__main": "def run():\n    return 1\n"})
    result = runtime.run("demo__main.nope")
    assert isinstance(result.error, FuncError)
    assert str(result.error) == "Function not found: `demo__main.nope`"


def test_missing_script_is_a_func_error(make_runtime):
    runtime = make_runtime()
    with pytest.raises(FuncError) as info:
        runtime.run("demo__nothing.run")
    assert str(info.value) == "script 'demo__nothing' not found"


def test_function_id_must_name_a_script(make_runtime):
    with pytest.raises(FuncError) as info:
        make_runtime().run("plain.run")
    assert "is not <scriptset>__<script>.<func>" in str(info.value)


def test_errors_in_the_function_are_the_result_not_raised(make_runtime):
    runtime = make_runtime(scripts={"demo__main": "def run():\n    print('before')\n    raise KeyError('x')\n"})
    result = runtime.run("demo__main.run")
    assert not result.ok and isinstance(result.error, KeyError)
    assert result.log == ["before"]


def test_script_id_for_path():
    assert func_runtime.script_id_for_path("/x/spot_alive.py") == "startup__spot_alive"
    assert func_runtime.script_id_for_path("demo__main.py") == "demo__main"
