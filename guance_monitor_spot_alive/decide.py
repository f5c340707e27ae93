"""Decide: the run's evaluations and the alert state -> a ``records.Plan``. No I/O.

    plan = decide.plan(evaluations, observation, trackers, selection)

1. **instances**: which fire (with their severity) and which are healthy -- seen healthy with
   the data to tell (``rules.recovered``), or released; what is neither is left alone (missing
   data or an incomplete view never recovers anything);
2. **groups**: a (region, type) with more firing instances than its ``group_threshold`` is
   reported as one grouped event; the group tracker decides new / changed / reminder / ``ok``
   (dissolved);
3. what each firing instance's alert state keeps (``alert_info``: enough to report it once it is
   gone, whether it is in a group, whether it has been reported alone), worked out *before* the
   instance tracker's update, which then decides new / escalated / deescalated / reminder /
   recovered;
4. the **decisions** to report: instances reported alone (firing, ``ungrouped`` when their group
   dissolved, ``ok`` recovered or released), groups (firing with their members, or ``ok``);
5. the incomplete-data **problems** event (its own tracker: warning when the list changes, a
   reminder a day, ``ok`` when clear) and the **no-data** rule (``checker.SilenceWatch``):
   ``CO::aliyun_ecs`` objects at all, and spot instances where some were seen within
   ``SPOT_MEMORY_MS``; a source read incompletely or not at all is unknown, not silent;
6. the **actions due**: ``[records.Action]`` from ``action_rules``, none today.

**Adding the response half** (drain a Kubernetes node, deregister Consul services, snapshot the
disks, buy a replacement inside the notice) touches no stage here: write a ``respond`` module
with pure action rules ``rule(decision, observation) -> [Action]`` (one per kind, using
``Action.due_by_ms`` = the release deadline) and an ``execute(actions, cloud, deadline)`` step
that carries them out (its own write I/O) and fills in each ``Action.outcome``; in ``main.py``
pass ``action_rules=respond.RULES`` to ``plan`` and call ``respond.execute(plan.actions, ...)``
between ``decide`` and ``render``. ``render`` already shows the actions of an instance and
their outcomes.
"""
from guance_monitor_spot_alive import rules
from guance_monitor_spot_alive.records import SPOT_SEEN_KEY
from guance_monitor_spot_alive.records import STATE_FIELDS
from guance_monitor_spot_alive.records import Evaluation
from guance_monitor_spot_alive.records import GroupDecision
from guance_monitor_spot_alive.records import GroupMember
from guance_monitor_spot_alive.records import InstanceDecision
from guance_monitor_spot_alive.records import Plan
from guance_monitor_spot_alive.records import ProblemsDecision
from guance_monitor_spot_alive.records import SilenceDecision
from guance_monitor_spot_alive.records import group_key
from guance_monitor_spot_alive.records import last_known

SPOT_MEMORY_MS = 7 * 24 * 3600 * 1000     # "spot instances seen before": within the last week
SOURCE_OBJECTS = "objects"                 # the no-data rule's sources
SOURCE_SPOT = "spot"


class Trackers(object):
    """The alert state the plan is decided against (``guance_monitor.alerts.AlertTracker`` and ``SilenceWatch``)."""

    def __init__(self, instances, groups, problems, silence):
        self.instances = instances
        self.groups = groups
        self.problems = problems
        self.silence = silence


