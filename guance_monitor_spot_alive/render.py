# -*- coding: utf-8 -*-
"""Render: the run's ``Plan`` and ``Observation`` -> event dicts (title, status, dimension_tags, markdown).

    events = render.events(plan, observation)

One event per decision of the plan, in its order: the groups and instances of each (region,
type), then the incomplete-data event, then the no-data events. Rows of the report tables are
prepared here and escaped by ``report.table``; every name from data goes through ``report``'s
helpers (titles included); the wording lives in ``templates``. Nothing here does I/O or reads the
time: time-relative text (time left, since) is stated as of the run's time (``plan.now_ms``).
"""
from guance_monitor import checker
from guance_monitor import report
from guance_monitor_spot_alive import rules
from guance_monitor_spot_alive import templates

STATUS_LABEL = {"critical": u"严重 critical", "error": u"错误 error", "warning": u"警告 warning",
                "info": u"提示 info", "ok": u"恢复 ok"}
HEADLINES = {
    "recycling": (u"抢占式实例正在被回收释放", "spot instance being released"),
    "price_below": (u"抢占式实例出价低于市场价", "spot bid below the market price"),
    "out_of_stock": (u"抢占式实例所在可用区无库存", "spot type sold out in its zone"),
    "price_near": (u"抢占式实例出价接近市场价", "spot bid close to the market price"),
    "low_stock": (u"抢占式实例所在可用区库存紧张", "spot type low on stock in its zone"),
    "interruption_high": (u"抢占式实例中断率处于最高档", "spot interruption rate in the top bucket"),
    "too_expensive": (u"抢占式实例价格超出可接受折扣", "spot price above the accepted discount"),
}
GROUP_HEADLINES = {
    "recycling": (u"抢占式实例正在被回收释放", "spot instances being released"),
    "price_below": (u"抢占式实例出价低于市场价", "spot instances bidding below the market price"),
    "out_of_stock": (u"抢占式实例所在可用区无库存", "spot instances whose type is sold out in their zone"),
    "price_near": (u"抢占式实例出价接近市场价", "spot instances bidding close to the market price"),
    "low_stock": (u"抢占式实例所在可用区库存紧张", "spot instances whose type is low on stock"),
    "interruption_high": (u"抢占式实例中断率处于最高档", "spot instances in the top interruption bucket"),
    "too_expensive": (u"抢占式实例价格超出可接受折扣", "spot instances priced above the accepted discount"),
}
SHORT = {
    "recycling": u"回收释放中 releasing", "price_below": u"出价低于市场价 bid below market",
    "out_of_stock": u"无库存 sold out", "price_near": u"出价接近市场价 bid near market",
    "low_stock": u"库存紧张 low stock", "interruption_high": u"中断率高 high interruption",
    "too_expensive": u"超出可接受折扣 above accepted discount",
}
STOCK_NAMES = {"WithStock": u"有库存 WithStock", "ClosedWithStock": u"库存紧张 ClosedWithStock",
               "WithoutStock": u"无库存 WithoutStock", "ClosedWithoutStock": u"无库存 ClosedWithoutStock",
               "NotListed": u"未列出 not listed"}
CHANGE = {"new": u"新发现 new", "escalated": u"升级 escalated", "deescalated": u"降级 de-escalated",
          "reminder": u"提醒（仍存在）reminder", "recovered": u"恢复 recovered", "released": u"已释放 released",
          "ungrouped": u"改为单独上报 reported alone again", None: u"-"}
