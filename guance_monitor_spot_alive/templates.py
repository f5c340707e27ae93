# -*- coding: utf-8 -*-
"""Report templates (jinja2 text kept in Python: Func ships only ``.py`` scripts).

Rendered by ``guance_monitor.report.render`` with its filters (``md``, ``code``, ``num``,
``pct``, ``time``, ``duration``, ``spark``) and ``table``. Every value that comes from data
goes through ``md`` / ``code`` / ``table``; ``render.py`` prepares the rows. Headings follow
the documented sections of the inspection (事件概览, 抢占式实例详情, 抢占式实例类型价格,
抢占式实例类型历史价格, 温馨建议) with English in parentheses.
"""

MACROS = u"""
{%- macro price(value) -%}{{ value|num(4) }}{%- endmacro -%}
{%- macro share(value) -%}{% if value is none %}-{% else %}{{ value|pct(1) }}（{{ (value * 10)|num(1) }}折）{% endif %}{%- endmacro -%}
{%- macro left(seconds, now) -%}{% if seconds is none %}-{% elif seconds >= 0 %}{{ seconds|duration }}{% else %}已超过 {{ (0 - seconds)|duration }} / overdue by {{ (0 - seconds)|duration }}{% endif %}（截至 / as of {{ now|time }}）{%- endmacro -%}
{%- macro rate(desc, value) -%}{% if desc %}{{ desc|md }}{% endif %}{% if value is not none %}{{ " " if desc else "" }}({{ value|num(1) }}%){% endif %}{% if not desc and value is none %}-{% endif %}{%- endmacro -%}
{%- macro reason(f, cur) -%}
{%- set x = f.facts -%}
{%- if f.code == "recycling" -%}
实例正被阿里云回收释放 / Alibaba Cloud is reclaiming the instance（依据 / evidence：{% for s in x.sources %}{% if s == "live" %}实时查询 DescribeInstances 显示锁定原因 `Recycling`{% if x.lock_message %}（{{ x.lock_message|md }}）{% endif %} / live DescribeInstances shows the `Recycling` lock{% elif s == "guance" %}观测云 CO::aliyun_ecs 的 OperationLocks 含 `Recycling` / the integration's OperationLocks holds `Recycling`{% else %}云监控抢占式实例中断事件 {{ x.notice_ms|time }} / CloudMonitor interruption notice at {{ x.notice_ms|time }}{% endif %}{% if not loop.last %}；{% endif %}{% endfor %}）
{%- elif f.code == "price_below" -%}
出价 SpotPriceLimit {{ price(x.limit) }} 低于可用区 {{ x.zone|md }} 当前市场价 {{ price(x.price) }}（低 {{ x.gap|pct(1) }}）：保护期已过，将在下一次价格检查时被释放 / The bid {{ price(x.limit) }} is {{ x.gap|pct(1) }} below the market price {{ price(x.price) }} {{ cur|md }}/h in {{ x.zone|md }}: past its protection period, it is released at the next price check.
{%- elif f.code == "price_near" -%}
出价 SpotPriceLimit {{ price(x.limit) }} 仅比可用区 {{ x.zone|md }} 当前市场价 {{ price(x.price) }} 高 {{ x.headroom|pct(1) }}（余量阈值 {{ x.margin|pct(0) }}）/ The bid {{ price(x.limit) }} is only {{ x.headroom|pct(1) }} above the market price {{ price(x.price) }} {{ cur|md }}/h in {{ x.zone|md }} (margin {{ x.margin|pct(0) }}).
{%- elif f.code == "out_of_stock" -%}
该规格在可用区 {{ x.zone|md }} 已无库存（{{ x.category|md }}）：库存不足时抢占式实例会被回收 / Sold out in {{ x.zone|md }} ({{ x.category|md }}): spot instances are reclaimed when stock runs out.
{%- elif f.code == "low_stock" -%}
该规格在可用区 {{ x.zone|md }} 库存紧张（{{ x.category|md }}，低保障）/ Low stock in {{ x.zone|md }} ({{ x.category|md }}: low guarantee).
{%- elif f.code == "interruption_high" -%}
该规格在可用区 {{ x.zone|md }} 近 30 天中断率为最高档 {{ rate(x.desc, x.rate) }} / The 30-day interruption rate in {{ x.zone|md }} is in the top bucket: {{ rate(x.desc, x.rate) }}.
{%- elif f.code == "too_expensive" -%}
当前价格 {{ price(x.price) }} 为按量价格 {{ price(x.origin) }} 的 {{ share(x.share) }}，高于可接受折扣 {{ share(x.accepted) }} / The spot price {{ price(x.price) }} {{ cur|md }}/h is {{ x.share|pct(1) }} of the pay-as-you-go price {{ price(x.origin) }}, above the accepted {{ x.accepted|pct(1) }}.
{%- endif -%}
{%- endmacro -%}
{%- macro deadline(x, now) -%}
{%- if x.deadline_kind == "notice" -%}
预计释放时间 / Release at: **{{ x.deadline_ms|time }}**（中断通知 {{ x.notice_ms|time }} + 5 分钟 / notice + 5 min），剩余 / time left: **{{ left(x.left_s, now) }}**
{%- else -%}
未获取到中断通知时间（{% if x.events_ok %}云监控没有该实例的中断事件{% else %}云监控事件不可用{% endif %}）；首次发现回收于 {{ x.first_seen_ms|time }}，释放最迟约在 **{{ x.deadline_ms|time }}**，剩余不超过 **{{ left(x.left_s, now) }}** / The notice time is unknown ({% if x.events_ok %}no CloudMonitor event for it{% else %}CloudMonitor events unavailable{% endif %}); the release was first seen at {{ x.first_seen_ms|time }}, so it is due by about {{ x.deadline_ms|time }} (at most {{ left(x.left_s, now) }} left).
{%- endif -%}
{%- endmacro -%}
{%- macro advice_item(a, cur, now) -%}
{%- if a.code == "drain" and a.urgent -%}
**立即排空该 Kubernetes 节点**（识别依据：{{ a.why|md }}）：{{ "kubectl cordon %s && kubectl drain %s --ignore-daemonsets --delete-emptydir-data"|format(a.node or "<node>", a.node or "<node>")|code }}，剩余约 {{ left(a.left_s, now) }} / Drain this Kubernetes node now{% if not a.node %} (ACK names nodes `<region>.<private IP>`){% endif %}.
{%- elif a.code == "drain" -%}
该实例是 Kubernetes 节点（{{ a.why|md }}）：提前排空 {{ (a.node or "<node>")|code }}，并确认节点池可在其他可用区或规格补充节点 / It is a Kubernetes node: cordon and drain it ahead of time, and let its node pool add nodes in other zones or types.
{%- elif a.code == "save_now" -%}
**立即保存数据、切走流量**：实例约 {{ left(a.left_s, now) }} 后释放 / **Save data and move traffic off now**: it is released in about {{ left(a.left_s, now) }}.
{%- elif a.code == "act_now" -%}
**现在就处理这台正在运行的实例**：保护期已过，出价 {{ price(a.limit) }} 低于市场价 {{ price(a.price) }}，下一次价格检查就会回收它，只有约 5 分钟通知。现在就保存数据、把流量从它上面切走{% if a.node %}（先排空节点 {{ a.node|code }}）{% endif %}；运行中实例的出价和计费方式都无法修改，要保住这份容量，现在就启动替代实例：按量付费，或抢占式出价不低于 **{{ price(a.at_least) }}**（或 SpotAsPriceGo）/ **Act on this running instance now**: past its protection period its bid {{ price(a.limit) }} is below the market price {{ price(a.price) }} {{ cur|md }}/h, so the next price check reclaims it with only about 5 minutes' notice. Save its data and move traffic off it now{% if a.node %} (drain the node {{ a.node|code }} first){% endif %}; a running instance's bid and billing cannot be changed, so to keep the capacity start a replacement now: pay-as-you-go, or spot bidding at least **{{ price(a.at_least) }}** (or SpotAsPriceGo).
{%- elif a.code == "raise_limit" -%}
为新实例（启动模板、伸缩组、节点池）把 SpotPriceLimit 提高到至少 **{{ price(a.at_least) }}**（当前价格 {{ price(a.price) }} + {{ a.margin|pct(0) }}，现出价 {{ price(a.limit) }}）{% if a.safe %}；{{ price(a.safe) }} 可覆盖近 {{ a.days }} 天的最高价{% endif %} / Set SpotPriceLimit of new instances (launch template, scaling group, node pool) to at least **{{ price(a.at_least) }}** {{ cur|md }}/h (market {{ price(a.price) }} + {{ a.margin|pct(0) }}; the bid is {{ price(a.limit) }}){% if a.safe %}; {{ price(a.safe) }} would have survived the highest price of the last {{ a.days }} days{% endif %}.
{%- if a.over_payg %} 该出价已不低于按量价格 {{ price(a.origin) }}，建议直接使用 SpotAsPriceGo / That is not below the pay-as-you-go price {{ price(a.origin) }}: use SpotAsPriceGo instead.{% endif %}
{%- elif a.code == "as_price_go" -%}
改用 SpotAsPriceGo（按市场价出价，最高为按量价格 {{ price(a.origin) }}）：当前价格 {{ price(a.price) }}，为按量价格的 {{ share(a.share) }}，不会因价格被回收，只会因库存不足被回收 / Switch to SpotAsPriceGo (pays the market price, at most the pay-as-you-go {{ price(a.origin) }}): now {{ price(a.price) }} = {{ a.share|pct(1) }} of PAYG; never released for price, only when stock runs out.
{%- elif a.code == "move_zone" -%}
迁移到可用区 **{{ a.zone|md }}**：价格 {{ price(a.price) }}（{{ share(a.share) }}）{% if a.saving is not none and a.saving > 0 %}，比当前可用区便宜 {{ a.saving|pct(1) }}{% endif %}，库存 {{ stock_label(a.stock) }}，30 天中断率 {{ rate(a.desc, a.rate) }}；交换机属于可用区，需在 {{ a.zone|md }} 有 vSwitch / Move to zone **{{ a.zone|md }}**: {{ price(a.price) }} {{ cur|md }}/h{% if a.saving is not none and a.saving > 0 %}, {{ a.saving|pct(1) }} cheaper{% endif %}, stock {{ stock_label(a.stock) }}, interruption {{ rate(a.desc, a.rate) }}; it needs a vSwitch in {{ a.zone|md }}.
{%- elif a.code == "spread_types" -%}
分散到相同规格（{{ a.cpu }} vCPU / {{ a.memory|num(1) }} GiB）的其他实例类型 / Spread across types with the same vCPUs and memory:

{% for t in a.types %}
    - {{ t.type|code }}：{{ t.zone|md }}，30 天中断率 / interruption {{ rate(t.desc, t.rate) }}{% if t.discount is not none %}，平均价格为按量的 / average {{ t.discount|num(0) }}% of PAYG{% endif %}

{% endfor %}
{%- elif a.code == "stop_behavior" -%}
新建抢占式实例时设置 SpotInterruptionBehavior=Stop（节省停机模式），中断时保留云盘和数据（当前：{{ (a.behavior or "Terminate")|md }}）/ Create spot instances with SpotInterruptionBehavior=Stop (economical mode) to keep disks and data when interrupted (now: {{ (a.behavior or "Terminate")|md }}).
{%- elif a.code == "check_replacement" -%}
{%- if a.zone -%}
确认已补充替代实例：该规格当前最优可用区 **{{ a.zone|md }}**（价格 {{ price(a.price) }}，{{ share(a.share) }}，库存 {{ stock_label(a.stock) }}，30 天中断率 {{ rate(a.desc, a.rate) }}）/ Check that a replacement was started: the best zone for this type now is **{{ a.zone|md }}** ({{ price(a.price) }} {{ cur|md }}/h, stock {{ stock_label(a.stock) }}).
{%- else -%}
确认已补充替代实例（当前没有该规格的价格数据）/ Check that a replacement was started (no price data for this type now).
{%- endif -%}
{%- endif -%}
{%- endmacro -%}
{%- macro stock_label(value) -%}{{ stock_names.get(value, value or "-")|md }}{%- endmacro -%}
"""

