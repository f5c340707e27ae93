"""What the user tells the spot inspection: Studio ``configs`` and the startup script's ``account``.

Configs (Studio, 「监控 / 智能巡检」), one entry or many::

    [{"instance_type": "ecs.g7.*", "spot_with_price_limit": "30%"},
     {"instance_type": ["ecs.c7.large", "ecs.c7.xlarge"], "regions": ["cn-hangzhou"],
      "tags": {"env": "prod"}, "price_margin": "5%", "history_days": 3, "group_threshold": 10}]

- ``instance_type``: a type, a list of types, or a family wildcard (``ecs.g7.*``); absent:
  every spot instance.
- ``spot_with_price_limit``: the accepted discount = the highest spot price accepted as a
  share of the pay-as-you-go price of the same type: ``0.3``, ``"30%"`` or ``"3折"`` all
  mean 30 % of PAYG. Optional.
- ``regions``, ``tags`` (tag key -> value, ``"*"`` = any value): narrow the entry.
- ``price_margin`` (default 10 %), ``history_days`` (default 7, at most 30),
  ``group_threshold`` (default 5).
- ``no_data_runs`` (default 3, 0 = off): runs in a row without any ``CO::aliyun_ecs`` object,
  or without spot instances where some were seen before, before one warning event says the
  source went silent (the first entry that sets it applies).

An instance is inspected when any entry selects it (no entries: every spot instance).
Each setting comes from the first selecting entry that gives it, else its default:
put specific entries before general ones.

Account keys read here (the startup script's ``account`` dict; the Guance keys are the
core's): ``aliyun_access_key_id``, ``aliyun_access_key_secret``, optional
``aliyun_security_token``, ``aliyun_endpoint``, ``instance_source``, ``regions``,
``object_window``, ``inventory_refresh`` (how long the ``CO::aliyun_ecs`` inventory read from
Guance is reused, default 30 minutes; the live release signals are read every run). See
``docs/spot-alive.md``.
"""
import fnmatch
import json
import re

from guance_monitor import configs
from guance_monitor import redact

DEFAULT_PRICE_MARGIN = 0.10
DEFAULT_HISTORY_DAYS = 7
MAX_HISTORY_DAYS = 30
DEFAULT_GROUP_THRESHOLD = 5
DEFAULT_OBJECT_WINDOW_S = 30 * 60
DEFAULT_INVENTORY_REFRESH_S = 30 * 60
MAX_INVENTORY_REFRESH_S = 24 * 3600
DEFAULT_NO_DATA_RUNS = 3

SOURCE_GUANCE = "guance"
SOURCE_DIRECT = "describe_instances"
PRODUCTS = ("ecs", "cms")

_TYPE_PATTERN = re.compile(r"^[a-z0-9*][a-z0-9.*_-]*$")
_REGION_PATTERN = re.compile(r"^[a-z]{2,}(-[a-z0-9]+)+$")
_SHARE_HINT = ('expected the accepted share of the pay-as-you-go price: a fraction 0 < x <= 1 (0.3), '
               'a percent ("30%") or 折 ("3折")')


class AccountError(ValueError):
    """An Alibaba Cloud key of the startup script's ``account`` is unusable; the text names it."""


# -- field parsers ------------------------------------------------------------------------------

def parse_share(value, hint=_SHARE_HINT, allow_zero=False):
    """``0.3``, ``"0.3"``, ``"30%"``, ``"3折"``, ``"3.5折"`` -> 0.3 (a share of PAYG)."""
    if isinstance(value, bool):
        raise ValueError(hint)
    text = value.strip() if isinstance(value, str) else value
    try:
        if isinstance(text, str) and text.endswith("%"):
            share = float(text[:-1]) / 100.0
        elif isinstance(text, str) and text.endswith(u"折"):
            share = float(text[:-1]) / 10.0
        else:
            share = float(text)
    except (TypeError, ValueError):
        raise ValueError(hint)
    if share != share or share in (float("inf"), float("-inf")):
        raise ValueError(hint)
    if share > 1:
        suggestion = ""
        if isinstance(value, (int, float)) or (isinstance(value, str) and not value.strip().endswith(("%", u"折"))):
            if share <= 10:
                suggestion = ' (did you mean "%s折" or %s?)' % (_plain(share), _plain(share / 10.0))
            elif share <= 100:
                suggestion = ' (did you mean "%s%%"?)' % _plain(share)
        raise ValueError(hint + suggestion)
    if share < 0 or (share == 0 and not allow_zero):
        raise ValueError(hint)
    return share