TREND = {"rising": u"↑ 上涨 rising", "falling": u"↓ 下降 falling", "flat": u"→ 平稳 flat"}
TITLE_NAME_LIMIT = 60
TITLE_LIMIT = 256
TABLE_LIMIT = 20
MEMBER_LIMIT = 50
SILENT_SOURCES = {
    "objects": (u"观测云 CO::aliyun_ecs 对象（阿里云-ECS 集成）/ CO::aliyun_ecs objects (the Aliyun-ECS integration)",
                u"确认「观测云集成（阿里云-ECS采集）」已安装、在运行，且最近 30 分钟有 `CO::aliyun_ecs` 对象；或在启动脚本的 "
                u"account 中设置 `instance_source: \"describe_instances\"` 直接列举实例 / Check that the Aliyun-ECS "
                u"integration is installed and running and wrote `CO::aliyun_ecs` objects in the last 30 minutes, or "
                u"set `instance_source: \"describe_instances\"` in the startup script's account."),
    "spot": (u"抢占式实例（configs 选中的）/ spot instances (selected by configs)",
             u"之前看到过抢占式实例，现在一个也没有：确认实例是否已全部释放，集成或 AccessKey 是否仍能看到它们，configs "
             u"是否改动 / Spot instances were seen before and none are now: check whether they were all released, "
             u"whether the integration or the AccessKey still sees them, and whether configs changed."),
}


# -- the stage ----------------------------------------------------------------------------------

def events(plan, observation):
    """The events of the plan, in its order (no I/O)."""
    now_ms = plan.now_ms
    out = []
    decisions = {}
    for decision in plan.instances:
        decisions.setdefault((decision.instance.get("region_id"), decision.instance.get("instance_type")),
                             []).append(decision)
    groups = {}
    for group in plan.groups:
        groups.setdefault((group.region, group.instance_type), []).append(group)
    actions = {}
    for action in plan.actions:
        actions.setdefault(action.instance_id, []).append(action)
    for key in sorted(set(decisions) | set(groups), key=lambda k: (k[0] or "", k[1] or "")):
        for group in groups.get(key, []):
            out.append(group_event(group, now_ms) if group.status != "ok" else group_ok_event(group, now_ms))
        for decision in decisions.get(key, []):
            if decision.status == "ok":
                out.append(recovered_event(decision, now_ms))
            else:
                out.append(instance_event(decision, now_ms, actions.get(decision.instance.get("instance_id"), ())))
    if plan.problems is not None:
        out.append(problems_event(plan.problems.problems, now_ms) if plan.problems.status != "ok"
                   else problems_ok_event(now_ms))
    for silence in plan.silences:
        what, hint = SILENT_SOURCES[silence.source]
        out.append(checker.silence_event(u"阿里云抢占式实例存活巡检", _Decision(silence), {
            "empty_runs": silence.empty_runs, "silent_since_ms": silence.since_ms}, what, hint,
            {"check": "spot-alive", "issue": "no-data", "source": silence.source}, now_ms))
    return out


class _Decision(object):
    """The shape ``checker.silence_event`` reads (``status``, ``since_ms``)."""

    def __init__(self, silence):
        self.status = silence.status
        self.since_ms = silence.since_ms


def as_of(seconds, now_ms):
    """``3m 30s（截至 / as of 2026-11-20 16:00:00 (UTC+8)）``; overdue when negative."""
    if seconds is None:
        return "-"
    left = report.duration(seconds) if seconds >= 0 else u"已超过 %s / overdue by %s" % (
        report.duration(-seconds), report.duration(-seconds))
    return u"%s（截至 / as of %s）" % (left, report.display_time(now_ms))


def _fit(text):
    return text if len(text) <= TITLE_LIMIT else text[:TITLE_LIMIT - 1] + u"…"


def title(head, name, tail=u""):
    """``head`` + the escaped ``name`` + ``tail`` within Guance's 256 characters (the name gives way)."""
    name = report.md(name)
    room = TITLE_LIMIT - len(head) - len(tail)
    if len(name) > room:
        name = name[:max(0, room - 1)].rstrip("\\") + u"…"
    return head + name + tail


def _one_line(text, limit=TITLE_NAME_LIMIT):
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[:limit - 1] + u"…"


def who(instance):
    """``name (id)`` for titles; the ID alone when the name is missing or equal."""
    name = _one_line(instance.get("instance_name"))
    instance_id = instance.get("instance_id") or "?"
    return "%s (%s)" % (name, instance_id) if name and name != instance_id else instance_id


def tags_of(instance):
    return {"region_id": instance.get("region_id") or "-", "zone_id": instance.get("zone_id") or "-",
            "instance_type": instance.get("instance_type") or "-", "instance_id": instance.get("instance_id") or "-"}


