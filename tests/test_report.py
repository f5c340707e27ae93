"""Markdown for event reports: escaping, tables that cannot break, numbers, times, text charts."""
import datetime
import re

import jinja2
import pytest

from guance_monitor import report
from guance_monitor.report import Markdown

UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def columns(row):
    """How many cells a markdown table row has, as a renderer splits it (escaped pipes do not split)."""
    return len(UNESCAPED_PIPE.findall(row)) - 1


# -- md / Markdown / code ---------------------------------------------------------------------

@pytest.mark.parametrize("char", list("|*_[]<>#`"))
def test_md_escapes_markdown_characters(char):
    assert report.md("a%sb" % char) == "a\\%sb" % char


def test_md_escapes_a_realistic_name():
    assert report.md("pod_[x] *hot* <b>#1</b>") == "pod\\_\\[x\\] \\*hot\\* \\<b\\>\\#1\\</b\\>"


def test_md_collapses_newlines_and_blank_runs():
    assert report.md("line one\n\n  line\ttwo  \r\n") == "line one line two"


def test_md_of_none_and_numbers():
    assert report.md(None) == ""
    assert report.md(42) == "42"
    assert report.md(1.5) == "1.5"


def test_md_result_is_markdown_and_is_not_escaped_twice():
    once = report.md("a_b")
    assert isinstance(once, Markdown)
    assert report.md(once) == "a\\_b"


def test_markdown_passes_through():
    text = Markdown("**bold** | [link](https://example.com)")
    assert report.md(text) is text


def test_a_pipe_in_a_name_cannot_add_a_table_column():
    text = report.table(["Pod", "Namespace", "Restarts"], [["web|1\nevil | col", "a|b", 3]])
    lines = text.splitlines()
    assert [columns(line) for line in lines] == [3, 3, 3]
    assert lines[2] == "| web\\|1 evil \\| col | a\\|b | 3 |"


@pytest.mark.parametrize("value, expected", [
    ("plain", "`plain`"),
    ("a`b", "``a`b``"),
    ("a``b`c", "```a``b`c```"),
    ("`start", "`` `start ``"),
    ("end`", "`` end` ``"),
    ("a|b", "`a\\|b`"),
    ("two\nlines", "`two lines`"),
    ("", ""),
    (None, ""),
    (12, "`12`"),
])
def test_code(value, expected):
    result = report.code(value)
    assert result == expected
    assert isinstance(result, Markdown)


def test_code_cell_is_not_escaped_again_in_a_table():
    text = report.table(["ID"], [[report.code("i-bp1_x")]])
    assert text.splitlines()[2] == "| `i-bp1_x` |"


# -- table --------------------------------------------------------------------------------------

def test_table_layout_and_short_rows_are_padded():
    text = report.table(["Name", "Zone", "Price"], [["a", "cn-hangzhou-h", 0.5], ["b"]])
    assert text == ("| Name | Zone | Price |\n"
                    "| --- | --- | --- |\n"
                    "| a | cn-hangzhou-h | 0.5 |\n"
                    "| b |  |  |")
    assert isinstance(text, Markdown)


def test_table_truncation_counts_hidden_rows():
    rows = [["pod-%d" % i] for i in range(25)]
    text = report.table(["Pod"], rows, limit=20)
    lines = text.splitlines()
    assert len([line for line in lines if line.startswith("| pod-")]) == 20
    assert lines[-1] == u"另有 5 行未显示 / 5 more rows not shown"
    assert "pod-19" in text and "pod-20" not in text


def test_table_custom_label_and_exact_fit():
    rows = [["x"]] * 3
    assert report.table(["A"], rows, limit=2, more_label="+{n} more").endswith("\n\n+1 more")
    assert "more" not in report.table(["A"], rows, limit=3)
    assert report.table(["A"], iter(rows), limit=0).count("| x |") == 3


def test_table_of_no_rows():
    assert report.table(["A", "B"], []) == "| A | B |\n| --- | --- |"