def _plain(number):
    return ("%.4f" % number).rstrip("0").rstrip(".")


def parse_discount(value):
    return parse_share(value)


def parse_margin(value):
    share = parse_share(value, 'expected a margin as a fraction 0 <= x < 1 (0.1) or a percent ("10%")',
                        allow_zero=True)
    if share >= 1:
        raise ValueError('expected a margin as a fraction 0 <= x < 1 (0.1) or a percent ("10%")')
    return share


def _names(value, pattern, hint):
    """A string or a list of strings, lower-cased, each matching ``pattern``; else ValueError(hint)."""
    try:
        items = configs.string_list(value)
    except ValueError:
        raise ValueError(hint)
    names = [item.strip().lower() for item in items]
    if not all(pattern.match(name) for name in names):
        raise ValueError(hint)
    return names


def parse_instance_types(value):
    """A type, a list of types or family wildcards -> list of lower-case patterns."""
    hint = "expected an instance type such as ecs.g7.large, a family wildcard such as ecs.g7.*, or a list of them"
    patterns = _names(value, _TYPE_PATTERN, hint)
    if any(pattern.strip("*.") == "" for pattern in patterns):
        raise ValueError(hint)
    return patterns


def parse_regions(value):
    return _names(value, _REGION_PATTERN, "expected a region ID such as cn-hangzhou, or a list of them")


SCHEMA = configs.Schema([
    configs.Field("instance_type", parse_instance_types,
                  doc="instance type, list of types, or family wildcard ecs.g7.*; absent = every spot instance"),
    configs.Field("spot_with_price_limit", parse_discount,
                  doc="accepted discount: highest spot price as a share of PAYG (0.3, \"30%\", \"3折\")"),
    configs.Field("regions", parse_regions, doc="region IDs this entry applies to"),
    configs.Field("tags", configs.string_map, doc="instance tags that must match (\"*\" = any value)"),
    configs.Field("price_margin", parse_margin, doc="warn when the bid is less than this share above the market"),
    configs.Field("history_days", configs.integer(1, MAX_HISTORY_DAYS), doc="price history window in days"),
    configs.Field("group_threshold", configs.integer(1, 100000),
                  doc="more instances of one (region, type) than this in one run: one grouped event"),
    configs.Field("no_data_runs", configs.integer(0, 10000),
                  doc="runs without data before a no-data warning (0: off)"),
])


# -- which entries select an instance -----------------------------------------------------------

def type_matches(patterns, instance_type):
    value = (instance_type or "").lower()
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def tags_match(wanted, tags):
    tags = tags or {}
    for key, value in wanted.items():
        if key not in tags:
            return False
        if value not in ("*",) and tags.get(key) != value:
            return False
    return True