def group_tags(region, instance_type):
    return {"region_id": region or "-", "instance_type": instance_type or "-"}


def price_text(value, currency=None):
    if value is None:
        return "-"
    text = report.num(value, 4)
    return "%s %s/h" % (text, currency) if currency else text


def share_text(share):
    if share is None:
        return "-"
    return u"%s（%s折）" % (report.pct(share, 1), report.num(share * 10, 1))


def rate_text(desc, rate):
    parts = []
    if desc:
        parts.append(desc)
    if rate is not None:
        parts.append("(%s%%)" % report.num(rate, 1))
    return " ".join(parts) or "-"


# -- tables -----------------------------------------------------------------------------------

def details_table(instance, evaluation, currency, now_ms, last_known=False):
    inst = instance
    strategy = inst.get("spot_strategy") or "-"
    if strategy == "SpotAsPriceGo":
        limit = u"跟随市场价（最高按量价格）/ market price, at most pay-as-you-go"
    else:
        limit = price_text(inst.get("spot_price_limit"), currency)
    protection = "-"
    end = evaluation.protection_end_ms if evaluation is not None else rules.protection_end_ms(inst)
    if inst.get("spot_duration") == 0:
        protection = u"无保护期 / none (SpotDuration 0)"
    elif end is not None:
        state = u"已结束 / over" if now_ms >= end else u"剩余 / left %s" % as_of((end - now_ms) / 1000.0, now_ms)
        protection = u"%s（%s）" % (report.display_time(end), state)
    elif not last_known:
        protection = u"未知（缺少 CreationTime）/ unknown (no CreationTime)"
    locks = inst.get("locks")
    if locks is None:
        lock_text = u"未知 / unknown"
    elif not locks:
        lock_text = u"无 / none"
    else:
        lock_text = ", ".join(l["reason"] + (" (%s)" % l["message"] if l.get("message") else "") for l in locks)
    size = []
    if inst.get("cpu") is not None:
        size.append("%s vCPU" % inst["cpu"])
    if inst.get("memory_gib") is not None:
        size.append("%s GiB" % report.num(inst["memory_gib"], 1))
    tags = ", ".join("%s=%s" % (k, v) for k, v in sorted((inst.get("tags") or {}).items())) or "-"
    created = "-"
    if inst.get("creation_time"):
        try:
            created = report.display_time(inst["creation_time"])
        except ValueError:
            created = inst["creation_time"]
    source = {"guance": u"观测云 CO::aliyun_ecs", "describe_instances": "ECS DescribeInstances",
              "state": u"上次巡检记录 / last inspection"}.get(
        inst.get("source"), inst.get("source") or "-")
    rows = [
        (u"实例名称 Name", inst.get("instance_name") or "-"),
        (u"实例 ID Instance ID", inst.get("instance_id") or "-"),
        (u"地域 Region", inst.get("region_id") or "-"),
        (u"可用区 Zone", inst.get("zone_id") or "-"),
        (u"实例规格 Type", inst.get("instance_type") or "-"),
        (u"vCPU / 内存 Memory", " / ".join(size) or "-"),
        (u"抢占策略 Strategy", strategy),
        (u"出价上限 Price limit", limit),
        (u"创建时间 Created", created),
        (u"保护期结束 Protection ends", protection),
        (u"中断行为 Interruption behavior", inst.get("interruption_behavior") or u"Terminate（默认 default）"),
        (u"状态 Status", inst.get("status") or "-"),
        (u"锁定 Locks", lock_text),
        (u"标签 Tags", tags),
        (u"数据来源 Source", source),
    ]
    return report.table([u"字段 Field", u"值 Value"], rows, limit=0)