# -- numbers, durations, times ----------------------------------------------------------------

@pytest.mark.parametrize("value, digits, expected", [
    (1.5, 2, "1.5"), (2.0, 2, "2"), (1234.5678, 2, "1234.57"), (0.125, 1, "0.1"), (-0.001, 2, "0"),
    (3, 0, "3"), (None, 2, "-"), (float("nan"), 2, "-"), (True, 2, "True"), ("7.50", 2, "7.5"),
    ("n/a*", 2, "n/a\\*"),
])
def test_num(value, digits, expected):
    assert report.num(value, digits) == expected


@pytest.mark.parametrize("value, digits, expected", [
    (0.153, 1, "15.3%"), (1, 1, "100%"), (0.0004, 1, "0%"), (0.12345, 2, "12.35%"), (-0.5, 1, "-50%"),
    (None, 1, "-"), (float("nan"), 1, "-"),
])
def test_pct(value, digits, expected):
    assert report.pct(value, digits) == expected


@pytest.mark.parametrize("seconds, expected", [
    (0, "0s"), (45, "45s"), (59.6, "1m"), (270, "4m 30s"), (3600, "1h"), (7500, "2h 5m"),
    (86400, "1d"), (273600, "3d 4h"), (-270, "-4m 30s"), (None, "-"),
])
def test_duration(seconds, expected):
    assert report.duration(seconds) == expected


def test_display_time_defaults_to_utc_plus_8():
    expected = "2026-11-20 16:00:00 (UTC+8)"
    assert report.display_time("2026-11-20T08:00:00Z") == expected
    assert report.display_time(1795161600000) == expected
    moment = datetime.datetime(2026, 11, 20, 8, 0, tzinfo=datetime.timezone.utc)
    assert report.display_time(moment) == expected


def test_display_time_crosses_the_date_line():
    assert report.display_time("2026-11-20T20:30:00Z") == "2026-11-21 04:30:00 (UTC+8)"


def test_display_time_other_offsets_and_none():
    assert report.display_time("2026-11-20T08:00:00Z", 0) == "2026-11-20 08:00:00 (UTC+0)"
    assert report.display_time("2026-11-20T08:00:00Z", 5.5) == "2026-11-20 13:30:00 (UTC+5.5)"
    assert report.display_time("2026-11-20T08:00:00Z", -3) == "2026-11-20 05:00:00 (UTC-3)"
    assert report.display_time(None) == "-"


def test_display_time_refuses_garbage():
    with pytest.raises(ValueError) as info:
        report.display_time("soon")
    assert "'soon'" in str(info.value)


# -- the display zone ---------------------------------------------------------------------------

WINTER, SUMMER = "2026-11-20T08:00:00Z", "2026-07-20T08:00:00Z"


@pytest.mark.parametrize("node, winter, summer", [
    ("default", "2026-11-20 16:00:00 (UTC+8)", "2026-07-20 16:00:00 (UTC+8)"),
    ("cn3", "2026-11-20 16:00:00 (UTC+8)", "2026-07-20 16:00:00 (UTC+8)"),
    ("cn6", "2026-11-20 16:00:00 (UTC+8 HKT)", "2026-07-20 16:00:00 (UTC+8 HKT)"),
    ("us1", "2026-11-20 00:00:00 (UTC-8 PST)", "2026-07-20 01:00:00 (UTC-7 PDT)"),
    ("eu1", "2026-11-20 09:00:00 (UTC+1 CET)", "2026-07-20 10:00:00 (UTC+2 CEST)"),
    ("ap1", "2026-11-20 16:00:00 (UTC+8)", "2026-07-20 16:00:00 (UTC+8)"),
    ("US1", "2026-11-20 00:00:00 (UTC-8 PST)", "2026-07-20 01:00:00 (UTC-7 PDT)"),
    ("", "2026-11-20 16:00:00 (UTC+8)", "2026-07-20 16:00:00 (UTC+8)"),
    (None, "2026-11-20 16:00:00 (UTC+8)", "2026-07-20 16:00:00 (UTC+8)"),
    ("https://openapi.example.internal", "2026-11-20 16:00:00 (UTC+8)", "2026-07-20 16:00:00 (UTC+8)"),
])
def test_zone_for_node_and_times_that_name_their_zone(node, winter, summer):
    zone = report.zone_for_node(node)
    assert report.display_time(WINTER, zone=zone) == winter
    assert report.display_time(SUMMER, zone=zone) == summer