PRICE_SECTIONS = u"""
## 抢占式实例类型价格 (Price of {{ type|md }} in every zone of {{ region|md }})

{% if price_table %}
{{ price_table }}

价格单位 {{ currency|md }}/小时，按最新价格排序（可购买的可用区在前）；折扣 = 抢占式价格 ÷ 按量价格 / Prices in {{ currency|md }} per hour, best first (zones where the type can be bought first); discount = spot ÷ pay-as-you-go.
{% if price_error %}

没有价格数据 / No price data：{{ price_error|md }}
{% endif %}
{% else %}
没有价格数据 / No price data{% if price_error %}：{{ price_error|md }}{% endif %}
{% endif %}

## 抢占式实例类型历史价格 (Price history, last {{ days }} days)

{% if history_table %}
{{ history_table }}

趋势 = 最新价格相对窗口内第一个价格的变化（±5% 以内为平稳）/ Trend = latest vs the first price of the window (within ±5% is flat).
{% else %}
没有历史价格 / No price history{% if price_error %}：{{ price_error|md }}{% endif %}
{% endif %}
"""

NOTES = u"""
{% if notes %}
## 说明 (Notes)

{% for n in notes %}
- {{ n|md }}
{% endfor %}
{% endif %}
"""

INSTANCE = MACROS + u"""
## 事件概览 (Overview)

**{{ headline_zh }} / {{ headline_en }}** — {{ status_label }}

{{ overview_table }}

原因 / Why:

{% for f in findings %}
{{ loop.index }}. {{ reason(f, currency) }}
{% endfor %}
{% if recycling %}

{{ deadline(recycling, now_ms) }}
{% endif %}

## 抢占式实例详情 (Instance details)

{{ details_table }}
""" + PRICE_SECTIONS + u"""
## 温馨建议 (Advice)

{% for a in advice %}
{{ loop.index }}. {{ advice_item(a, currency, now_ms) }}
{% else %}
暂无建议 / No advice.
{% endfor %}
{% if actions_table %}

## 自动处置 (Actions)

{{ actions_table }}
{% endif %}
""" + NOTES

