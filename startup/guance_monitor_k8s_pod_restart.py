account = {
    "api_key_id": "",  # Guance API Key ID
    "api_key": "",  # Guance API Key
    "guance_node": "",  # Guance Node
}

###### Do not modify the following content #####

from guance_monitor__register import self_hosted_monitor
from guance_monitor__runner import Runner
import guance_monitor_k8s_pod_restart__main as main


# Example filter function: it receives {"cluster_name": ..., "namespace": ...} and returns True to keep
# (inspect) that namespace, False to skip it. Add it to `filters=[...]` below to use it.
def filter_cluster_namespace(cluster_namespace):
    namespace = cluster_namespace.get('namespace', '')
    return namespace not in ['kube-system', 'kube-public']


@self_hosted_monitor(account['api_key_id'], account['api_key'], account['guance_node'])
@DFF.API('K8S-Pod 重启检测巡检', fixed_crontab='*/30 * * * *', timeout=900)
def run(configs=None):
    """
    zh-CN:
      title: Kubernetes Pod 异常重启巡检
      doc: |
        按集群 + 命名空间统计最近 30 分钟内重启的 Pod 比例；比例相对基线（巡检自己的历史，没有时取观测云中的历史）
        升高且达到最小数量时生成事件，并按容器给出根因（OOM、探针、应用错误、镜像/配置、节点异常、驱逐、
        抢占式实例回收、节点丢失）及其依据、最近的发布与回滚命令、日志查询与建议。
        可选参数：
          configs：需要检测的集群与命名空间列表；不配置时检测所有集群的所有命名空间。
            cluster_name：集群名称（对应 DataKit 的 cluster_name_k8s 标签），可选，不配置表示所有集群
            namespace：命名空间，字符串或列表，可选，不配置表示该集群的所有命名空间
            可选阈值：min_restarted_pods（默认 2）、min_restarts（默认 3）、min_ratio（默认 0.1）、
              rise_factor（默认 1.5）、recover_after_runs（默认 2）、exclude_workloads（如 ["batch-*"]）、
              no_data_runs（默认 3：连续多少次运行没有 Pod 后发出"无数据"警告，0 关闭）
        示例：namespace 可以配置多个也可以配置单个
          configs = [
              {"cluster_name": "xxx", "namespace": ["xxx1", "xxx2"]},
              {"cluster_name": "yyy", "namespace": "yyy1", "min_ratio": 0.2}
          ]
    en:
      title: Kubernetes Pod abnormal restart inspection
      doc: |
        Computes, per cluster + namespace, the share of pods restarted in the last 30 minutes; when it rises
        above the baseline (the inspection's own history, else Guance's) and minimum counts hold, reports an
        event with the cause per container (OOM, probe, application error, image/config, node condition,
        eviction, spot reclaim, node lost) and its evidence, the rollout before the crashes with its rollback
        command, the pods' log queries, and advice.
        Optional parameters:
          configs: the clusters and namespaces to inspect; empty inspects every namespace of every cluster.
            cluster_name: the cluster (DataKit's cluster_name_k8s tag), optional: every cluster when absent
            namespace: a namespace or a list of them, optional: every namespace of the cluster when absent
            optional thresholds: min_restarted_pods (2), min_restarts (3), min_ratio (0.1), rise_factor (1.5),
              recover_after_runs (2), exclude_workloads (e.g. ["batch-*"]),
              no_data_runs (3: runs in a row without pods before a "no data" warning; 0 turns it off)
        Example: one namespace or several
          configs = [
              {"cluster_name": "xxx", "namespace": ["xxx1", "xxx2"]},
              {"cluster_name": "yyy", "namespace": "yyy1", "min_ratio": 0.2}
          ]
    """
    checkers = [
        main.K8SPodRestartCheck(configs=configs, filters=[]),
    ]
    Runner(checkers, debug=False).run()
