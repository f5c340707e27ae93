"""Templates of the pod-restart event reports (jinja2 text, rendered by ``guance_monitor.report.render``).

Filters: ``md`` (escape), ``code``, ``time``, ``duration``, ``num``, ``pct``;
``table(headers, rows, limit)`` escapes every cell and cuts long tables.
"""

FIRING_TITLE = ("[{cluster}/{namespace}] Pod 异常重启 / Pod restarts {ratio}（基线 / baseline {baseline}），"
                "主要原因 / main cause：{cause}")
RECOVERED_TITLE = "[{cluster}/{namespace}] Pod 重启已恢复 / Pod restarts recovered：{ratio}（基线 / baseline {baseline}）"
MAIN_CAUSE = "主要原因 / main cause："

CHANGES = {
    "new": "新发现 / new",
    "escalated": "严重程度升高 / escalated",
    "deescalated": "严重程度降低 / de-escalated",
    "reminder": "仍在持续 / still ongoing",
}

FIRING = """
## 事件概览 / Overview

集群 Cluster {{ cluster|code }} · 命名空间 Namespace {{ namespace|code }} · **{{ change }}**{{ previous_text }}

- 时间窗口 Window：{{ start_ms|time }} → {{ end_ms|time }}（30 分钟 / 30 min）
- 重启 Pod 比例 Restarted-pod ratio：**{{ ratio|pct }}** = {{ figures.abnormal }} / {{ figures.population }}（受影响 hit：{{ figures.restarted }} 个容器重启 restarted + {{ figures.disrupted }} 个被中断 disrupted；Pod 总数 pods：窗口内 {{ figures.pods }} 个 seen − {{ figures.not_counted }} 个不计入 not counted）
- 基线 Baseline：{{ baseline|pct }}（{{ baseline_text }}），触发阈值 threshold {{ threshold|pct }} = max(min_ratio, 基线 baseline × rise_factor)
- 窗口内重启 Restarts in the window：{{ figures.restarts }} 次（被中断的 Pod 各计 1 次 / a disrupted pod counts once）
- 严重程度 Severity：**{{ status }}**（比例 < 25% warning，≥ 25% error，≥ 50% critical）
- 主要原因 Main cause：**{{ main_cause }}**
{% if since_ms %}
- 异常开始于 Since：{{ since_ms|time }}（已持续 {{ since_seconds|duration }}）
{% endif %}
{% for line in rollout_lines %}
- {{ line }}
{% endfor %}

{{ table(["原因 Cause", "Pod 数 Pods"], cause_rows, 10) }}
{% if rollout_rows %}

## 最近的发布 / Recent rollout

{{ table(["工作负载 Workload", "新版本 Revision", "创建于 Created", "崩溃的 Pod Crashing", "上一版本 Previous", "变化 Change", "回滚 Roll back"], rollout_rows, 10) }}
{% endif %}
{% if node_rows %}

## 节点状况 / Node conditions

{{ table(["节点 Node", "状况 Condition", "时间 When", "依据 Evidence", "受影响的 Pod Pods"], node_rows, 20) }}
{% endif %}

## 异常 Pod / Abnormal pods

{{ table(["工作负载 Workload", "Pod", "节点 Node", "窗口内重启 Restarts", "状态 State", "原因 Cause", "依据 Evidence"], pod_rows, 20) }}

## 容器状态 / Container status

{% if container_rows %}
{{ table(["Pod", "容器 Container", "类型 Type", "本窗口重启 Restarted", "状态 State", "上次终止 Last terminated", "退出码 Exit code", "终止时间 Finished", "requests / limits", "内存 Memory usage / limit"], container_rows, 30) }}
{% else %}
没有容器数据 / no container data for these pods.
{% endif %}
{% if yaml_note %}

> {{ yaml_note }}
{% endif %}

## 相关事件 / Related events

{% if event_rows %}
{{ table(["时间 Time", "Pod", "原因 Reason", "消息 Message"], event_rows, 20) }}
{% else %}
窗口内没有这些 Pod 的 Warning 事件 / no Warning events about these pods in the window.
{% endif %}

## 建议 / Advice

{% for item in advice %}
### {{ item.title }}

{% for line in item.lines %}
- {{ line }}
{% endfor %}

{% endfor %}
## 日志 / Logs

- [观测云日志查看器 / Guance log explorer]({{ logs_link }})（{{ logs_note }}）
{% for line in log_queries %}
- {{ line }}
{% endfor %}

## Kubernetes 指标 / Kubernetes metric views

{% for link in links %}
- [{{ link.label }}]({{ link.path }})
{% endfor %}

在指标/日志查看器中执行 / run in the explorer:

{% for query in queries %}
- {{ query|code }}
{% endfor %}

## 已排除 / Excluded

{% if excluded_rows %}
{{ table(["Pod", "工作负载 Workload", "原因 Why"], excluded_rows, 20) }}
{% else %}
无 / none.
{% endif %}
{% if notes %}

## 数据说明 / Data notes

{% for note in notes %}
- {{ note|md }}
{% endfor %}
{% endif %}
"""

