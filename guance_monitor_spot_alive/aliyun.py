"""Alibaba Cloud ECS and CloudMonitor (CMS) through the official SDK. I/O only: plain dicts out.

- **Credentials**: the account's AccessKey (``aliyun_access_key_id`` / ``_secret``, optional
  ``aliyun_security_token``), else ``DFF.ENV('ALIBABA_CLOUD_ACCESS_KEY_ID' / '..._SECRET' /
  'ALIBABA_CLOUD_SECURITY_TOKEN')``, else the standard chain
  ``alibabacloud_credentials.client.Client()`` (environment, CLI profile, ini file, ECS RAM
  role). Secrets are registered for redaction when read. Without any, ``Cloud.unavailable``
  says why and every call fails with that reason (the inspection still reads what Guance has).
- **Endpoints**: Alibaba Cloud's defaults, or the account's ``aliyun_endpoint`` (see
  ``options.parse_endpoints``); one client per (product, region).
- **Retries**: the SDK retries nothing by default. Each call goes through
  ``guance_monitor.retry.call`` inside the run's deadline: network failures
  (``UnretryableException``, tested before ``TeaException``, which it derives from),
  ``ThrottlingException`` (its ``retry_after`` in ms is honoured), codes ``Throttling*`` /
  ``*Throttling`` / ``ServiceUnavailable`` and HTTP 5xx are retried with backoff.
- **Degraded regions**: after ``BREAKER_FAILURES`` consecutive calls of a region failed every
  retry, the region is degraded for the rest of the run: its remaining calls fail at once
  (``failed_regions`` says why) and the other regions go on.
- **Pool**: calls are submitted to a bounded ``ThreadPoolExecutor`` (``POOL_WORKERS``).
- **Complete or said so**: a listing comes back as a ``Listing`` (a list with ``complete`` and
  ``gaps``): paging that reaches ``MAX_PAGES``, or that repeats itself (a ``NextToken`` seen
  before, a page of instances, prices or events already listed -- an endless paging), stops and
  says so. An answer that is not JSON, or a 200 answer without its list (``Instances``,
  ``SpotPrices``, ``SystemEvents``, ``AvailableSpotZones``, ``AvailableZones``), is a
  ``MalformedAnswer`` error (retried like a transient failure), never an empty list.

Every error leaves as ``CloudError`` whose text went through ``redact``.
"""
import json
import threading
import types
from concurrent import futures

from guance_monitor import clock
from guance_monitor import logs
from guance_monitor import redact
from guance_monitor import retry
from guance_monitor.dql import Listing
from guance_monitor_spot_alive import inventory
from guance_monitor_spot_alive import prices

POOL_WORKERS = 16
ATTEMPTS = 5
BASE_DELAY = 0.5
MAX_DELAY = 4.0
BREAKER_FAILURES = 3
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 10.0
MAX_PAGES = 500
ADVICE_BATCH = 10                      # DescribeSpotAdvice: at most 10 InstanceTypes.N per call
INSTANCE_IDS_BATCH = 100               # DescribeInstances: InstanceIds holds at most 100
SPOT_EVENT = "Instance:PreemptibleInstanceInterruption"
DEFAULT_CMS_REGION = "cn-hangzhou"
STOCK_STRATEGY = "SpotAsPriceGo"       # DescribeAvailableResource's SpotStrategy (see docs/spot-alive.md)
MALFORMED = "MalformedAnswer"
SDK_REQUIREMENTS = ("alibabacloud-ecs20140526, alibabacloud-cms20190101, alibabacloud-tea-openapi, "
                    "darabonba-core, alibabacloud-credentials")

_sdk_namespace = None


class CloudError(Exception):
    """An Alibaba Cloud call failed (after retries when transient). The text is redacted."""

    def __init__(self, action, region, code, message, transient=False, status=None):
        self.action = action
        self.region = region
        self.code = code
        self.transient = transient
        self.status = status
        where = "%s%s" % (action, " (%s)" % region if region else "")
        text = "%s failed: %s%s" % (where, "%s: " % code if code else "", message)
        self.reason = redact.redact(_clip("%s%s" % ("%s: " % code if code else "", message), 300))
        Exception.__init__(self, redact.redact(_clip(text, 400)))