def test_every_guance_node_has_a_zone():
    from guance_monitor import openapi
    assert set(report.NODE_ZONES) == set(openapi.NODES)


@pytest.mark.parametrize("text, shown", [
    ("UTC", "2026-11-20 08:00:00 (UTC+0)"),
    ("utc+8", "2026-11-20 16:00:00 (UTC+8)"),
    ("UTC-08:00", "2026-11-20 00:00:00 (UTC-8)"),
    ("GMT+5:30", "2026-11-20 13:30:00 (UTC+5.5)"),
    ("+0545", "2026-11-20 13:45:00 (UTC+5.75)"),
    ("-3", "2026-11-20 05:00:00 (UTC-3)"),
    ("America/New_York", "2026-11-20 03:00:00 (UTC-5 EST)"),
    (" Asia/Shanghai ", "2026-11-20 16:00:00 (UTC+8 CST)"),
])
def test_parse_zone(text, shown):
    assert report.display_time(WINTER, zone=report.parse_zone(text)) == shown
    assert report.display_time(WINTER, zone=text) == shown


@pytest.mark.parametrize("text", ["", "Mars/Olympus", "UTC+15", "+08:75", "soon", None, 8])
def test_parse_zone_refuses_what_is_not_a_zone(text):
    with pytest.raises(ValueError) as info:
        report.parse_zone(text)
    assert repr(text) in str(info.value)


def test_display_zone_holds_for_a_run_and_is_restored():
    assert report.display_time(WINTER) == "2026-11-20 16:00:00 (UTC+8)"
    with report.display_zone(report.zone_for_node("us1")) as zone:
        assert report.current_zone() is zone
        assert report.display_time(WINTER) == "2026-11-20 00:00:00 (UTC-8 PST)"
        assert report.render("{{ t|time }}", t=WINTER) == "2026-11-20 00:00:00 (UTC-8 PST)\n"
        with report.display_zone("UTC"):
            assert report.display_time(WINTER) == "2026-11-20 08:00:00 (UTC+0)"
        assert report.display_time(WINTER, 8) == "2026-11-20 16:00:00 (UTC+8)"   # an explicit offset wins
    assert report.display_time(WINTER) == "2026-11-20 16:00:00 (UTC+8)"


# -- controls and links from data ---------------------------------------------------------------

@pytest.mark.parametrize("control", [u"\u202a", u"\u202b", u"\u202c", u"\u202d", u"\u202e", u"\u2066", u"\u2067",
                                     u"\u2068", u"\u2069", u"\u200e", u"\u200f", u"\u061c", u"\u200b", u"\u200c",
                                     u"\u200d", u"\u2060", u"\ufeff"])
def test_bidi_and_zero_width_controls_are_removed(control):
    name = u"invoice%sgnp.exe" % control
    assert report.md(name) == report.cell(name) == u"invoicegnp.exe"
    assert report.code(name) == u"`invoicegnp.exe`"
    assert report.render(u"{{ raw }}", raw=name) == u"invoicegnp.exe\n"   # even when a template forgets to escape


@pytest.mark.parametrize("text, escaped", [
    ("http://evil.example/x", "http\\:\\/\\/evil\\.example\\/x"),
    ("see HTTPS://a.b/c now", "see HTTPS\\:\\/\\/a\\.b\\/c now"),
    ("www.evil.com", "www\\.evil\\.com"),
    ("mail x@evil.com", "mail x\\@evil\\.com"),
    ("image registry.example.com/app:1", "image registry\\.example\\.com\\/app\\:1"),
    ("ecs.g7.large in cn-hangzhou.10.0.1.1", "ecs.g7.large in cn-hangzhou.10.0.1.1"),
    ("Status: Running, 0.15 CNY/h, v1.30.1", "Status: Running, 0.15 CNY/h, v1.30.1"),
])
def test_urls_and_linkifiable_domains_are_broken_up(text, escaped):
    assert report.md(text) == escaped