RECOVERED = """
## 事件概览 / Overview

集群 Cluster {{ cluster|code }} · 命名空间 Namespace {{ namespace|code }} · **已恢复 / recovered**

- 重启 Pod 比例已连续 {{ runs }} 次巡检回到基线 / the restarted-pod ratio was back at the baseline for {{ runs }} consecutive runs
- 当前比例 Ratio now：**{{ ratio|pct }}**（{{ figures.abnormal }} / {{ figures.population }} 个 Pod），基线 baseline {{ baseline|pct }}
- 时间窗口 Window：{{ start_ms|time }} → {{ end_ms|time }}
{% if since_ms %}
- 异常开始于 Since：{{ since_ms|time }}，持续 lasted {{ since_seconds|duration }}
{% endif %}
{% if previous %}
- 恢复前的严重程度 Severity before：{{ previous }}
{% endif %}
"""

# Paths in the Guance console (not documented publicly: the paths of the console's own pages, assumed; relative
# when the console of the account's node is not known, as the event is shown inside the console).
LOG_EXPLORER = "/logIndex/log"
LINKS = (
    ("Kubernetes Pod 对象 / Pod objects", "/objectadmin/kubelet_pod"),
    ("容器 / Containers", "/objectadmin/docker_containers"),
    ("Kubernetes 事件日志 / events (source kubernetes_events)", "/logIndex/log"),
    ("指标查看器 / Metrics explorer (kube_pod)", "/metric/explorer"),
)

DATA_TITLE = "Kubernetes Pod 异常重启巡检：数据不完整 / Pod restart inspection: incomplete data (%d)"
DATA_OK_TITLE = "Kubernetes Pod 异常重启巡检：数据已完整 / Pod restart inspection: data complete again"

DATA = """
## 事件概览 / Overview

**Kubernetes Pod 异常重启巡检的查询结果不完整 / The pod-restart inspection ran with incomplete data** — warning

发现时间 / Detected: {{ now_ms|time }}

下列查询的结果可能缺少数据。缺少的部分按"未知"处理：不会据此判定"没有重启"，也不会据此恢复告警 / The answers below may lack data. What they lack is treated as unknown: never as "no restarts", never as a recovery.

{% for gap in gaps %}
- {{ gap|md }}
{% endfor %}
{% if unknown %}

本次未能判定、状态保持不变的命名空间 / Namespaces left as they were (view not whole):

{% for name in unknown %}
- {{ name|code }}
{% endfor %}
{% endif %}

**建议 / What to check:** 观测云 OpenAPI 是否可用、API Key 的请求额度（每分钟 20 次），以及函数超时是否足够 / whether Guance's OpenAPI is available, the API key's request budget (20 a minute), and whether the function's timeout is long enough.
"""

DATA_OK = """
## 事件概览 / Overview

**Kubernetes Pod 异常重启巡检的查询结果已恢复完整 / The pod-restart inspection has complete data again** — ok

恢复时间 / Recovered: {{ now_ms|time }}
"""

SILENCE_HINT = ("检查该集群 DataKit 的容器采集器是否运行并上报 `kube_pod`（`ENV_CLUSTER_NAME_K8S` 即 "
                "`cluster_name_k8s`），以及该命名空间是否被 `pod_exclude_metric` 排除 / check that DataKit's container "
                "input runs in that cluster and sends `kube_pod` (`ENV_CLUSTER_NAME_K8S` is `cluster_name_k8s`), and "
                "that the namespace is not excluded by `pod_exclude_metric`")