def plan(evaluations, observation, trackers, selection, action_rules=()):
    now_ms = observation.now_ms
    alive = dict((i, e) for i, e in evaluations.items() if not e.released)
    firing = dict((i, e.severity) for i, e in alive.items() if e.severity)
    previous = observation.previous
    healthy = sorted(i for i, e in alive.items() if not e.severity and i in previous and rules.recovered(
        e, ((previous[i].get("info") or {}).get("codes"))))
    healthy += sorted(i for i in observation.released if i in previous)

    by_group = {}
    for instance_id in firing:
        by_group.setdefault(group_key(observation.instances[instance_id]), []).append(instance_id)
    grouped = set(key for key, ids in by_group.items() if len(ids) > min(
        alive[i].settings.get("group_threshold", 5) for i in ids))
    group_decisions = _group_decisions(trackers.groups, observation, by_group, firing, grouped, now_ms)

    info = dict((i, alert_info(observation.instances[i], alive[i], previous.get(i), group_key(
        observation.instances[i]) in grouped)) for i in firing)
    decisions = trackers.instances.update(firing, healthy, info, now_ms=now_ms)

    out = Plan(now_ms=now_ms)
    by_group_decisions = {}
    for decision in decisions:
        instance = observation.instances.get(decision.key) or observation.released.get(decision.key) or \
            last_known(decision.key, decision.previous)
        by_group_decisions.setdefault(group_key(instance), []).append((decision, instance))
    for key in sorted(set(by_group_decisions) | set(group_decisions), key=lambda k: (k[0] or "", k[1] or "")):
        _group_plan(out, key, by_group_decisions.get(key, []), group_decisions.get(key), key in grouped,
                    by_group.get(key, []), evaluations, observation, previous)
    out.problems = _problems(trackers.problems, observation, now_ms)
    out.silences, out.remember = _silences(trackers.silence, observation, selection, now_ms)
    out.actions = [action for rule in action_rules for one in out.instances for action in rule(one, observation)]
    return out


def alert_info(instance, evaluation, before, grouped):
    """What the alert state keeps about a firing instance (enough to report it once it is gone)."""
    old = (before or {}).get("info") or {}
    recycling = next((f["facts"] for f in evaluation.findings if f["code"] == "recycling"), None)
    info = {"name": instance.get("instance_name"), "codes": [f["code"] for f in evaluation.findings],
            "grouped": grouped, "individual_open": not grouped or bool(old.get("individual_open")),
            "recycling_since": recycling["first_seen_ms"] if recycling else None}
    for name in STATE_FIELDS:
        info[name] = instance.get(name)
    return info


def _group_decisions(tracker, observation, by_group, firing, grouped, now_ms):
    seen = set(group_key(inst) for inst in observation.instances.values())
    for key in observation.released:
        old = (observation.previous.get(key) or {}).get("info") or {}
        seen.add((old.get("region_id"), old.get("instance_type")))
    decisions = tracker.update(
        dict(("%s|%s" % key, rules.worst(firing[i] for i in by_group[key])) for key in grouped),
        ["%s|%s" % key for key in seen if key not in grouped],
        dict(("%s|%s" % key, {"region_id": key[0], "instance_type": key[1]}) for key in grouped), now_ms=now_ms)
    return dict((tuple(d.key.split("|", 1)), d) for d in decisions)


def _individually_open(decision):
    old = (decision.previous or {}).get("info") or {}
    if "individual_open" in old:
        return bool(old["individual_open"])
    return not old.get("grouped")


def _instance_decision(decision, instance, evaluation, observation):
    old = (decision.previous or {}).get("info") or {}
    return InstanceDecision(instance=instance, evaluation=evaluation, status=decision.status, reason=decision.reason,
                            since_ms=decision.since_ms, previous_status=(decision.previous or {}).get("status"),
                            previous_codes=list(old.get("codes") or []),
                            released=decision.key in observation.released)