def price_table(rows, currency, limit=TABLE_LIMIT):
    if not rows:
        return ""
    out = []
    for row in rows:
        zone = row["zone"] + (u"（当前 current）" if row["current"] else "")
        out.append((zone, price_text(row["latest"]), price_text(row["origin"]), share_text(row["share"]),
                    price_text(row["per_vcpu"]), rate_text(row["desc"], row["rate"]),
                    STOCK_NAMES.get(row["stock"], row["stock"] or "-"),
                    report.display_time(row["latest_ms"]) if row["latest_ms"] else "-"))
    return report.table([u"可用区 Zone", u"最新价格 Spot (%s/h)" % currency, u"按量价格 PAYG (%s/h)" % currency,
                         u"折扣 Discount", u"每 vCPU Per vCPU", u"30 天中断率 Interruption (30 d)", u"库存 Stock",
                         u"价格时间 Price time"], out, limit=limit)


def history_table(rows, limit=TABLE_LIMIT):
    with_history = [r for r in rows if r["figures"]]
    if not with_history:
        return ""
    out = []
    for row in with_history:                 # the price table's order: best zone first

        fig = row["figures"]
        change = fig.get("change")
        trend = TREND[fig["trend"]] + (" %s%s" % ("+" if change >= 0 else "", report.pct(change, 1))
                                       if change is not None else "")
        zone = row["zone"] + (u"（当前 current）" if row["current"] else "")
        out.append((zone, price_text(fig["min"]), price_text(fig["avg"]), price_text(fig["max"]),
                    price_text(fig["latest"]), trend, report.sparkline(fig["series"])))
    return report.table([u"可用区 Zone", u"最低 Min", u"平均 Avg", u"最高 Max", u"最新 Latest", u"趋势 Trend",
                         u"走势 Chart"], out, limit=limit)


def overview_table(rows):
    return report.table([u"项目 Item", u"内容 Value"], rows, limit=0)


def _common(market_view, now_ms):
    return {"currency": market_view.get("currency") or "CNY", "stock_names": STOCK_NAMES,
            "days": market_view.get("days"), "now_ms": now_ms,
            "price_table": price_table(market_view.get("rows") or [], market_view.get("currency") or "CNY"),
            "history_table": history_table(market_view.get("rows") or []),
            "price_error": market_view.get("price_error"),
            "region": market_view.get("region"), "type": market_view.get("type")}


# -- events -----------------------------------------------------------------------------------

def more_reasons(count):
    """``（另有 2 个原因 / +2 more reasons）``: the other reasons of the same instance."""
    if not count:
        return u""
    return u"（另有 %d 个原因 / +%d more reason%s）" % (count, count, "" if count == 1 else "s")


def release_text(recycling):
    """The release time of a title: ``释放时间 / release at <time>`` (``最迟 / by`` without a notice)."""
    when = report.display_time(recycling["deadline_ms"])
    if recycling["deadline_kind"] == "notice":
        return u"释放时间 / release at %s" % when
    return u"最迟释放 / released by %s" % when


def instance_event(decision, now_ms, actions=()):
    """The event of one firing instance (``decision``: a ``records.InstanceDecision``)."""
    instance, evaluation, change = decision.instance, decision.evaluation, decision.reason
    findings = evaluation.findings
    zh, en = HEADLINES[findings[0]["code"]]
    recycling = next((f["facts"] for f in findings if f["code"] == "recycling"), None)
    tail = (u" — %s" % release_text(recycling) if recycling else u"") + more_reasons(len(findings) - 1)
    status = evaluation.severity
    rows = [(u"对象 Object", u"%s · %s · %s" % (who(instance), instance.get("instance_type") or "-",
                                                instance.get("zone_id") or "-")),
            (u"状态 Status", STATUS_LABEL[status]),
            (u"变化 Change", CHANGE.get(change, change)),
            (u"发现时间 Detected", report.display_time(now_ms)),
            (u"持续 Since", report.display_time(decision.since_ms) if decision.since_ms else "-")]
    if recycling:
        rows.append((u"预计释放 Release at", report.display_time(recycling["deadline_ms"]) +
                     (u"（最迟 / at the latest）" if recycling["deadline_kind"] != "notice" else "")))
        rows.append((u"剩余时间 Time left", as_of(recycling["left_s"], now_ms)))
    data = _common(evaluation.view, now_ms)
    data.update(headline_zh=zh, headline_en=en.capitalize(), status_label=STATUS_LABEL[status],
                overview_table=overview_table(rows), findings=findings, recycling=recycling,
                advice=evaluation.advice, notes=evaluation.notes, actions_table=actions_table(actions),
                details_table=details_table(instance, evaluation, data["currency"], now_ms))
    message = report.render(templates.INSTANCE, **data)
    return {"title": title(u"%s / %s: " % (zh, en.capitalize()), who(instance), tail), "status": status,
            "dimension_tags": tags_of(instance), "message": message}


