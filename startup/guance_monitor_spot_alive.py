account = {
    "api_key_id": "",  # Guance API Key ID
    "api_key": "",  # Guance API Key
    "guance_node": "",  # Guance Node
    "aliyun_access_key_id": "",  # Aliyun AccessKey ID
    "aliyun_access_key_secret": "",  # Aliyun AccessKey Secret
    "aliyun_endpoint": "",  # Aliyun Endpoint
}

###### Do not modify the following content #####

from guance_monitor__register import self_hosted_monitor
from guance_monitor__runner import Runner
import guance_monitor_spot_alive__main as main

# Optional filter functions: each receives an instance dict (instance_id, instance_name, region_id,
# zone_id, instance_type, cpu, memory_gib, status, spot_strategy, spot_price_limit, tags, ...) and
# returns True to keep it. Add them to `filters=[...]` below, e.g.:
#
# def only_prod(instance):
#     return instance['tags'].get('env') == 'prod'


@self_hosted_monitor(account['api_key_id'], account['api_key'], account['guance_node'])
@DFF.API('阿里云抢占式实例存活巡检', fixed_crontab='*/2 * * * *', timeout=60)
def run(configs=None):
    """
    zh-CN:
      title: 阿里云抢占式实例存活巡检
      doc: |
        发现即将被释放或存在释放风险的阿里云 ECS 抢占式实例，给出该规格在地域内所有可用区的最新价格、历史价格和处理建议。
        configs：巡检配置列表，可配置一组或多组；不配置则巡检全部抢占式实例。
            instance_type：实例规格（如 "ecs.g7.large"）、规格列表，或规格族通配（如 "ecs.g7.*"）
            spot_with_price_limit：可接受的折扣，即可接受的最高抢占式价格占按量价格的比例，如 0.3、"30%" 或 "3折"
            regions：地域列表（可选），如 ["cn-hangzhou"]
            tags：实例标签过滤（可选），如 {"env": "prod"}
            price_margin：出价余量告警阈值（可选，默认 "10%"）
            history_days：历史价格天数（可选，默认 7，最多 30）
            group_threshold：同一地域同一规格受影响实例超过该数量时合并为一条事件（可选，默认 5）
            no_data_runs：连续多少次运行没有 CO::aliyun_ecs 对象或抢占式实例时发出无数据告警（可选，默认 3，0 为关闭）
        示例：[{"instance_type": "ecs.g7.*", "spot_with_price_limit": "30%"}, {"instance_type": "ecs.c7.large"}]
    en:
      title: Alibaba Cloud Spot Instance Survival
      doc: |
        Finds Alibaba Cloud ECS spot instances being released or at risk of release; reports the latest price of the instance type in every zone of the region, its price history, and advice.
        configs: a list of entries, one or many; none means every spot instance.
            instance_type: an instance type ("ecs.g7.large"), a list of types, or a family wildcard ("ecs.g7.*")
            spot_with_price_limit: the accepted discount, i.e. the highest spot price accepted as a share of the pay-as-you-go price: 0.3, "30%" or "3折"
            regions: region IDs (optional), e.g. ["cn-hangzhou"]
            tags: instance tag filters (optional), e.g. {"env": "prod"}
            price_margin: warn when the bid is less than this above the market price (optional, default "10%")
            history_days: days of price history (optional, default 7, at most 30)
            group_threshold: more affected instances of one region and type than this make one grouped event (optional, default 5)
            no_data_runs: runs in a row without CO::aliyun_ecs objects or spot instances before a no-data warning (optional, default 3, 0 = off)
        Example: [{"instance_type": "ecs.g7.*", "spot_with_price_limit": "30%"}, {"instance_type": "ecs.c7.large"}]
    """
    checkers = [
        main.SpotAliveCheck(configs=configs, filters=[], account=account),
    ]
    Runner(checkers, debug=False).run()
