"""Detection rules over plain data: one instance, its market, its signals -> findings. Pure functions.

======================  ========  ===================================================================
code                    severity  fires when
======================  ========  ===================================================================
``recycling``           critical  the instance holds the ``Recycling`` lock (live DescribeInstances, or
                                  the integration's ``OperationLocks`` when no live answer exists), or
                                  a CMS ``Instance:PreemptibleInstanceInterruption`` event names it
``price_below``         error     past protection, ``SpotWithPriceLimit``, and ``SpotPriceLimit`` is
                                  below the latest spot price in its zone
``out_of_stock``        error     past protection, and its type is sold out in its zone
                                  (``WithoutStock`` / ``ClosedWithoutStock``)
``price_near``          warning   past protection, ``SpotWithPriceLimit``, and the limit is less than
                                  ``price_margin`` above the latest spot price in its zone
``low_stock``           warning   past protection, and its type is ``ClosedWithStock`` in its zone
``interruption_high``   warning   past protection, and the 30-day interruption rate of its type in its
                                  zone is in the top bucket (``10-100%``, i.e. >= 10 %)
``too_expensive``       warning   the latest spot price in its zone is above the accepted discount
                                  (configs ``spot_with_price_limit``) times the pay-as-you-go price
======================  ========  ===================================================================

Rules of a family (``recycling``, ``price_limit``, ``stock``, ``interruption``, ``discount``) that
lack data are not evaluated and the evaluation says what was missing: nothing fires, and
nothing recovers, on missing data -- nor on an incomplete view (a listing cut short, CloudMonitor
events not read completely). Stopped instances skip the price, stock and discount rules (they do
not run, so nothing is bid). Protection ends ``SpotDuration`` hours (default 1) after
``CreationTime``.

This is the **evaluate** stage: ``evaluate_all(observation, selection)`` turns the run's
``records.Observation`` into ``{instance_id: records.Evaluation}`` -- the findings of each
selected instance, the market view of its type (zones ranked, price figures), the notes its
report shows and its ranked advice; released instances get an evaluation too (their last known
market and where a replacement would go). Everything here is pure.
"""
from guance_monitor import alerts
from guance_monitor import clock
from guance_monitor_spot_alive import advice
from guance_monitor_spot_alive import inventory
from guance_monitor_spot_alive import prices
from guance_monitor_spot_alive.records import Evaluation
from guance_monitor_spot_alive.records import market_key

SEVERITY = alerts.SEVERITY                 # one severity order: the alert state's
NOTICE_MS = 5 * 60 * 1000                  # release follows the interruption notice by about 5 minutes
DEFAULT_SPOT_DURATION_H = 1
SOLD_OUT = prices.SOLD_OUT
LOW_STOCK = prices.LOW_STOCK
stock_of = prices.stock_of
top_bucket = prices.top_bucket
NOT_RUNNING = ("Stopped", "Stopping")

FAMILY = {"recycling": "recycling", "price_below": "price_limit", "price_near": "price_limit",
          "out_of_stock": "stock", "low_stock": "stock", "interruption_high": "interruption",
          "too_expensive": "discount"}
FAMILIES = ("recycling", "price_limit", "stock", "interruption", "discount")


def finding(code, severity, **facts):
    return {"code": code, "severity": severity, "facts": facts}


def worst(severities):
    best = None
    for one in severities:
        if one and (best is None or SEVERITY[one] > SEVERITY[best]):
            best = one
    return best


# -- protection -------------------------------------------------------------------------------

_CREATED = {}


def protection_end_ms(instance):
    """When the protection period ends (epoch ms), or None when ``CreationTime`` is unknown."""
    created = instance.get("creation_time")
    if not created:
        return None
    created_ms = _CREATED.get(created)
    if created_ms is None:
        try:
            created_ms = clock.to_ms(clock.parse_time(created))
        except ValueError:
            return None
        if len(_CREATED) > 100000:
            _CREATED.clear()
        _CREATED[created] = created_ms
    hours = instance.get("spot_duration")
    if hours is None:
        hours = DEFAULT_SPOT_DURATION_H
    return created_ms + int(hours) * 3600 * 1000


# -- the rules --------------------------------------------------------------------------------