class CredentialsError(Exception):
    pass


def _clip(text, limit):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def sdk():
    """The SDK's classes (imported on first use, so that a missing SDK is a clear message)."""
    global _sdk_namespace
    if _sdk_namespace is None:
        from alibabacloud_cms20190101 import models as cms_models
        from alibabacloud_cms20190101.client import Client as CmsClient
        from alibabacloud_ecs20140526 import models as ecs_models
        from alibabacloud_ecs20140526.client import Client as EcsClient
        from alibabacloud_tea_openapi.exceptions import ThrottlingException
        from alibabacloud_tea_openapi.models import Config
        from darabonba.runtime import RuntimeOptions
        from Tea.exceptions import TeaException
        from Tea.exceptions import UnretryableException
        _sdk_namespace = types.SimpleNamespace(
            EcsClient=EcsClient, CmsClient=CmsClient, ecs=ecs_models, cms=cms_models, Config=Config,
            RuntimeOptions=RuntimeOptions, ThrottlingException=ThrottlingException, TeaException=TeaException,
            UnretryableException=UnretryableException)
    return _sdk_namespace


def classify(exc):
    """``(transient, retry_after_seconds)`` for an exception raised by an SDK call."""
    if isinstance(exc, CloudError):
        return exc.transient, None
    try:
        names = sdk()
    except ImportError:
        return False, None
    if isinstance(exc, names.UnretryableException):      # network failure; subclass of TeaException
        return True, None
    if isinstance(exc, names.ThrottlingException):
        after = getattr(exc, "retry_after", None)
        try:
            after = float(after) / 1000.0 if after else None
        except (TypeError, ValueError):
            after = None
        return True, after
    if isinstance(exc, names.TeaException):
        return transient_code(getattr(exc, "code", None), status_of(exc)), None
    return False, None


def transient_code(code, status=None):
    code = str(code or "")
    if code.startswith("Throttling") or code.endswith("Throttling") or code in (
            "ServiceUnavailable", "Rejected.Throttling", "RequestTimeout", "InternalError.Timeout"):
        return True
    return status is not None and 500 <= int(status) <= 599


def status_of(exc):
    status = getattr(exc, "status_code", None)
    if status is None:
        data = getattr(exc, "data", None)
        if isinstance(data, dict):
            status = data.get("statusCode")
    try:
        return int(status) if status is not None else None
    except (TypeError, ValueError):
        return None


def to_cloud_error(action, region, exc):
    if isinstance(exc, CloudError):
        return exc
    transient, _ = classify(exc)
    code = getattr(exc, "code", None)
    data = getattr(exc, "data", None)
    message = (data.get("Message") if isinstance(data, dict) else None) or getattr(exc, "message", None) \
        or str(exc) or type(exc).__name__
    try:
        names = sdk()
        if isinstance(exc, names.UnretryableException):
            inner = getattr(exc, "inner_exception", None)
            if isinstance(inner, (RuntimeError, ValueError)) and "json" in str(inner).lower():
                code, message = MALFORMED, "the answer is not JSON (%s)" % _clip(inner, 120)
            else:
                code = "NetworkError"
                message = "connection failed (%s)" % type(inner or exc).__name__
    except ImportError:
        pass
    return CloudError(action, region, code or type(exc).__name__, message, transient, status_of(exc))


# -- credentials ------------------------------------------------------------------------------