@pytest.mark.parametrize("text, escaped, in_cell", [
    ("- item", "\\- item", "- item"),
    ("+ item", "\\+ item", "+ item"),
    ("1. first", "1\\. first", "1. first"),
    ("42) answer", "42\\) answer", "42) answer"),
    ("===", "\\===", "==="),
    ("-", "\\-", "-"),
    ("-5 degrees", "-5 degrees", "-5 degrees"),
    ("2026.11 release", "2026.11 release", "2026.11 release"),
])
def test_a_list_marker_at_the_start_is_escaped_except_inside_a_cell(text, escaped, in_cell):
    assert report.md(text) == escaped
    assert report.cell(text) == in_cell


# -- sparkline ----------------------------------------------------------------------------------

def test_sparkline_empty():
    assert report.sparkline([]) == ""
    assert report.sparkline([None, float("nan")]) == ""


def test_sparkline_flat_is_mid_height():
    assert report.sparkline([3, 3, 3]) == u"\u2584\u2584\u2584"


def test_sparkline_rising_uses_every_bar():
    assert report.sparkline(range(8)) == u"\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"


def test_sparkline_falling_and_gaps():
    assert report.sparkline([10, None, 0]) == u"\u2588\u2581"


def test_sparkline_resamples_to_width():
    line = report.sparkline(range(100), width=10)
    assert len(line) == 10
    assert line[0] == u"\u2581" and line[-1] == u"\u2588"
    assert list(line) == sorted(line)


def test_sparkline_short_series_is_not_stretched():
    assert len(report.sparkline([1, 2, 3], width=24)) == 3


# -- render -------------------------------------------------------------------------------------

def test_render_with_filters():
    template = (u"# {{ title | md }}\n\n"
                u"- 实例: {{ instance | code }}\n"
                u"- 价格: {{ price | num(3) }} ({{ ratio | pct }})\n"
                u"- 时间: {{ at | time }}, 持续 {{ seconds | duration }}\n"
                u"- 趋势: {{ series | spark }}\n\n"
                u"{{ table(['Zone', 'Price'], rows) }}\n")
    text = report.render(template, title="spot *alive*", instance="i-bp1", price=0.12345, ratio=0.2,
                         at="2026-11-20T08:00:00Z", seconds=270, series=[1, 2, 3],
                         rows=[["cn-hangzhou-h", 0.5]])
    assert text == (u"# spot \\*alive\\*\n\n"
                    u"- 实例: `i-bp1`\n"
                    u"- 价格: 0.123 (20%)\n"
                    u"- 时间: 2026-11-20 16:00:00 (UTC+8), 持续 4m 30s\n"
                    u"- 趋势: \u2581\u2585\u2588\n\n"
                    u"| Zone | Price |\n| --- | --- |\n| cn-hangzhou-h | 0.5 |\n")


def test_render_raises_on_a_missing_variable():
    with pytest.raises(jinja2.UndefinedError) as info:
        report.render("{{ present }} {{ missing }}", present=1)
    assert "missing" in str(info.value)


def test_render_collapses_blank_line_runs_and_strips():
    template = ("\n\nA\n{% if flag %}\nB\n{% endif %}\n\n\n\n{% if flag %}\nC\n{% endif %}\n\n\nD   \n\n\n")
    assert report.render(template, flag=False) == "A\n\nD\n"
    assert report.render(template, flag=True) == "A\nB\n\nC\n\nD\n"


def test_render_does_not_html_escape():
    assert report.render("{{ text }}", text="<b>&</b>") == "<b>&</b>\n"
