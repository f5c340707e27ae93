"""Reports cannot be hijacked by the data: both inspections, run through the local Func runtime against the
sandbox on a scenario full of hostile names, and every event rendered by CommonMark (raw HTML allowed),
a GFM-like renderer that autolinks, and Python-Markdown: no live HTML, no javascript: link, no link to a
URL from the data, no bidi or zero-width control."""
import copy
import json
import re
from html.parser import HTMLParser

import markdown
import pytest
from markdown_it import MarkdownIt

from guance_monitor import report
from guance_monitor_local import demo

from k8s_scenario_builder import MINUTE, Builder, Container, Pod, ms

RUNS = ["2026-11-20T08:00:00Z", "2026-11-20T08:06:00Z"]
HOSTILE = [
    u"[x](javascript:alert(1))",
    u"<img src=x onerror=alert(1)>",
    u"http://evil.example/",
    u"www.evil.com",
    u"invoice\u202Egnp.exe",
    u"zero\u200bwidth\u2060\ufeffname",
    u"`tick` | pipe",
    u"line1\nline2",
    u"1. list",
    u"- item <script>alert(1)</script>",
]
CONTROLS = [chr(c) for c in list(range(0x202A, 0x202F)) + list(range(0x2066, 0x206A))] + \
    [u"\u200e", u"\u200f", u"\u061c", u"\u200b", u"\u200c", u"\u200d", u"\u2060", u"\ufeff"]
DATA_MARKERS = ("evil", "javascript", "alert")
ALLOWED_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "ul", "ol",
                "li", "code", "pre", "strong", "em", "a", "br", "hr", "blockquote", "del", "s"}


def spot_part():
    """The bundled demo's Alibaba Cloud data with every instance name (and a tag) made hostile."""
    with open(demo.BUNDLED_SCENARIO, encoding="utf-8") as handle:
        data = json.load(handle)
    names = {}
    for region in data["aliyun"].values():
        for instance in region["instances"]:
            hostile = names.setdefault(instance["InstanceId"], HOSTILE[len(names) % len(HOSTILE)])
            instance["InstanceName"] = instance["HostName"] = hostile
            instance.setdefault("Tags", {"Tag": []})["Tag"].append(
                {"TagKey": "team", "TagValue": u"<img src=x onerror=alert(2)> http://evil.example/t"})
    objects = []
    for point in data["guance"]["points"]["custom_object"]:
        point = copy.deepcopy(point)
        hostile = names.get(point["tags"].get("InstanceId"))
        if hostile is not None:
            point["tags"]["InstanceName"] = point["tags"]["HostName"] = hostile
            message = json.loads(point["fields"]["message"])
            message["InstanceName"] = message["HostName"] = hostile
            point["fields"]["message"] = json.dumps(message, ensure_ascii=False)
        objects.append(point)
    return data["aliyun"], objects, data["guance"]["studio"][0]


def k8s_part():
    """Crash-looping pods with hostile names, namespace and cluster, and events with URLs and HTML."""
    b = Builder("hostile", "hostile names everywhere", RUNS)
    cluster, namespace = u"c1 [x](javascript:alert(1))", u"shop <img src=x onerror=alert(1)>"
    start = ms(RUNS[0]) - 30 * MINUTE
    for index, name in enumerate(HOSTILE[:6]):
        restarts, at, count = [], start + 2 * MINUTE, 0
        while at <= ms(RUNS[-1]):
            count += 1
            restarts.append((at, count))
            at += 6 * MINUTE
        pod = b.add_pod(Pod(namespace, name, cluster=cluster, node="node-%d" % (index % 2 + 1),
                            owner=("deployment", u"svc [a](javascript:x)"),
                            containers=[Container(u"app<b>", restarts=restarts,
                                                  terminations=[(t - 5000, "Error", 1) for t, _ in restarts])]))
        b.event(start + 3 * MINUTE, "BackOff",
                u"Back-off pulling http://evil.example/app:1 <img src=x onerror=alert(1)> [x](javascript:alert(1)) "
                u"see www.evil.com \u202Eevil", pod=pod)
    b.studio = [{"check": "k8s-pod-restart", "callKwargs": {"configs": []}, "disabled": False}]
    return b.to_dict()