def credentials(account, env=None):
    """(Config kwargs, where they came from); CredentialsError when there are none.

    ``env(name)`` reads Func's environment variables (``DFF.ENV``).
    """
    if account.access_key_id and account.access_key_secret:
        kwargs = {"access_key_id": account.access_key_id,
                  "access_key_secret": redact.register_secret(account.access_key_secret)}
        if account.security_token:
            kwargs["security_token"] = redact.register_secret(account.security_token)
        return kwargs, "account"
    if callable(env):
        key_id = env("ALIBABA_CLOUD_ACCESS_KEY_ID")
        secret = env("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        token = env("ALIBABA_CLOUD_SECURITY_TOKEN")
        if key_id and secret:
            kwargs = {"access_key_id": key_id, "access_key_secret": redact.register_secret(secret)}
            if token:
                kwargs["security_token"] = redact.register_secret(token)
            return kwargs, "DFF.ENV"
    try:
        from alibabacloud_credentials.client import Client as CredentialsClient
        chain = CredentialsClient()
        found = chain.get_credential()
    except Exception as exc:  # noqa: BLE001 - every provider failed: say so, clearly
        raise CredentialsError(
            "no Alibaba Cloud credentials: fill in aliyun_access_key_id / aliyun_access_key_secret in the "
            "startup script's account, set DFF.ENV ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET, "
            "or give the Func host a RAM role (credentials chain: %s)" % redact.redact(_clip(exc, 200)))
    redact.register_secret(getattr(found, "access_key_secret", None))
    redact.register_secret(getattr(found, "security_token", None))
    return {"credential": chain}, "credentials chain"


# -- the client -------------------------------------------------------------------------------

class Cloud(object):
    """SDK clients, retries, the degraded-region breaker, call counts and the thread pool of one run."""

    def __init__(self, account, deadline=None, env=None, workers=POOL_WORKERS):
        self.account = account
        self.deadline = deadline or retry.Deadline(None)
        self.calls = {}                 # action -> HTTP attempts
        self.retries = 0
        self.failed_regions = {}        # region (or "cms") -> reason: degraded for the rest of the run
        self.unavailable = None         # why no call can be made (no SDK, no credentials)
        self.credential_source = None
        self._failures = {}
        self._clients = {}
        self._lock = threading.Lock()
        self._creds = {}
        self.pool = futures.ThreadPoolExecutor(max_workers=max(1, int(workers)))
        try:
            sdk()
        except ImportError as exc:
            self.unavailable = ("the Alibaba Cloud SDK is not installed (%s); install %s with Func's PIP tool"
                                % (exc, SDK_REQUIREMENTS))
            return
        try:
            self._creds, self.credential_source = credentials(account, env)
        except CredentialsError as exc:
            self.unavailable = str(exc)

    def close(self):
        self.pool.shutdown(wait=True)

    def submit(self, fn, *args):
        return self.pool.submit(logs.bind(fn), *args)

    # -- plumbing ------------------------------------------------------------------------

    def client(self, product, region):
        key = (product, region)
        with self._lock:
            existing = self._clients.get(key)
        if existing is not None:
            return existing
        names = sdk()
        kwargs = dict(self._creds)
        kwargs.update(region_id=region or DEFAULT_CMS_REGION,
                      connect_timeout=int(CONNECT_TIMEOUT_S * 1000), read_timeout=int(READ_TIMEOUT_S * 1000))
        endpoint = self.account.endpoints.get(product)
        if endpoint:
            host, protocol = endpoint
            kwargs["endpoint"] = host.replace("{region}", region or DEFAULT_CMS_REGION)
            kwargs["protocol"] = protocol
        config = names.Config(**kwargs)
        made = names.EcsClient(config) if product == "ecs" else names.CmsClient(config)
        with self._lock:
            return self._clients.setdefault(key, made)

    def _count(self, action):
        with self._lock:
            self.calls[action] = self.calls.get(action, 0) + 1

    def _on_retry(self, attempt, exc, delay):
        with self._lock:
            self.retries += 1

    def call(self, product, action, region, send, expect=None):
        """``send(client, runtime)`` -> the answer's body as a dict, retried; CloudError otherwise.

        ``expect``: the (outer, inner) keys of the list the answer must hold (``("Instances",
        "Instance")``); an answer without it is ``MalformedAnswer``, retried like a transient failure.
        """
        if self.unavailable:
            raise CloudError(action, region, "Unavailable", self.unavailable)
        breaker = region or product
        with self._lock:
            degraded = self.failed_regions.get(breaker)
        if degraded:
            raise CloudError(action, region, "RegionDegraded", "not called: %s kept failing this run (%s)"
                             % (breaker, degraded), transient=True)
        names = sdk()
        client = self.client(product, region)

        def once():
            if self.deadline.expired():
                raise CloudError(action, region, "DeadlineExceeded", "the run's time budget is spent")
            runtime = names.RuntimeOptions(read_timeout=int(self.deadline.cap(READ_TIMEOUT_S) * 1000),
                                           connect_timeout=int(self.deadline.cap(CONNECT_TIMEOUT_S) * 1000))
            self._count(action)
            body = send(client, runtime)
            if expect and not _holds(body, *expect):
                raise CloudError(action, region, MALFORMED, "the answer has no %s.%s list" % expect, transient=True)
            return body

        try:
            body = retry.call(once, classify, self.deadline, attempts=ATTEMPTS, base_delay=BASE_DELAY,
                              max_delay=MAX_DELAY, on_retry=self._on_retry)
        except Exception as exc:  # noqa: BLE001 - every SDK failure becomes a CloudError
            error = to_cloud_error(action, region, exc)
            if error.transient:
                with self._lock:
                    self._failures[breaker] = self._failures.get(breaker, 0) + 1
                    if self._failures[breaker] >= BREAKER_FAILURES and breaker not in self.failed_regions:
                        self.failed_regions[breaker] = error.reason
            raise error
        with self._lock:
            self._failures[breaker] = 0
        return body

    # -- ECS -----------------------------------------------------------------------------

    def describe_instances(self, region, **params):
        """Every instance of the region matching ``params`` (DescribeInstances, MaxResults 100 + NextToken): a Listing."""
        names = sdk()
        found = Listing()
        seen, tokens = set(), set()
        token = None
        for _ in range(MAX_PAGES):
            request = names.ecs.DescribeInstancesRequest(region_id=region, max_results=100, next_token=token,
                                                         **params)
            body = self.call("ecs", "DescribeInstances", region,
                             lambda client, runtime: client.describe_instances_with_options(
                                 request, runtime).body.to_map(), expect=("Instances", "Instance"))
            page = [item for item in _listed(body, "Instances", "Instance") if isinstance(item, dict)]
            ids = set(item.get("InstanceId") for item in page)
            if page and ids <= seen:
                found.gap("DescribeInstances paging repeats itself (a page of instances already listed)")
                return found
            seen |= ids
            found.extend(page)
            token = body.get("NextToken")
            if not token:
                return found
            if token in tokens:
                found.gap("DescribeInstances paging repeats itself (a NextToken seen before)")
                return found
            tokens.add(token)
        found.gap("DescribeInstances paging stopped at %d pages of 100" % MAX_PAGES)
        return found

    def postpaid_instances(self, region):
        """Every pay-as-you-go (hence every spot) instance of the region (direct mode's listing)."""
        return self.describe_instances(region, instance_charge_type="PostPaid")

    def recycling_instances(self, region):
        """Instances of the region locked for release (``LockReason=Recycling``)."""
        return self.describe_instances(region, lock_reason="Recycling")

    def instances_by_id(self, region, instance_ids):
        """The instances that still exist among ``instance_ids`` (batches of 100): a Listing."""
        found = Listing()
        ids = sorted(set(instance_ids))
        for start in range(0, len(ids), INSTANCE_IDS_BATCH):
            batch = self.describe_instances(region, instance_ids=json.dumps(ids[start:start + INSTANCE_IDS_BATCH]))
            found.extend(batch)
            for gap in batch.gaps:
                found.gap(gap)
        return found

    def price_history(self, region, instance_type, os_type, start_ms, end_ms):
        """``(currency, Listing of [timestamp_ms, zone, spot, origin])`` for every zone (Offset / NextOffset paging)."""
        names = sdk()
        points = Listing()
        seen = set()
        currency = None
        offset = 0
        for _ in range(MAX_PAGES):
            request = names.ecs.DescribeSpotPriceHistoryRequest(
                region_id=region, network_type="vpc", instance_type=instance_type, io_optimized="optimized",
                ostype=os_type or "linux", start_time=clock.iso(clock.from_ms(start_ms)),
                end_time=clock.iso(clock.from_ms(end_ms)), offset=offset or None)
            body = self.call("ecs", "DescribeSpotPriceHistory", region,
                             lambda client, runtime: client.describe_spot_price_history_with_options(
                                 request, runtime).body.to_map(), expect=("SpotPrices", "SpotPriceType"))
            currency = body.get("Currency") or currency
            page = [prices.point_from_api(item) for item in _listed(body, "SpotPrices", "SpotPriceType")
                    if isinstance(item, dict)]
            page = [point for point in page if point is not None]
            keys = set((point[0], point[1]) for point in page)
            if page and keys <= seen:
                points.gap("DescribeSpotPriceHistory paging repeats itself (a page of prices already listed)")
                return currency, points
            seen |= keys
            points.extend(page)
            try:
                next_offset = int(body.get("NextOffset") or 0)
            except (TypeError, ValueError):
                next_offset = 0
            if not page or next_offset <= offset:
                return currency, points
            offset = next_offset
        points.gap("DescribeSpotPriceHistory paging stopped at %d pages" % MAX_PAGES)
        return currency, points

    def spot_advice(self, region, instance_types):
        """{type: {zone: {discount, rate, desc}}} for at most 10 types (30-day statistics)."""
        names = sdk()
        wanted = list(instance_types)[:ADVICE_BATCH]
        request = names.ecs.DescribeSpotAdviceRequest(region_id=region, instance_types=wanted)
        body = self.call("ecs", "DescribeSpotAdvice", region,
                         lambda client, runtime: client.describe_spot_advice_with_options(
                             request, runtime).body.to_map(), expect=("AvailableSpotZones", "AvailableSpotZone"))
        out = dict((t, {}) for t in wanted)
        for zone, resource in _advice_items(body):
            if resource["type"] in out:
                out[resource["type"]][zone] = resource["figures"]
        return out

    def same_spec(self, region, cores, memory_gib):
        """[{type, zone, discount, rate, desc}] of the types with exactly these vCPUs and memory."""
        names = sdk()
        request = names.ecs.DescribeSpotAdviceRequest(region_id=region, cores=int(cores), memory=float(memory_gib))
        body = self.call("ecs", "DescribeSpotAdvice", region,
                         lambda client, runtime: client.describe_spot_advice_with_options(
                             request, runtime).body.to_map(), expect=("AvailableSpotZones", "AvailableSpotZone"))
        out = []
        for zone, resource in _advice_items(body):
            row = dict(resource["figures"])
            row.update(type=resource["type"], zone=zone)
            out.append(row)
        return out

    def stock(self, region):
        """{"zones": {zone: category}, "types": {zone: {type: category}}} for spot (PostPaid) instances."""
        names = sdk()
        request = names.ecs.DescribeAvailableResourceRequest(
            region_id=region, destination_resource="InstanceType", instance_charge_type="PostPaid",
            spot_strategy=STOCK_STRATEGY)
        body = self.call("ecs", "DescribeAvailableResource", region,
                         lambda client, runtime: client.describe_available_resource_with_options(
                             request, runtime).body.to_map(), expect=("AvailableZones", "AvailableZone"))
        zones = {}
        by_type = {}
        for zone in _listed(body, "AvailableZones", "AvailableZone"):
            if not isinstance(zone, dict) or not zone.get("ZoneId"):
                continue
            zone_id = zone["ZoneId"]
            zones[zone_id] = stock_category(zone)
            table = by_type.setdefault(zone_id, {})
            for resource in _listed(zone, "AvailableResources", "AvailableResource"):
                if not isinstance(resource, dict) or resource.get("Type") not in (None, "InstanceType"):
                    continue
                for supported in _listed(resource, "SupportedResources", "SupportedResource"):
                    if isinstance(supported, dict) and supported.get("Value"):
                        table[supported["Value"]] = stock_category(supported)
        return {"zones": zones, "types": by_type}

    # -- CloudMonitor ---------------------------------------------------------------------

    def interruption_events(self, start_ms, end_ms):
        """Spot interruption notices of every region in [start_ms, end_ms] (CMS DescribeSystemEventAttribute): a Listing."""
        names = sdk()
        events = Listing()
        seen = set()
        for page_number in range(1, MAX_PAGES + 1):
            request = names.cms.DescribeSystemEventAttributeRequest(
                product="ECS", name=SPOT_EVENT, event_type="StatusNotification", start_time=str(int(start_ms)),
                end_time=str(int(end_ms)), page_number=page_number, page_size=100)
            body = self.call("cms", "DescribeSystemEventAttribute", None,
                             lambda client, runtime: client.describe_system_event_attribute_with_options(
                                 request, runtime).body.to_map(), expect=("SystemEvents", "SystemEvent"))
            if str(body.get("Success", "true")).lower() == "false":
                raise CloudError("DescribeSystemEventAttribute", None, body.get("Code") or "Failed",
                                 body.get("Message") or "the answer says Success=false")
            page = _listed(body, "SystemEvents", "SystemEvent")
            ids = set(json.dumps(item, sort_keys=True, default=str) if not (isinstance(item, dict) and item.get("Id"))
                      else item["Id"] for item in page)
            if page and ids <= seen:
                events.gap("DescribeSystemEventAttribute paging repeats itself (a page of events already listed)")
                return events
            seen |= ids
            for item in page:
                event = parse_event(item)
                if event is not None:
                    events.append(event)
            if len(page) < 100:
                return events
        events.gap("DescribeSystemEventAttribute paging stopped at %d pages of 100" % MAX_PAGES)
        return events


def _holds(body, outer, inner):
    """True when the answer holds its list: ``{outer: {inner: [...]}}`` (or ``{outer: [...]}``)."""
    value = body.get(outer) if isinstance(body, dict) else None
    if isinstance(value, dict):
        value = value.get(inner)
    return isinstance(value, list)


def _listed(body, outer, inner):
    value = (body or {}).get(outer)
    if isinstance(value, dict):
        value = value.get(inner)
    return value if isinstance(value, list) else []


def _advice_items(body):
    for zone in _listed(body, "AvailableSpotZones", "AvailableSpotZone"):
        if not isinstance(zone, dict) or not zone.get("ZoneId"):
            continue
        for resource in _listed(zone, "AvailableSpotResources", "AvailableSpotResource"):
            if not isinstance(resource, dict) or not resource.get("InstanceType"):
                continue
            yield zone["ZoneId"], {"type": resource["InstanceType"], "figures": {
                "discount": inventory.number(resource.get("AverageSpotDiscount")),
                "rate": inventory.number(resource.get("InterruptionRate")),
                "desc": resource.get("InterruptRateDesc") or None}}


def stock_category(entry):
    """``WithStock`` / ``ClosedWithStock`` / ``WithoutStock`` / ``ClosedWithoutStock`` (from Status when absent)."""
    category = entry.get("StatusCategory")
    if category:
        return category
    status = entry.get("Status")
    if status == "Available":
        return "WithStock"
    if status == "SoldOut":
        return "WithoutStock"
    return None


def parse_event(item):
    """{instance_id, region_id, time_ms, instance_name, action} of a CMS system event; None when unusable."""
    if not isinstance(item, dict):
        return None
    content = item.get("Content")
    if isinstance(content, str):
        try:
            content = json.loads(content)
        except ValueError:
            content = {}
    content = content if isinstance(content, dict) else {}
    resource = str(item.get("ResourceId") or "")
    instance_id = content.get("instanceId") or content.get("InstanceId")
    if not instance_id and "instance/" in resource:
        instance_id = resource.rsplit("instance/", 1)[1]
    region = item.get("RegionId")
    if not region and resource.startswith("acs:ecs:"):
        parts = resource.split(":")
        region = parts[2] if len(parts) > 2 else None
    try:
        time_ms = int(float(item.get("Time")))
    except (TypeError, ValueError):
        time_ms = None
    if not instance_id:
        return None
    return {"instance_id": instance_id, "region_id": region or None, "time_ms": time_ms,
            "instance_name": item.get("InstanceName") or None, "action": content.get("action"),
            "event_id": item.get("Id")}
