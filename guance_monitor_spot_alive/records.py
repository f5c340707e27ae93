"""The records passed between the stages of one run; nothing here does anything.

    collect.gather(...)                  -> Observation        everything read this run (all the I/O)
    rules.evaluate_all(observation, sel) -> {id: Evaluation}   what the rules say about each instance
    decide.plan(evaluations, obs, ...)   -> Plan               what to report, and the actions due
    render.events(plan, observation)     -> [event dicts]

Instances stay the plain dicts of ``inventory`` (the shape filter functions receive).
Two words, each for one thing: a **group** is (region, instance type) -- grouped events and
their threshold; a **market** is (region, instance type, OS) -- one price history.

These are ``dataclasses`` with real (evaluated) annotations only: Func runs each script with
``exec`` in a fresh scope that is not in ``sys.modules``, where string annotations could not be
resolved.
"""
import dataclasses
from typing import Dict, List, Optional, Set, Tuple

field = dataclasses.field

# What the alert state keeps of a firing instance, to report it once it is gone (``last_known``).
STATE_FIELDS = ("region_id", "zone_id", "instance_type", "cpu", "memory_gib", "os_type", "spot_strategy",
                "spot_price_limit", "spot_duration", "creation_time", "interruption_behavior")
SPOT_SEEN_KEY = "spot-seen"      # store key: when a run last saw spot instances (the no-data rule)


def group_key(instance):
    """(region, instance type): the instances reported together in one grouped event."""
    return instance.get("region_id"), instance.get("instance_type")


def market_key(instance):
    """(region, instance type, OS): one price history (Windows prices differ); None without region or type."""
    if not instance.get("region_id") or not instance.get("instance_type"):
        return None
    return instance["region_id"], instance["instance_type"], instance.get("os_type") or "linux"


def last_known(instance_id, entry):
    """An instance dict rebuilt from its alert state entry (for an instance that is gone)."""
    old = (entry or {}).get("info") or {}
    out = {"instance_id": instance_id, "instance_name": old.get("name"), "locks": None, "tags": {}, "source": "state"}
    for name in STATE_FIELDS:
        out[name] = old.get(name)
    return out


@dataclasses.dataclass(frozen=True)
class Problem:
    """A data problem of the run, named in the incomplete-data event (``key`` identifies it across runs)."""
    key: str
    text: str


@dataclasses.dataclass
class Inventory:
    """The spot instances a source listed, and whether that listing is the whole truth."""
    source: str                                   # "guance" (CO::aliyun_ecs) | "describe_instances"
    instances: Dict[str, dict] = field(default_factory=dict)    # every spot instance listed, by ID
    objects: Optional[int] = None                 # objects / instances the source answered (None: not read)
    complete: bool = False                        # False: a listing was cut short or failed
    gaps: List[str] = field(default_factory=list)
    read_ms: Optional[int] = None                 # when it was read (a cached inventory is older than the run)
    cached: bool = False
    listed_regions: Set[str] = field(default_factory=set)      # direct mode: regions listed completely


@dataclasses.dataclass
class MarketData:
    """Prices, advice, stock and same-spec types of the run, fetched or cached; the reason where one is missing."""
    history: Dict[Tuple[str, str, str], dict] = field(default_factory=dict)     # market -> price history
    price_errors: Dict[Tuple[str, str, str], str] = field(default_factory=dict)
    advice: Dict[str, Dict[str, dict]] = field(default_factory=dict)            # region -> type -> zone -> figures
    advice_errors: Dict[Tuple[str, str], str] = field(default_factory=dict)     # (region, type) -> reason
    stock: Dict[str, dict] = field(default_factory=dict)                        # region -> {"zones", "types"}
    stock_errors: Dict[str, str] = field(default_factory=dict)
    same_spec: Dict[Tuple[str, int, float], list] = field(default_factory=dict)  # (region, vCPU, GiB) -> rows
    same_spec_errors: Dict[Tuple[str, int, float], str] = field(default_factory=dict)
    fetched: Dict[str, int] = field(default_factory=lambda: {"price": 0, "price_cached": 0, "advice": 0,
                                                              "stock": 0, "same_spec": 0})