def check_recycling(signals, now_ms):
    """(finding or None, checked) from the release signals of one instance.

    ``signals``: ``live_lock`` (True / False / None = no live answer), ``object_lock`` (the
    integration's lock: True / False / None = unknown or malformed), ``event`` (the CMS notice
    ``{"time_ms"}`` or None), ``events_ok`` (the CMS answer was read completely), ``live_source``
    (some live ECS answer is possible this run), ``first_seen_ms`` (when a release was first seen,
    from state), ``lock_message``. Checked (so that a release condition may clear) only with a
    live answer and every CloudMonitor notice read, or, without any cloud access, the
    integration's lock.
    """
    live = signals.get("live_lock")
    locked = live if live is not None else signals.get("object_lock")
    event = signals.get("event")
    if signals.get("live_source"):
        checked = live is not None and bool(signals.get("events_ok"))
    else:
        checked = signals.get("object_lock") is not None
    if not locked and not event:
        return None, checked
    sources = []
    if live:
        sources.append("live")
    elif locked:
        sources.append("guance")
    if event:
        sources.append("event")
    notice_ms = event.get("time_ms") if event else None
    first_seen = signals.get("first_seen_ms") or now_ms
    if notice_ms is not None:
        deadline_ms, deadline_kind = notice_ms + NOTICE_MS, "notice"
    else:
        deadline_ms, deadline_kind = first_seen + NOTICE_MS, "first_seen"
    return finding("recycling", "critical", sources=sources, notice_ms=notice_ms, deadline_ms=deadline_ms,
                   deadline_kind=deadline_kind, first_seen_ms=first_seen,
                   left_s=(deadline_ms - now_ms) / 1000.0, lock_message=signals.get("lock_message") or "",
                   events_ok=bool(signals.get("events_ok"))), True


def check_price_limit(instance, zone_price, margin):
    """(finding or None, missing text or None) for the bid of a ``SpotWithPriceLimit`` instance."""
    if instance.get("spot_strategy") != "SpotWithPriceLimit":
        return None, None
    limit = instance.get("spot_price_limit")
    if not limit:
        return None, "SpotPriceLimit is not set for a SpotWithPriceLimit instance"
    if not zone_price or zone_price.get("latest") is None:
        return None, "no spot price of %s in zone %s" % (instance.get("instance_type"), instance.get("zone_id"))
    price = zone_price["latest"]
    facts = dict(limit=limit, price=price, zone=instance.get("zone_id"), price_ms=zone_price.get("latest_ms"),
                 margin=margin, week_max=zone_price.get("max"), origin=zone_price.get("origin"))
    if limit < price:
        return finding("price_below", "error", gap=(price - limit) / price if price else None, **facts), None
    if price > 0 and limit < price * (1.0 + margin):
        return finding("price_near", "warning", headroom=(limit - price) / price, **facts), None
    return None, None


def check_stock(instance, category):
    if category is None:
        return None, "no stock data for the region"
    if category == "NotListed":
        return None, "%s is not listed for spot purchase in zone %s" % (instance.get("instance_type"),
                                                                         instance.get("zone_id"))
    if category in SOLD_OUT:
        return finding("out_of_stock", "error", category=category, zone=instance.get("zone_id")), None
    if category in LOW_STOCK:
        return finding("low_stock", "warning", category=category, zone=instance.get("zone_id")), None
    return None, None


def check_interruption(instance, figures):
    if not figures or (figures.get("rate") is None and not figures.get("desc")):
        return None, "no 30-day interruption rate of %s in zone %s" % (instance.get("instance_type"),
                                                                       instance.get("zone_id"))
    if top_bucket(figures):
        return finding("interruption_high", "warning", rate=figures.get("rate"), desc=figures.get("desc"),
                       zone=instance.get("zone_id")), None
    return None, None


def check_discount(instance, zone_price, accepted):
    """Too expensive: the latest spot price is above ``accepted`` x PAYG (accepted None: not configured)."""
    if accepted is None:
        return None, None
    if not zone_price or zone_price.get("latest") is None:
        return None, "no spot price of %s in zone %s" % (instance.get("instance_type"), instance.get("zone_id"))
    origin = zone_price.get("origin")
    if not origin:
        return None, "no pay-as-you-go price of %s in zone %s" % (instance.get("instance_type"),
                                                                   instance.get("zone_id"))
    price = zone_price["latest"]
    if price > accepted * origin:
        return finding("too_expensive", "warning", price=price, origin=origin, share=price / origin,
                       accepted=accepted, zone=instance.get("zone_id")), None
    return None, None


# -- one instance -----------------------------------------------------------------------------