RECOVERED = MACROS + u"""
## 事件概览 (Overview)

**{{ headline_zh }} / {{ headline_en }}** — 恢复 ok

{{ overview_table }}

{% if gone %}
该实例已不存在：DescribeInstances 查询不到它，已被释放 / The instance is gone: DescribeInstances no longer finds it, it was released.
{% else %}
之前的问题已不再出现 / What was reported before no longer holds:
{% for c in cleared %}
- {{ c|md }}
{% endfor %}
{% endif %}

## 抢占式实例详情 (Instance details{% if gone %}, last known{% endif %})

{{ details_table }}
{% if price_table or history_table %}
""" + PRICE_SECTIONS + u"""
{% endif %}
{% if advice %}

## 温馨建议 (Advice)

{% for a in advice %}
{{ loop.index }}. {{ advice_item(a, currency, now_ms) }}
{% endfor %}
{% endif %}
""" + NOTES

GROUP = MACROS + u"""
## 事件概览 (Overview)

**{{ count }} 个 {{ type|md }} 抢占式实例受影响（{{ region|md }}）/ {{ count }} spot instances of {{ type|md }} in {{ region|md }} affected** — {{ status_label }}

{{ overview_table }}

{{ members_table }}
{% if recovered_table %}

已恢复或已释放 / Recovered or released since the last report:

{{ recovered_table }}
{% endif %}
""" + PRICE_SECTIONS + u"""
## 温馨建议 (Advice)

{% for a in advice %}
{{ loop.index }}. {{ advice_item(a, currency, now_ms) }}
{% else %}
暂无建议 / No advice.
{% endfor %}
""" + NOTES

