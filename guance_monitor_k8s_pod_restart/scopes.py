"""Configs of the pod-restart inspection: what to inspect, with which thresholds.

Studio ``configs`` is a list of entries::

    [{"cluster_name": "c1", "namespace": ["ns1", "ns2"]}, {"namespace": "ns3"}]

- ``cluster_name`` (optional) matches the ``cluster_name_k8s`` tag DataKit writes;
  without it the entry applies to every cluster.
- ``namespace`` (optional) is a string or a list; without it the entry applies to
  every namespace of its cluster(s). No configs at all means every cluster and namespace.
- Optional per entry: ``min_restarted_pods``, ``min_restarts``, ``min_ratio``,
  ``rise_factor``, ``recover_after_runs``, ``exclude_workloads`` (see ``DEFAULTS``);
  ``no_data_runs``: after this many runs in a row without pods, the entry's cluster or
  named namespaces (and, with every entry's largest value, the whole scope) raise one
  "no data" warning (default 3; 0 turns it off).

A (cluster, namespace) is inspected with the first entry that matches it.
"""
import fnmatch

from guance_monitor import checker
from guance_monitor import configs

# Thresholds when an entry does not set them (docs/k8s-pod-restart.md explains each).
DEFAULTS = {
    "min_restarted_pods": 2,     # abnormal pods needed to fire ...
    "min_restarts": 3,           # ... or this many restarts in the window (a single crash-looping pod)
    "min_ratio": 0.1,            # the restarted-pod ratio must reach this ...
    "rise_factor": 1.5,          # ... and this multiple of the baseline
    "recover_after_runs": 2,     # consecutive clean runs before `ok`
}


def _ratio(value):
    """A share between 0 and 1; ``"15%"`` is accepted as 0.15."""
    if isinstance(value, str) and value.strip().endswith("%"):
        value = configs.number(0, 100)(value.strip()[:-1]) / 100.0
    result = configs.number()(value)
    if not 0 < result <= 1:
        raise ValueError("expected a share between 0 and 1 (e.g. 0.1 or \"10%\")")
    return result


def _patterns(value):
    patterns = configs.string_list(value)
    for pattern in patterns:
        if "/" in pattern and pattern.split("/", 1)[0] not in WORKLOAD_KINDS + ("*",):
            raise ValueError("expected workload names or patterns such as \"batch-*\" or \"deployment/api\" "
                             "(kinds: %s)" % ", ".join(WORKLOAD_KINDS))
    return patterns


WORKLOAD_KINDS = ("deployment", "statefulset", "daemonset", "replicaset", "job", "cronjob", "pod")

SCHEMA = configs.Schema([
    configs.Field("cluster_name", configs.string, doc="cluster_name_k8s of the cluster (optional)"),
    configs.Field("namespace", configs.string_list, doc="a namespace or a list of namespaces (optional)"),
    configs.Field("min_restarted_pods", configs.integer(1, 100000), default=DEFAULTS["min_restarted_pods"]),
    configs.Field("min_restarts", configs.integer(1, 1000000), default=DEFAULTS["min_restarts"]),
    configs.Field("min_ratio", _ratio, default=DEFAULTS["min_ratio"]),
    configs.Field("rise_factor", configs.number(1, 100), default=DEFAULTS["rise_factor"]),
    configs.Field("recover_after_runs", configs.integer(1, 48), default=DEFAULTS["recover_after_runs"]),
    configs.Field("exclude_workloads", _patterns, default=[]),
    configs.Field("no_data_runs", configs.integer(0, 1000), default=checker.DEFAULT_SILENT_RUNS,
                  doc="runs in a row without pods before a no-data warning (0: off)"),
])


class Scope:
    """One config entry: which (cluster, namespace) it covers, and its thresholds."""

    def __init__(self, cluster=None, namespaces=None, thresholds=None, exclude=None, index=None,
                 no_data_runs=checker.DEFAULT_SILENT_RUNS):
        self.cluster = cluster
        self.namespaces = list(namespaces) if namespaces else None
        self.thresholds = dict(DEFAULTS)
        self.thresholds.update(thresholds or {})
        self.exclude = list(exclude or [])
        self.index = index          # position in configs (None: no configs given)
        self.no_data_runs = no_data_runs

    def covers(self, cluster, namespace):
        if self.cluster is not None and cluster != self.cluster:
            return False
        return self.namespaces is None or namespace in self.namespaces

    def excluded_by(self, kind, name):
        """The exclude pattern matching workload ``kind/name``, or None."""
        if not name:
            return None
        for pattern in self.exclude:
            target = "%s/%s" % (kind, name) if "/" in pattern else name
            if fnmatch.fnmatchcase(target, pattern):
                return pattern
        return None

    def describe(self):
        where = "cluster %s" % self.cluster if self.cluster else "every cluster"
        what = ", ".join(self.namespaces) if self.namespaces else "every namespace"
        return "%s: %s" % (where, what)


def from_entries(entries):
    """Scopes for validated entries (``SCHEMA.parse``); no entries: one scope covering everything."""
    if not entries:
        return [Scope()]
    scopes = []
    for index, entry in enumerate(entries):
        thresholds = {k: entry[k] for k in DEFAULTS if entry.get(k) is not None}
        runs = entry.get("no_data_runs")
        scopes.append(Scope(entry.get("cluster_name"), entry.get("namespace"), thresholds,
                            entry.get("exclude_workloads"), index,
                            checker.DEFAULT_SILENT_RUNS if runs is None else runs))
    return scopes


def match(scopes, cluster, namespace):
    """The first scope covering (cluster, namespace), or None."""
    for scope in scopes:
        if scope.covers(cluster, namespace):
            return scope
    return None


def matcher(scopes, keep=None):
    """``scope_of(cluster, namespace)``: the first matching scope, or None when none matches or ``keep`` says no.

    ``keep({"cluster_name", "namespace"})`` is the startup script's filters (answers are remembered).
    """
    known = {}

    def scope_of(cluster, namespace):
        key = (cluster, namespace)
        if key not in known:
            scope = match(scopes, cluster, namespace)
            kept = scope is not None and (keep is None or keep({"cluster_name": cluster, "namespace": namespace}))
            known[key] = scope if kept else None
        return known[key]
    return scope_of


def explicit_namespaces(scopes):
    """(cluster or None, namespace) pairs the configs name explicitly (to say "no data" about them)."""
    out = []
    for scope in scopes:
        for namespace in scope.namespaces or []:
            out.append((scope.cluster, namespace))
    return out