def evaluate(instance, market, signals, settings, now_ms):
    """Everything the rules say about one instance.

    ``market``: ``zones`` ({zone: price figures} or None), ``price_error``, ``advice``
    ({zone: {discount, rate, desc}} or None), ``advice_error``, ``stock`` (the region's stock or
    None), ``stock_error``. Returns an ``Evaluation`` (severity, findings, missing, checked,
    protection_end_ms, in_protection); ``checked`` is the set of rule families that had the data
    they need.
    """
    findings = []
    missing = []
    checked = set()

    recycling, ok = check_recycling(signals, now_ms)
    if recycling:
        findings.append(recycling)
    if ok:
        checked.add("recycling")
    elif not recycling:
        missing.append(signals.get("missing") or (
            "no live answer about the release lock" if signals.get("live_lock") is None or not signals.get("live_source")
            else signals.get("events_missing") or "CloudMonitor interruption notices not read completely"))

    protection_end = protection_end_ms(instance)
    in_protection = protection_end is not None and now_ms < protection_end
    zones = market.get("zones")
    zone_price = (zones or {}).get(instance.get("zone_id")) if zones is not None else None
    running = instance.get("status") not in NOT_RUNNING

    def note(text, what):
        missing.append("%s: %s" % (what, text) if text else what)

    def record(family, result):
        """A rule's answer: a finding, or the data it lacked; a rule that could decide is `checked`."""
        hit, gap = result
        if hit:
            findings.append(hit)
        if gap:
            missing.append(gap)
        else:
            checked.add(family)

    if not running:
        checked.update(("price_limit", "stock", "interruption", "discount"))
    else:
        if protection_end is None:
            missing.append("CreationTime unknown: end of protection unknown, price / stock / interruption "
                           "rules not evaluated")
        elif in_protection:
            checked.update(("price_limit", "stock", "interruption"))
        else:
            if zones is None:
                note(market.get("price_error"), "no spot prices")
            else:
                record("price_limit", check_price_limit(instance, zone_price, settings.get("price_margin", 0.1)))
            if market.get("stock") is None:
                note(market.get("stock_error"), "no stock data")
            else:
                record("stock", check_stock(instance, stock_of(market["stock"], instance.get("zone_id"),
                                                               instance.get("instance_type"))))
            if market.get("advice") is None:
                note(market.get("advice_error"), "no spot advice")
            else:
                record("interruption", check_interruption(instance, market["advice"].get(instance.get("zone_id"))))
        # discount (cost), whatever the protection
        if settings.get("discount") is None:
            checked.add("discount")
        elif zones is None:
            note(market.get("price_error"), "no spot prices")
        else:
            record("discount", check_discount(instance, zone_price, settings.get("discount")))

    findings.sort(key=lambda f: -SEVERITY[f["severity"]])
    unique_missing = []
    for text in missing:
        if text not in unique_missing:
            unique_missing.append(text)
    return Evaluation(instance.get("instance_id"), severity=worst(f["severity"] for f in findings),
                      findings=findings, missing=unique_missing, checked=checked, protection_end_ms=protection_end,
                      in_protection=in_protection)


def recovered(evaluation, previous_codes):
    """True when nothing fires and every family that fired before was evaluated this run."""
    if evaluation.severity is not None:
        return False
    families = set(FAMILY.get(code, code) for code in previous_codes or [])
    return families <= evaluation.checked


# -- the evaluate stage ---------------------------------------------------------------------------

DAY_MS = 24 * 3600 * 1000
REGION_NOTES = ("degraded:%s", "region:%s")       # problems of a region shown in its instances' reports
RUN_NOTES = ("cloud", "events")                   # problems of the run shown in every report


def evaluate_all(observation, selection, with_advice=True):
    """{instance_id: Evaluation} for every selected instance alive now, and every released one.

    ``with_advice=False``: findings only (no notes, no advice) -- how ``collect`` ranks the
    instances whose same-spec alternatives it looks up. The findings of an instance are worked
    out once per observation (kept in ``observation.derived``), so that ranking costs nothing here.
    """
    views = _Views(observation)
    known = observation.derived.setdefault("evaluations", {})
    out = {}
    for instance_id, instance in sorted(observation.instances.items()):
        if instance_id in known and known[instance_id][0] is instance:
            evaluation = known[instance_id][1]
        else:
            settings = selection.settings(instance)
            view = views.of(instance, settings["history_days"])
            evaluation = evaluate(instance, view, signals_of(instance_id, instance, observation), settings,
                                  observation.now_ms)
            evaluation.missing = list(instance.get("notes") or []) + evaluation.missing
            evaluation.settings, evaluation.view = settings, view
            known[instance_id] = (instance, evaluation)
        settings, view = evaluation.settings, evaluation.view
        if with_advice:
            evaluation.notes = notes_of(evaluation.missing, instance, observation.problems)
            if evaluation.severity:
                evaluation.advice = advice.recommend(instance, evaluation, view, same_spec_of(instance, observation),
                                                     settings)
        out[instance_id] = evaluation
    for instance_id, instance in sorted(observation.released.items()):
        settings = selection.defaults(instance)
        view = views.of(instance, settings["history_days"])
        out[instance_id] = Evaluation(instance_id, settings=settings, view=view, released=True, advice=(
            advice.after_release(instance, view, same_spec_of(instance, observation)) if with_advice else []))
    return out