def recovered_event(decision, now_ms):
    """The ``ok`` event of an instance whose condition cleared, or that was released."""
    instance, evaluation, gone = decision.instance, decision.evaluation, decision.released
    if gone:
        zh, en = u"抢占式实例已释放", "spot instance released"
    else:
        zh, en = u"抢占式实例风险已解除", "spot instance risk cleared"
    codes = decision.previous_codes
    rows = [(u"对象 Object", u"%s · %s · %s" % (who(instance), instance.get("instance_type") or "-",
                                                instance.get("zone_id") or "-")),
            (u"之前 Before", u"%s：%s" % (STATUS_LABEL.get(decision.previous_status, decision.previous_status or "-"),
                                        u"、".join(SHORT.get(c, c) for c in codes) or "-")),
            (u"恢复时间 Recovered", report.display_time(now_ms)),
            (u"持续 Lasted", report.duration((now_ms - decision.since_ms) / 1000.0) if decision.since_ms else "-")]
    data = _common(evaluation.view, now_ms)
    data.update(headline_zh=zh, headline_en=en.capitalize(), overview_table=overview_table(rows), gone=gone,
                cleared=[] if gone else [SHORT.get(c, c) for c in codes], advice=evaluation.advice if gone else [],
                notes=[] if gone else evaluation.notes,
                details_table=details_table(instance, None if gone else evaluation, data["currency"], now_ms,
                                            last_known=gone))
    if gone:
        data["price_table"] = data["history_table"] = ""
    message = report.render(templates.RECOVERED, **data)
    return {"title": title(u"%s / %s: " % (zh, en.capitalize()), who(instance)), "status": "ok",
            "dimension_tags": tags_of(instance), "message": message}


def group_event(group, now_ms):
    """One event for many instances of one (region, type) (``group``: a firing ``records.GroupDecision``)."""
    members = group.members
    counts = {}
    for member in members:
        for finding in member.evaluation.findings:
            counts[finding["code"]] = counts.get(finding["code"], 0) + 1
    top = max(counts, key=lambda c: (_rank(c), counts[c])) if counts else "recycling"
    zh, en = GROUP_HEADLINES[top]
    deadlines = [f["facts"]["deadline_ms"] for m in members for f in m.evaluation.findings if f["code"] == "recycling"]
    first = (u" — 最早释放 / first release at %s" % report.display_time(min(deadlines))) if deadlines else u""
    name = report.md(_one_line(group.instance_type))
    head = u"%d 个 %s %s / %d %s %s in %s" % (len(members), name, zh, len(members), name, en,
                                             report.md(_one_line(group.region)))
    rows = [(u"对象 Object", u"%s · %s" % (group.instance_type, group.region)),
            (u"状态 Status", STATUS_LABEL[group.status]),
            (u"受影响实例 Affected", str(len(members))),
            (u"原因分布 Why", u"；".join("%s × %d" % (SHORT[c], n) for c, n in sorted(
                counts.items(), key=lambda item: (-_rank(item[0]), item[0])))),
            (u"发现时间 Detected", report.display_time(now_ms))]
    if deadlines:
        rows.append((u"最早释放 First release at", u"%s（剩余 / left %s）" % (
            report.display_time(min(deadlines)), as_of(max(0, (min(deadlines) - now_ms) / 1000.0), now_ms))))
    member_rows = []
    ordered = sorted(members, key=lambda m: (-_rank(m.evaluation.findings[0]["code"]),
                                             m.instance.get("zone_id") or "", m.instance.get("instance_id")))
    for member in ordered:
        inst, evaluation = member.instance, member.evaluation
        recycling = next((f["facts"] for f in evaluation.findings if f["code"] == "recycling"), None)
        member_rows.append((inst.get("instance_id") or "-", inst.get("instance_name") or "-",
                            inst.get("zone_id") or "-",
                            STATUS_LABEL[evaluation.severity],
                            u"、".join(SHORT[f["code"]] for f in evaluation.findings),
                            report.display_time(recycling["deadline_ms"]) if recycling else "-",
                            CHANGE.get(member.change, member.change)))
    members_table = report.table([u"实例 Instance", u"名称 Name", u"可用区 Zone", u"状态 Status", u"原因 Why",
                                  u"预计释放 Release at", u"变化 Change"], member_rows, limit=MEMBER_LIMIT)
    representative = group.representative
    data = _common(representative.view, now_ms)
    data.update(count=len(members), status_label=STATUS_LABEL[group.status], overview_table=overview_table(rows),
                members_table=members_table, recovered_table=_recovered_table(group.recovered),
                advice=representative.advice, notes=representative.notes)
    message = report.render(templates.GROUP, **data)
    return {"title": _fit(head + first), "status": group.status, "dimension_tags": group_tags(group.region, group.instance_type),
            "message": message}