class Selection(object):
    """The validated config entries: which instances they select and the settings each gets."""

    def __init__(self, entries):
        self.entries = list(entries or [])
        self._by_tags = any(entry.get("tags") for entry in self.entries)
        self._settings = {}

    def selecting(self, instance):
        """The entries (in order) that select ``instance``; all of them when there are no entries."""
        if not self.entries:
            return [{}]
        out = []
        for entry in self.entries:
            if entry.get("instance_type") and not type_matches(entry["instance_type"], instance.get("instance_type")):
                continue
            if entry.get("regions") and (instance.get("region_id") or "").lower() not in entry["regions"]:
                continue
            if entry.get("tags") and not tags_match(entry["tags"], instance.get("tags")):
                continue
            out.append(entry)
        return out

    def selects(self, instance):
        return bool(self.selecting(instance))

    def settings(self, instance):
        """``{discount, price_margin, history_days, group_threshold, entry}`` for a selected instance.

        The same for every instance of one type and region (and tags, when an entry names
        tags): worked out once per run for each.
        """
        key = (instance.get("instance_type"), instance.get("region_id"),
               tuple(sorted((instance.get("tags") or {}).items())) if self._by_tags else None)
        if key not in self._settings:
            self._settings[key] = self._settings_of(instance)
        return dict(self._settings[key])

    def defaults(self, instance):
        """The settings of an instance no entry speaks of (a released one's last report)."""
        return Selection([]).settings(instance)

    def no_data_runs(self):
        """Runs without data before the no-data warning: the first entry that sets it, else the default."""
        return next((e["no_data_runs"] for e in self.entries if e.get("no_data_runs") is not None),
                    DEFAULT_NO_DATA_RUNS)

    def _settings_of(self, instance):
        chosen = self.selecting(instance)

        def first(key, default):
            for entry in chosen:
                if entry.get(key) is not None:
                    return entry[key]
            return default

        entry_index = None
        if self.entries and chosen:
            entry_index = next(i for i, e in enumerate(self.entries) if e is chosen[0])
        return {
            "discount": first("spot_with_price_limit", None),
            "price_margin": first("price_margin", DEFAULT_PRICE_MARGIN),
            "history_days": first("history_days", DEFAULT_HISTORY_DAYS),
            "group_threshold": first("group_threshold", DEFAULT_GROUP_THRESHOLD),
            "entry": entry_index,
        }

    def regions(self):
        """The configured regions, or None when some entry (or no configs) means every region."""
        if not self.entries or any(not e.get("regions") for e in self.entries):
            return None
        return _distinct(r for entry in self.entries for r in entry["regions"])

    def type_patterns(self):
        """Every instance type pattern, or None when some entry (or no configs) means every type."""
        if not self.entries or any(not e.get("instance_type") for e in self.entries):
            return None
        return _distinct(p for entry in self.entries for p in entry["instance_type"])

    def region_entries(self):
        """(index, region) of every region named in configs, for checking they exist."""
        return [(i, r) for i, e in enumerate(self.entries) for r in (e.get("regions") or [])]


def _distinct(items):
    """The items in their first order, each once (linear time)."""
    seen = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def type_regex(patterns):
    """A regex matching the whole value for any of the (wildcard) type patterns (for DQL ``re()``)."""
    parts = []
    for pattern in patterns:
        parts.append("".join(".*" if ch == "*" else re.escape(ch) for ch in pattern))
    return "(" + "|".join(parts) + ")"


# -- the account --------------------------------------------------------------------------------

class Account(object):
    """The Alibaba Cloud part of the startup script's ``account`` (secrets registered for redaction)."""

    def __init__(self, access_key_id=None, access_key_secret=None, security_token=None, endpoints=None,
                 instance_source=SOURCE_GUANCE, regions=None, object_window_s=DEFAULT_OBJECT_WINDOW_S,
                 inventory_refresh_s=DEFAULT_INVENTORY_REFRESH_S):
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.security_token = security_token
        self.endpoints = endpoints or {}          # product -> (endpoint template, protocol)
        self.instance_source = instance_source
        self.regions = regions or []
        self.object_window_s = object_window_s
        self.inventory_refresh_s = inventory_refresh_s


def register_secrets(account):
    """Register the account's secrets for redaction as soon as the checker is built; returns the account."""
    if isinstance(account, dict):
        for key in ("aliyun_access_key_secret", "aliyun_security_token", "api_key", "api_key_id"):
            if isinstance(account.get(key), str):
                redact.register_secret(account[key].strip())
    return account


def _text(account, key):
    value = account.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise AccountError("account.%s: expected text, got %s" % (key, type(value).__name__))
    return value.strip()