def _group_plan(out, key, decisions, group_decision, is_grouped, firing_ids, evaluations, observation, previous):
    """The decisions of one (region, type): one per instance, or one for the group (see docs/spot-alive.md)."""
    firing_decisions = [(d, i) for d, i in decisions if d.status != "ok"]
    recovered = [(d, i) for d, i in decisions if d.status == "ok"]

    def evaluation(instance_id):
        return evaluations.get(instance_id) or Evaluation(instance_id)

    if is_grouped:
        if firing_decisions or recovered or group_decision is not None:
            changes = dict((d.key, d.reason) for d, _ in firing_decisions)
            members = sorted((GroupMember(observation.instances[i], evaluations[i], changes.get(i)) for i in firing_ids),
                             key=lambda m: rules.urgency(m.evaluation, m.instance))
            out.groups.append(GroupDecision(
                region=key[0], instance_type=key[1], status=rules.worst(evaluations[i].severity for i in firing_ids),
                reason=group_decision.reason if group_decision is not None else "changed",
                since_ms=group_decision.since_ms if group_decision is not None else None, members=members,
                recovered=[(i, d.key in observation.released) for d, i in recovered],
                representative=members[0].evaluation))
        for decision, instance in recovered:
            if _individually_open(decision):
                out.instances.append(_instance_decision(decision, instance, evaluation(decision.key), observation))
        return
    forced = []
    if group_decision is not None and group_decision.status == "ok":
        members_before = [(d, i) for d, i in recovered if ((d.previous or {}).get("info") or {}).get("grouped")]
        out.groups.append(GroupDecision(region=key[0], instance_type=key[1], status="ok", reason="recovered",
                                        since_ms=group_decision.since_ms, still_firing=len(firing_ids),
                                        recovered=[(i, d.key in observation.released) for d, i in members_before]))
    for instance_id in firing_ids:
        old = (previous.get(instance_id) or {}).get("info") or {}
        if old.get("grouped") and not old.get("individual_open"):
            forced.append(instance_id)
    changes = dict((d.key, d) for d, _ in firing_decisions)
    for instance_id in sorted(set(changes) | set(forced)):
        decision = changes.get(instance_id)
        out.instances.append(InstanceDecision(
            instance=observation.instances[instance_id], evaluation=evaluations[instance_id],
            status=evaluations[instance_id].severity, reason=decision.reason if decision else "ungrouped",
            since_ms=decision.since_ms if decision else (previous.get(instance_id) or {}).get("since_ms")))
    for decision, instance in sorted(recovered, key=lambda item: item[0].key):
        if _individually_open(decision) or group_decision is None:
            out.instances.append(_instance_decision(decision, instance, evaluation(decision.key), observation))


def _problems(tracker, observation, now_ms):
    problems = observation.problems
    before = tracker.state().get("problems") or {}
    texts = [p.text for p in sorted(problems, key=lambda p: (p.key, p.text))]
    signature = sorted(p.key for p in problems)
    decisions = tracker.update({"problems": "warning"} if problems else {}, [] if problems else ["problems"],
                               {"problems": {"keys": signature}}, now_ms=now_ms)
    for decision in decisions:
        return ProblemsDecision("ok") if decision.status == "ok" else ProblemsDecision("warning", texts)
    if problems and (before.get("info") or {}).get("keys") != signature:
        return ProblemsDecision("warning", texts)
    return None


def _silences(watch, observation, selection, now_ms):
    """The no-data rule's decisions, and when spot instances were last seen (remembered at commit)."""
    inventory = observation.inventory
    known = inventory.objects is not None and inventory.complete
    observed = {}
    if observation.source == "guance":
        observed[SOURCE_OBJECTS] = (inventory.objects > 0) if known else None
    seen_ms = observation.spot_seen_ms
    has_spot = bool(observation.instances)
    if has_spot:
        observed[SOURCE_SPOT] = True
    elif known and seen_ms is not None and now_ms - seen_ms < SPOT_MEMORY_MS:
        observed[SOURCE_SPOT] = False
    decisions = watch.update(observed, runs=selection.no_data_runs(), now_ms=now_ms)
    silences = [SilenceDecision(d.key, d.status, since_ms=(watch.info.get(d.key) or {}).get("silent_since_ms")
                                or d.since_ms, empty_runs=(watch.info.get(d.key) or {}).get("empty_runs", 0))
                for d in decisions]
    remember = {SPOT_SEEN_KEY: now_ms} if has_spot else {}
    return silences, remember