@pytest.fixture(scope="module")
def hostile_events(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    data = k8s_part()
    aliyun, objects, spot_studio = spot_part()
    data["aliyun"] = aliyun
    data["guance"]["points"]["custom_object"] = objects
    data["guance"]["studio"].append(spot_studio)
    path = folder / "hostile.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    rows = demo.run(str(path), out_dir=str(folder / "out"), progress=lambda message: None)
    assert not any(row["failed"] for row in rows), rows
    with open(str(folder / "out" / "events.jsonl"), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


class Elements(HTMLParser):
    def __init__(self):
        HTMLParser.__init__(self, convert_charrefs=True)
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


RENDERERS = {
    "commonmark": MarkdownIt("commonmark", {"html": True}).render,
    "gfm-like (linkify)": MarkdownIt("gfm-like", {"html": True}).render,
    "python-markdown": lambda text: markdown.Markdown(extensions=["tables"]).convert(text),
}


def problems_in(html):
    parser = Elements()
    parser.feed(html)
    found = []
    for tag, attrs in parser.tags:
        if tag not in ALLOWED_TAGS:
            found.append("live <%s>" % tag)
        for name, value in attrs.items():
            if name.startswith("on"):
                found.append("<%s %s=...>" % (tag, name))
            if name in ("href", "src") and (re.match(r"(?i)\s*javascript:", value or "") or
                                            any(m in (value or "").lower() for m in DATA_MARKERS)):
                found.append("<%s %s=%r>" % (tag, name, value))
    return found


def test_both_inspections_reported_the_hostile_names(hostile_events):
    checks = set(e["check"] for e in hostile_events)
    assert checks == {"spot-alive", "k8s-pod-restart"}
    for check in checks:
        texts = " ".join(e["title"] + e["message"] for e in hostile_events if e["check"] == check)
        assert "javascript" in texts and "onerror" in texts and "evil" in texts, check


@pytest.mark.parametrize("renderer", sorted(RENDERERS))
def test_no_event_renders_live_html_or_links_from_the_data(hostile_events, renderer):
    render = RENDERERS[renderer]
    for event in hostile_events:
        for part, text in (("title", u"# " + event["title"]), ("message", event["message"])):
            assert problems_in(render(text)) == [], (renderer, part, event["title"])


def test_no_bidi_or_zero_width_control_survives(hostile_events):
    for event in hostile_events:
        for text in [event["title"], event["message"]] + list(event["dimension_tags"].values()):
            assert not [c for c in CONTROLS if c in text], event["title"]


def test_hostile_names_still_read_as_written(hostile_events):
    """Escaped, not mangled: CommonMark shows the names as plain text."""
    shown = " ".join(RENDERERS["commonmark"](e["message"]) for e in hostile_events)
    assert "[x](javascript:alert(1))" in shown
    assert "&lt;img src=x onerror=alert(1)&gt;" in shown
    assert "http://evil.example/" in shown
    assert "invoicegnp.exe" in shown   # the U+202E is gone, the name is left as it is stored


# -- the escaping itself ------------------------------------------------------------------------

@pytest.mark.parametrize("name", HOSTILE + [u"ack.aliyun.com=c-demo", u"x@evil.com", u"//evil.com/x", u"+ plus",
                                            u"=====", u"42) answer"])
@pytest.mark.parametrize("renderer", sorted(RENDERERS))
def test_a_name_at_a_line_start_in_a_list_or_a_cell_stays_one_text(name, renderer):
    render = RENDERERS[renderer]
    for text in (report.md(name), u"- " + report.md(name), u"| a |\n| --- |\n| %s |" % report.cell(name)):
        html = render(text)
        assert problems_in(html) == [], (text, html)
        assert len(re.findall(r"<li>", html)) <= 1 and "<h" not in html.replace("<hr", ""), (text, html)
    assert u"\n" not in report.md(name) and u"\n" not in report.cell(name)