def urgency(evaluation, instance):
    """Sort key, most urgent first: the worst severity, then the earliest release deadline."""
    deadline = min([f["facts"]["deadline_ms"] for f in evaluation.findings if f["code"] == "recycling"] or
                   [float("inf")])
    return -SEVERITY.get(evaluation.severity or "ok", 0), deadline, instance.get("instance_id") or ""


def signals_of(instance_id, instance, observation):
    """The release signals of one instance: live lock, the integration's lock, the CMS notice, the state."""
    region = instance.get("region_id")
    object_lock = inventory.is_recycling(instance["locks"]) if instance.get("locks") is not None else None
    if observation.source == "describe_instances":
        live_lock, object_lock = object_lock, None          # the direct listing is live
    elif instance_id in observation.live:
        live_lock = inventory.is_recycling(observation.live[instance_id].get("locks"))
    elif region in observation.live_regions:
        live_lock = False
    else:
        live_lock = None
    before = (observation.previous.get(instance_id) or {}).get("info") or {}
    lock_message = ""
    for lock in (observation.live.get(instance_id) or instance).get("locks") or []:
        if lock.get("reason") == inventory.RECYCLING:
            lock_message = lock.get("message") or ""
    missing = None
    if observation.cloud_unavailable:
        missing = u"没有实时释放检查（阿里云接口不可用）/ no live release check (Alibaba Cloud unavailable)"
    elif live_lock is None and region in observation.live_missing:
        reason = observation.live_missing[region]
        missing = u"没有实时释放检查：%s / no live release check: %s" % (reason, reason)
    return {"live_lock": live_lock, "object_lock": object_lock, "event": observation.events.get(instance_id),
            "events_ok": observation.events_complete, "live_source": not observation.cloud_unavailable,
            "first_seen_ms": before.get("recycling_since") if "recycling" in (before.get("codes") or []) else None,
            "lock_message": lock_message, "missing": missing,
            "events_missing": u"云监控中断事件未完整读取 / CloudMonitor interruption notices not read completely"}


def notes_of(missing, instance, problems):
    """The report's notes: what the rules lacked, then the problems of the instance's region and of the run."""
    region = (instance or {}).get("region_id")
    keys = set(pattern % region for pattern in REGION_NOTES) | set(RUN_NOTES)
    notes = list(missing)
    for problem in problems:
        if problem.key in keys and problem.text not in notes:
            notes.append(problem.text)
    return notes


def same_spec_of(instance, observation):
    if not instance.get("cpu") or not instance.get("memory_gib"):
        return []
    return observation.market.same_spec.get((instance.get("region_id"), instance["cpu"], instance["memory_gib"])) or []


class _Views(object):
    """The market view of an instance's type in its region; figures and ranked zones worked out once per run
    (kept in ``Observation.derived``: they follow from the market data alone)."""

    def __init__(self, observation):
        self.market = observation.market
        self.now_ms = observation.now_ms
        self._figures = observation.derived.setdefault("figures", {})
        self._rows = observation.derived.setdefault("rows", {})

    def of(self, instance, days):
        key = market_key(instance)
        entry = self.market.history.get(key) if key else None
        window_ms = days * DAY_MS
        zones = None
        if entry is not None:
            if (key, window_ms) not in self._figures:
                self._figures[(key, window_ms)] = prices.zone_figures(entry, window_ms, self.now_ms)
            zones = self._figures[(key, window_ms)]
        region, instance_type = instance.get("region_id"), instance.get("instance_type")
        by_type = self.market.advice.get(region)
        view = {
            "zones": zones,
            "price_error": self.market.price_errors.get(key) if key else "instance type or region unknown",
            "advice": by_type[instance_type] if by_type is not None and instance_type in by_type else None,
            "advice_error": self.market.advice_errors.get((region, instance_type)),
            "stock": self.market.stock.get(region), "stock_error": self.market.stock_errors.get(region),
            "currency": (entry or {}).get("currency") or "CNY", "days": days, "region": region, "type": instance_type,
        }
        rows_key = (key, instance.get("zone_id"), instance.get("cpu"), window_ms)
        if rows_key not in self._rows:
            self._rows[rows_key] = advice.zone_rows(instance, view)
        view["rows"] = self._rows[rows_key]
        return view