def parse_account(account):
    """An ``Account`` from the startup script's dict; AccountError naming the bad key."""
    if account is None:
        account = {}
    if not isinstance(account, dict):
        raise AccountError("account: expected the startup script's account dict, got %s" % type(account).__name__)
    key_id = _text(account, "aliyun_access_key_id")
    secret = _text(account, "aliyun_access_key_secret")
    token = _text(account, "aliyun_security_token")
    if secret:
        redact.register_secret(secret)
    if token:
        redact.register_secret(token)
    if bool(key_id) != bool(secret):
        missing = "aliyun_access_key_secret" if key_id else "aliyun_access_key_id"
        raise AccountError("account.%s: empty while its pair is set; fill in both halves of the AccessKey, "
                           "or leave both empty to use DFF.ENV / the credentials chain" % missing)
    source = _text(account, "instance_source") or SOURCE_GUANCE
    if source not in (SOURCE_GUANCE, SOURCE_DIRECT):
        raise AccountError("account.instance_source: expected %r (the Guance Aliyun-ECS integration's "
                           "CO::aliyun_ecs objects, the default) or %r (list with ECS DescribeInstances), got %r"
                           % (SOURCE_GUANCE, SOURCE_DIRECT, source))
    regions_value = account.get("regions")
    regions = []
    if regions_value not in (None, "", []):
        if isinstance(regions_value, str):
            regions_value = [r for r in re.split(r"[,\s]+", regions_value) if r]
        try:
            regions = parse_regions(regions_value)
        except ValueError as exc:
            raise AccountError("account.regions: %s, got %r" % (exc, account.get("regions")))
    window = _duration(account, "object_window", DEFAULT_OBJECT_WINDOW_S, 60, None, "at least 1 minute")
    refresh = _duration(account, "inventory_refresh", DEFAULT_INVENTORY_REFRESH_S, 0, MAX_INVENTORY_REFRESH_S,
                        "at most 24 hours (0 reads the inventory every run)")
    return Account(key_id or None, secret or None, token or None, parse_endpoints(account.get("aliyun_endpoint")),
                   source, regions, window, refresh)


def _duration(account, key, default, low, high, bounds):
    """A duration of the account in seconds (``"30m"``), ``default`` when absent; AccountError naming the key."""
    if account.get(key) in (None, ""):
        return default
    try:
        seconds = configs.duration_seconds(account[key])
    except ValueError as exc:
        raise AccountError("account.%s: %s" % (key, exc))
    if seconds < low or (high is not None and seconds > high):
        raise AccountError("account.%s: expected %s, got %r" % (key, bounds, account[key]))
    return seconds


def parse_endpoints(value):
    """``aliyun_endpoint`` -> {product: (endpoint, protocol)}; {} means Alibaba Cloud's defaults.

    Accepts a URL with scheme (``http://127.0.0.1:9000``: the scheme becomes the SDK's
    protocol), a bare host (HTTPS), a host with ``{region}`` (``ecs-vpc.{region}.aliyuncs.com``),
    or one per product as a dict / JSON text (``{"ecs": "...", "cms": "..."}``).
    """
    if value is None:
        return {}
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return {}
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except ValueError:
                raise AccountError("account.aliyun_endpoint: looks like JSON but is not valid JSON; "
                                   "expected {\"ecs\": \"host\", \"cms\": \"host\"}")
        else:
            one = _endpoint(text, "account.aliyun_endpoint")
            return dict((product, one) for product in PRODUCTS)
    if isinstance(value, dict):
        out = {}
        for product, item in value.items():
            if product not in PRODUCTS:
                raise AccountError("account.aliyun_endpoint: unknown product %r; expected keys %s"
                                   % (product, ", ".join(PRODUCTS)))
            if item in (None, ""):
                continue
            if not isinstance(item, str):
                raise AccountError("account.aliyun_endpoint.%s: expected a host or URL" % product)
            out[product] = _endpoint(item.strip(), "account.aliyun_endpoint.%s" % product)
        return out
    raise AccountError("account.aliyun_endpoint: expected a host, a URL or {\"ecs\": ..., \"cms\": ...}, got %s"
                       % type(value).__name__)


LOOPBACK_HOSTS = ("127.", "localhost", "[::1]")


def _endpoint(text, where):
    # A bare loopback host:port is a local stand-in (the sandbox): it speaks plain HTTP.
    protocol = "http" if text.lower().startswith(LOOPBACK_HOSTS) else "https"
    rest = text
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://(.*)$", text)
    if match:
        protocol = match.group(1).lower()
        rest = match.group(2)
        if protocol not in ("http", "https"):
            raise AccountError("%s: scheme %r not supported; use http:// or https://" % (where, protocol))
    rest = rest.rstrip("/")
    if not rest or "/" in rest or any(ch.isspace() for ch in rest) or "@" in rest:
        raise AccountError("%s: expected a host such as ecs-vpc.cn-hangzhou.aliyuncs.com or a URL such as "
                           "http://127.0.0.1:9000, got %r" % (where, text))
    return rest, protocol