GROUP_OK = MACROS + u"""
## 事件概览 (Overview)

**{{ type|md }} 抢占式实例批量告警已恢复（{{ region|md }}）/ The grouped alert for {{ type|md }} in {{ region|md }} has recovered** — 恢复 ok

{{ overview_table }}

{% if still_firing %}
仍有 {{ still_firing }} 个实例存在问题，已不足分组阈值，改为逐个实例上报 / {{ still_firing }} instances still have problems; below the group threshold they are reported one by one.
{% else %}
该组实例已全部恢复或释放 / Every instance of the group has recovered or was released.
{% endif %}
{% if recovered_table %}

{{ recovered_table }}
{% endif %}
""" + NOTES

PROBLEMS = u"""
## 事件概览 (Overview)

**阿里云抢占式实例存活巡检的数据不完整 / The spot inspection ran with incomplete data** — {{ status_label }}

发现时间 / Detected: {{ now_ms|time }}

巡检仍在运行，其余地域和实例照常检查；下列数据缺失时不会触发也不会恢复告警 / The inspection still runs and checks everything else; where the data below is missing nothing fires and nothing recovers.

{% for p in problems %}
- {{ p|md }}
{% endfor %}
"""

PROBLEMS_OK = u"""
## 事件概览 (Overview)

**阿里云抢占式实例存活巡检的数据已恢复完整 / The spot inspection has complete data again** — 恢复 ok

恢复时间 / Recovered: {{ now_ms|time }}
"""