@dataclasses.dataclass
class Observation:
    """Everything one run read: the instances, the live release signals, the market, the alert state before."""
    now_ms: int
    source: str
    inventory: Inventory
    instances: Dict[str, dict] = field(default_factory=dict)   # selected spot instances alive now, by ID
    live: Dict[str, dict] = field(default_factory=dict)        # instances from live ECS answers of this run
    live_regions: Set[str] = field(default_factory=set)        # regions whose Recycling listing is complete
    live_missing: Dict[str, str] = field(default_factory=dict)  # region -> why its live release state is unknown
    events: Dict[str, dict] = field(default_factory=dict)      # instance ID -> latest CMS interruption notice
    events_complete: bool = False                              # the CMS answer was read completely
    released: Dict[str, dict] = field(default_factory=dict)    # confirmed released: last known data, by ID
    previous: Dict[str, dict] = field(default_factory=dict)    # the instances' alert state before this run
    market: MarketData = field(default_factory=MarketData)
    problems: List[Problem] = field(default_factory=list)
    cloud_unavailable: Optional[str] = None                    # why no Alibaba Cloud call could be made
    spot_seen_ms: Optional[int] = None                         # when a run last saw spot instances (before this)
    stats: dict = field(default_factory=dict)                  # calls, queries, seconds: for the task log
    # What the evaluate stage works out from this observation (price figures, ranked zones, findings), kept
    # so that collect's ranking of urgent instances and the evaluate stage each work it out once.
    derived: dict = field(default_factory=dict, compare=False, repr=False)


@dataclasses.dataclass
class Evaluation:
    """What the rules say about one instance, with the market view and advice its report shows."""
    instance_id: Optional[str]
    severity: Optional[str] = None                 # critical | error | warning | None
    findings: List[dict] = field(default_factory=list)      # {code, severity, facts}, worst first
    missing: List[str] = field(default_factory=list)        # data the rules lacked
    checked: Set[str] = field(default_factory=set)          # rule families that had their data
    protection_end_ms: Optional[int] = None
    in_protection: bool = False
    settings: dict = field(default_factory=dict)
    view: dict = field(default_factory=dict)                # the type's market in the instance's region
    notes: List[str] = field(default_factory=list)          # the report's Notes (missing data, region problems)
    advice: List[dict] = field(default_factory=list)        # ranked advice items (firing or released)
    released: bool = False                                   # the instance is gone


@dataclasses.dataclass
class InstanceDecision:
    """One instance reported in its own event: firing (new, changed, reminder, alone again) or ``ok``."""
    instance: dict
    evaluation: Evaluation
    status: str                          # critical | error | warning | ok
    reason: str                          # new | escalated | deescalated | reminder | ungrouped | recovered
    since_ms: Optional[int] = None
    previous_status: Optional[str] = None
    previous_codes: List[str] = field(default_factory=list)
    released: bool = False               # ok because the instance is gone


@dataclasses.dataclass
class GroupMember:
    instance: dict
    evaluation: Evaluation
    change: Optional[str] = None         # this run's change of the member, None when unchanged


@dataclasses.dataclass
class GroupDecision:
    """The grouped event of one (region, type): firing with its members, or ``ok`` when it dissolved."""
    region: str
    instance_type: str
    status: str
    reason: str
    since_ms: Optional[int] = None
    members: List[GroupMember] = field(default_factory=list)         # firing now (in urgency order)
    recovered: List[Tuple[dict, bool]] = field(default_factory=list)  # (instance, released) since the last report
    representative: Optional[Evaluation] = None                       # whose market and advice the report shows
    still_firing: int = 0                                             # ok: instances now reported one by one


@dataclasses.dataclass
class ProblemsDecision:
    status: str                          # warning | ok
    problems: List[str] = field(default_factory=list)


@dataclasses.dataclass
class SilenceDecision:
    """A source that went silent for ``runs`` runs (warning), or came back (ok)."""
    source: str
    status: str
    since_ms: Optional[int] = None
    empty_runs: int = 0


@dataclasses.dataclass
class ActionOutcome:
    status: str                          # done | failed | skipped
    detail: str = ""
    at_ms: Optional[int] = None


@dataclasses.dataclass
class Action:
    """Something to do about an instance before it is released (the response half; none are planned yet).

    ``kind``: ``drain_node`` (Kubernetes), ``deregister_services`` (Consul), ``protect_data``
    (snapshot), ``buy_replacement``; ``due_by_ms``: when it must be done (the release);
    ``params``: what the step needs (node name, services, disks, replacement spec);
    ``outcome``: filled in by the step that carries it out, shown by the report.
    """
    kind: str
    instance_id: str
    due_by_ms: Optional[int] = None
    reason: str = ""
    params: dict = field(default_factory=dict)
    outcome: Optional[ActionOutcome] = None


@dataclasses.dataclass
class Plan:
    """What this run reports, what the next run must remember, and the actions due."""
    now_ms: int
    instances: List[InstanceDecision] = field(default_factory=list)
    groups: List[GroupDecision] = field(default_factory=list)
    problems: Optional[ProblemsDecision] = None
    silences: List[SilenceDecision] = field(default_factory=list)
    actions: List[Action] = field(default_factory=list)
    remember: Dict[str, object] = field(default_factory=dict)    # store key -> value, written at commit