def group_ok_event(group, now_ms):
    name, region = report.md(_one_line(group.instance_type)), report.md(_one_line(group.region))
    rows = [(u"对象 Object", u"%s · %s" % (group.instance_type, group.region)),
            (u"恢复时间 Recovered", report.display_time(now_ms)),
            (u"持续 Lasted", report.duration((now_ms - group.since_ms) / 1000.0) if group.since_ms else "-")]
    data = {"type": group.instance_type, "region": group.region, "overview_table": overview_table(rows),
            "still_firing": group.still_firing, "recovered_table": _recovered_table(group.recovered), "notes": [],
            "stock_names": STOCK_NAMES, "currency": "CNY"}
    message = report.render(templates.GROUP_OK, **data)
    return {"title": u"%s 抢占式实例批量告警已恢复 / Grouped spot alert recovered: %s in %s" % (name, name, region),
            "status": "ok", "dimension_tags": group_tags(group.region, group.instance_type), "message": message}


def actions_table(actions):
    """The actions due for an instance and what became of them (none are planned yet)."""
    if not actions:
        return ""
    rows = [(a.kind, report.display_time(a.due_by_ms) if a.due_by_ms else "-", a.reason or "-",
             (a.outcome.status + (": " + a.outcome.detail if a.outcome.detail else "")) if a.outcome else u"待执行 / due")
            for a in actions]
    return report.table([u"动作 Action", u"截止 Due by", u"原因 Why", u"结果 Outcome"], rows, limit=0)


def _recovered_table(recovered):
    if not recovered:
        return ""
    rows = []
    for inst, gone in sorted(recovered, key=lambda r: r[0].get("instance_id") or ""):
        rows.append((inst.get("instance_id") or "-", inst.get("instance_name") or "-", inst.get("zone_id") or "-",
                     u"已释放 released" if gone else u"已恢复 recovered"))
    return report.table([u"实例 Instance", u"名称 Name", u"可用区 Zone", u"结果 Outcome"], rows, limit=MEMBER_LIMIT)


def _rank(code):
    order = ("too_expensive", "interruption_high", "low_stock", "price_near", "out_of_stock", "price_below",
             "recycling")
    return order.index(code) if code in order else -1


PROBLEMS_TAGS = {"check": "spot-alive", "issue": "data"}


def problems_event(problems, now_ms):
    message = report.render(templates.PROBLEMS, problems=problems, now_ms=now_ms,
                            status_label=STATUS_LABEL["warning"])
    return {"title": u"阿里云抢占式实例存活巡检：数据不完整 / Spot inspection: incomplete data (%d)" % len(problems),
            "status": "warning", "dimension_tags": dict(PROBLEMS_TAGS), "message": message}


def problems_ok_event(now_ms):
    message = report.render(templates.PROBLEMS_OK, now_ms=now_ms)
    return {"title": u"阿里云抢占式实例存活巡检：数据已完整 / Spot inspection: data complete again",
            "status": "ok", "dimension_tags": dict(PROBLEMS_TAGS), "message": message}
