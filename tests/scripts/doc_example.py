account = {
    "api_key_id": "{api_key_id}",
    "api_key": "{api_key}",
    "guance_node": "{guance_node}",
}

###### Do not modify the following content #####

from guance_monitor__register import self_hosted_monitor
from guance_monitor__event_reporter import EventReporter


def filter_namespace(cluster_namespaces):
    return cluster_namespaces.get('namespace') != 'kube-system'


@self_hosted_monitor(account['api_key_id'], account['api_key'], account['guance_node'])
@DFF.API('文档示例巡检', fixed_crontab='*/5 * * * *', timeout=60)
def run(configs=None, threshold=3):
    """
    zh-CN:
      title: 文档示例巡检
      doc: |
        configs：需要检查的对象列表
    en:
      title: Docs example inspection
      doc: |
        configs: the objects to check
    """
    event = {
        "title": "示例巡检：阈值 %s" % threshold,
        "message": "# 示例\n\nconfigs: `%s`" % (configs,),
        "status": "warning",
        "dimension_tags": {"host": "web01"},
    }
    EventReporter().report(event)
