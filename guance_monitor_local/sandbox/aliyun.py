"""Alibaba Cloud ECS (2014-05-26) and CloudMonitor / CMS (2019-01-01) as the sandbox plays them.

The official Python SDK (``alibabacloud-ecs20140526``, ``alibabacloud-cms20190101`` on
``alibabacloud-tea-openapi`` 0.4.x) talks to these services for real over HTTP:
point its ``Config`` at ``endpoint=sandbox.endpoint, protocol='http'``. Requests
are recognised by ``x-acs-action`` + ``x-acs-version`` (``2014-05-26`` = ECS,
``2019-01-01`` = CMS), or by the ``Action`` / ``Version`` query parameters.

Authentication
    Only ACS3-HMAC-SHA256 (the SDK's default) is emulated, and checked exactly as the
    SDK computes it: canonical request = method, path, canonical query (sorted,
    values percent-encoded with only ``~`` safe), the headers named in
    ``SignedHeaders`` with their received values, the signed-header list, and
    ``x-acs-content-sha256`` (which must be the SHA-256 of the body). Every received
    ``x-acs-*`` header and ``host`` must be signed; a nonce may be used once.

    ====================================================  ======  ==============================
    case                                                  status  Code
    ====================================================  ======  ==============================
    no ``Authorization`` header                           400     IncompleteSignature
    legacy v2 (``Signature`` query param) / other algo    400     InvalidSignatureMethod
    ``Authorization`` lacks Credential / SignedHeaders
    / Signature, or an ``x-acs-*`` header is unsigned     400     IncompleteSignature
    AccessKey ID other than the scenario's                404     InvalidAccessKeyId.NotFound
    wrong signature or content hash                       400     SignatureDoesNotMatch
    nonce seen before                                     400     SignatureNonceUsed
    ====================================================  ======  ==============================

    Error messages never contain the AccessKey secret. The request time
    (``x-acs-date``) is not checked against the clock: the sandbox clock is the
    scenario's, the SDK signs with the real time.

Errors
    Body ``{"RequestId", "HostId", "Code", "Message", "Recommend"}``, header
    ``x-acs-request-id``. ``error(..., retry_after=seconds)`` adds
    ``x-acs-retry-after`` in **milliseconds** (integer); the SDK then raises
    ``ThrottlingException`` (with ``retry_after`` in ms) instead of
    ``ClientException`` / ``ServerException``. Without a code an injected fault
    gets ``Throttling.User`` (429), ``InternalError`` (500), ``ServiceUnavailable``
    (502-504), else ``Sandbox.InjectedFault``. A throttling fault as ECS sends it
    is ``{"status": 400, "code": "Throttling.User"}``.

    Unknown action: 404 ``InvalidAction.NotFound``. Missing ``RegionId``: 400
    ``MissingRegionId``; other missing required parameters: 400
    ``Missing<Name>`` ("<Name> is mandatory for this action."), except
    ``DestinationResource`` of DescribeAvailableResource: 400 ``Invalid.Param``
    (its documented code). A region not in ``scenario.aliyun`` answers with the
    code each API documents (all contain ``RegionId``):

    - DescribeInstances: 404 ``InvalidRegionId.NotFound`` (what ECS returns in the wild);
    - DescribeSpotPriceHistory: 400 ``InvalidParams.RegionId``;
    - DescribeSpotAdvice, DescribeAvailableResource: 404 ``Invalid.RegionId``.

    ``DryRun=true`` (DescribeInstances) answers 400 ``DryRunOperation`` as ECS does.

    An ``endless`` fault (``sandbox.faults``) makes paging never end: ``DescribeInstances``
    always gives a ``NextToken`` (and, paged by number, a ``TotalCount`` beyond the page),
    ``DescribeSpotPriceHistory`` always ``NextOffset = Offset + 1000``, and their pages and CMS
    pages wrap around the matching objects, so that they are full whenever anything matches.

Scenario data (``scenario.aliyun[region]``)
    Objects are answered as given, minus keys starting with ``_``: those are
    sandbox-only controls, stripped from every answer, at any depth.

    - ``_visible_from`` / ``_visible_until`` (ISO time or epoch ms) on any listed
      object (instance, price point, advice zone, available zone, system event):
      it exists only while ``_visible_from <= now < _visible_until`` on the
      scenario clock (``sandbox.now_ms()``), so a released instance disappears on
      a later run.
    - region key ``_currency``: DescribeSpotPriceHistory ``Currency`` (default CNY).
    - region key ``_zones``: extra zone IDs that exist in the region (the zones of
      every listed object exist anyway); DescribeSpotPriceHistory rejects a
      ``ZoneId`` outside them with 400 ``InvalidZoneId.NotFound``.
    - price points: ``_os_type`` (or ``OSType``) and ``_spot_duration`` (or
      ``SpotDuration``) make the ``OSType`` / ``SpotDuration`` filters apply; a point
      without the key matches any value. ``NetworkType`` / ``IoOptimized`` filter
      the same way on the point's own fields.
    - spot advice resources (``AvailableSpotResource``): ``_cores`` (vCPUs),
      ``_memory`` (GiB), ``_family`` (default: the first two dot-parts of
      ``InstanceType``), ``_family_level`` (EntryLevel / EnterpriseLevel /
      CreditEntryLevel), ``_gpu_spec``, ``_gpu_amount``. A resource without the key
      a filter needs does not match that filter.
    - available zones (``AvailableZone``) and their ``SupportedResource`` entries:
      ``_instance_charge_type``, ``_spot_strategy``, ``_spot_duration``,
      ``_io_optimized``, ``_network_category`` (a value or a list of values). When
      present they must match the request, with the API's defaults for what the
      request omits (PostPaid, NoSpot, optimized); when absent the entry matches
      any request.
    - system events: ``_event_type`` (or ``EventType``) for the ``EventType``
      filter; an event without it matches any EventType (the answer's SystemEvent
      has no such field).

    Filled in when missing: ``RegionId`` of an AvailableZone and of a SystemEvent.
    A SystemEvent ``Time`` given as ISO text is answered in epoch ms, a
    ``Content`` given as an object is answered as its JSON string (the API's types).

Actions and their documented choices
    ECS ``DescribeInstances``
        Filters ZoneId, InstanceIds (JSON array, <= 100; ``[]`` matches nothing),
        InstanceType, InstanceTypeFamily (field, else derived from InstanceType),
        InstanceChargeType, Status, LockReason (``OperationLocks.LockReason[]``),
        InstanceName (``*`` wildcard), Tag.N.Key / Tag.N.Value (N <= 20), VpcId,
        VSwitchId, ImageId, ResourceGroupId, KeyPairName. Scenario order.
        Paging: with ``NextToken`` or ``MaxResults``, token paging: MaxResults
        below 10 counts as 10 and above 100 as 100 (the SDK model's documented
        behaviour), ``NextToken`` is opaque (32 hex characters, bound to the
        filters) and empty on the last page; ``TotalCount`` is still the full
        count. Otherwise ``PageNumber`` (default 1) / ``PageSize`` (1-100, default
        10; out of range: 400 InvalidParameter) and ``NextToken`` "".
    ECS ``DescribeSpotPriceHistory``
        StartTime / EndTime strictly ``yyyy-MM-ddTHH:mm:ssZ``; EndTime defaults to
        now, StartTime to EndTime - 3 h; StartTime > EndTime or a span over 30
        days: 400 InvalidParams.StartTime; bad EndTime: InvalidParams.EndTime. An
        EndTime after now is accepted (points after now are never answered).
        Points in [StartTime, EndTime] and <= now, ordered by ascending
        Timestamp (the documented example), ties by ZoneId. Pages of **1000
        points** from ``Offset``; ``NextOffset`` = Offset + 1000 while points
        remain, else 0.
    ECS ``DescribeSpotAdvice``
        ``InstanceTypes.N`` (<= 10, else 400 InvalidParameter); Cores / Memory
        (exact) and MinCores / MinMemory (at least) from ``_cores`` / ``_memory``;
        InstanceTypeFamily, InstanceFamilyLevel, GpuSpec, GpuAmount; ZoneId.
        Scenario order; zones left without resources are omitted.
    ECS ``DescribeAvailableResource``
        DestinationResource one of Zone, IoOptimized, InstanceType, SystemDisk,
        DataDisk, Network, ddh (else 404 Invalid.DestinationResource). The
        zone's AvailableResource entries of that Type are answered; for ``Zone``
        without such entries one is derived from the zone's own Status (or, with
        ``InstanceType``, from that type's SupportedResource). ``InstanceType``
        filters SupportedResource.Value. Cores / Memory are accepted and ignored
        (the scenario carries no per-type sizes here). A zone whose list is empty
        in the scenario stays (sold out); a zone emptied by the filters is left out.
    CMS ``DescribeSystemEventAttribute``
        Events of every region (or of ``RegionId`` when given). Filters Product,
        Level, Status (case-insensitive), EventType, Name, GroupId, SearchKeywords
        (case-insensitive substring of Content; ``a and b`` / ``a or b``),
        StartTime / EndTime (epoch ms, inclusive). Only ``Time <= now``. Newest
        first. PageNumber (>= 1, default 1) / PageSize (1-100, default 10); out of
        range: 400 InvalidParameter. Answer ``Code`` "200", ``Success`` "true",
        ``Message`` "success" (the documented success message).
"""
import collections
import hashlib
import hmac
import json
import re
import threading
import uuid
from urllib.parse import parse_qsl, quote

from guance_monitor import clock
from guance_monitor_local.sandbox.http import Response

ECS_VERSION = "2014-05-26"
CMS_VERSION = "2019-01-01"
SIGN_ALGORITHM = "ACS3-HMAC-SHA256"

HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS
PRICE_PAGE = 1000
_NONCE_MEMORY = 100000

_ONLY_V3 = ("the sandbox emulates only ACS3-HMAC-SHA256, the SDK's default signature "
            "(leave Config.signature_algorithm unset)")

_DEFAULT_FAULTS = {
    429: ("Throttling.User", "Request was denied due to user flow control."),
    500: ("InternalError", "The request processing has failed due to some unknown error, exception or failure."),
    502: ("ServiceUnavailable", "The request has failed due to a temporary failure of the server."),
    503: ("ServiceUnavailable", "The request has failed due to a temporary failure of the server."),
    504: ("ServiceUnavailable", "The request has failed due to a temporary failure of the server."),
}
_KNOWN_MESSAGES = {
    "Throttling": "Request was denied due to request throttling.",
    "Throttling.User": "Request was denied due to user flow control.",
    "Throttling.Api": "Request was denied due to api flow control.",
    "ServiceUnavailable": "The request has failed due to a temporary failure of the server.",
    "InternalError": "The request processing has failed due to some unknown error, exception or failure.",
}

_SPH_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_INSTANCE_TYPES_N = re.compile(r"^InstanceTypes\.(\d+)$")
_TAG_N = re.compile(r"^Tag\.(\d+)\.(Key|Value|key|value)$")

# Parameters that are not filters: left out of the NextToken binding.
_NOT_FILTERS = {"NextToken", "MaxResults", "PageNumber", "PageSize", "Action", "Version", "Format", "Timestamp",
                "SignatureNonce", "SignatureMethod", "SignatureVersion", "AccessKeyId", "Signature",
                "SecurityToken", "SignatureType", "BearerToken"}


class AliyunError(Exception):
    """An Alibaba Cloud API error: rendered by ``AliyunService.error``."""

    def __init__(self, status, code, message):
        Exception.__init__(self, "%s %s: %s" % (status, code, message))
        self.status = status
        self.code = code
        self.message = message


def _missing(name):
    if name == "RegionId":
        return AliyunError(400, "MissingRegionId", "RegionId is mandatory for this action.")
    return AliyunError(400, "Missing" + name, "%s is mandatory for this action." % name)


def _invalid(name, detail=None, code="InvalidParameter", status=400):
    text = 'The specified parameter "%s" is not valid.' % name
    if detail:
        text += " " + detail
    return AliyunError(status, code, text)


def public(value):
    """A deep copy of ``value`` without the sandbox-only ``_`` keys."""
    if isinstance(value, dict):
        return {k: public(v) for k, v in value.items() if not (isinstance(k, str) and k.startswith("_"))}
    if isinstance(value, list):
        return [public(v) for v in value]
    return value


def _wrapped(obj, outer, inner):
    """``obj[outer][inner]`` (the API's list wrapper), also accepting a bare list at ``obj[outer]``."""
    value = obj.get(outer)
    if isinstance(value, dict):
        value = value.get(inner)
    return value if isinstance(value, list) else []


def _as_list(value):
    if value is None:
        return None
    return value if isinstance(value, list) else [value]


def _field(obj, name, control):
    """The value of API field ``name``, else of the sandbox control ``control``; None when neither."""
    if name in obj:
        return obj[name]
    return obj.get(control)


def _truthy(value):
    return str(value).strip().lower() in ("true", "1", "yes")


def _family_of(instance_type):
    parts = (instance_type or "").split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else instance_type


def _page(items, offset, size, endless=False):
    """``items[offset:offset + size]``; ``endless``: wrapping around, always full when there are items."""
    if not endless:
        return items[offset:offset + size]
    if not items:
        return []
    return [items[(offset + index) % len(items)] for index in range(size)]


def _request_id():
    return str(uuid.uuid4()).upper()


class AliyunService:
    """Shared machinery of the ECS and CMS stand-ins: routing, signature check, errors."""

    name = None
    version = None
    product = None          # for the error body's Recommend link
    default_host = None
    actions = {}            # API action -> method name

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self._nonces = set()
        self._nonce_order = collections.deque()
        self._lock = threading.Lock()

    @classmethod
    def for_sandbox(cls, sandbox):
        """The Alibaba Cloud services of a sandbox: ``[EcsService, CmsService]``."""
        return [EcsService(sandbox), CmsService(sandbox)]

    # -- service interface -----------------------------------------------------------------

    def identify(self, request):
        params = self.params(request)
        action = request.header("x-acs-action") or params.get("Action")
        version = request.header("x-acs-version") or params.get("Version")
        if not action or version != self.version:
            return None
        return action, (params.get("RegionId") or None)

    def handle(self, request, action):
        try:
            self.authenticate(request)
            method = self.actions.get(action)
            if method is None:
                raise AliyunError(404, "InvalidAction.NotFound",
                                  "Specified api is not found, please check your url and method.")
            result = getattr(self, method)(self.params(request))
        except AliyunError as exc:
            return self.error(request, exc.status, exc.code, exc.message)
        request_id = _request_id()
        body = {"RequestId": request_id}
        body.update(result)
        return Response(200, body, {"x-acs-request-id": request_id})

    def error(self, request, status, code=None, message=None, retry_after=None, headers=None):
        default_code, default_message = _DEFAULT_FAULTS.get(status, ("Sandbox.InjectedFault", None))
        code = code or default_code
        message = message or _KNOWN_MESSAGES.get(code) or default_message or (
            "The sandbox answered with HTTP %d." % status)
        request_id = _request_id()
        host = (request.header("host") if request is not None else None) or self.default_host
        body = {
            "RequestId": request_id,
            "HostId": host,
            "Code": code,
            "Message": self._scrub(message),
            "Recommend": "https://api.aliyun.com/troubleshoot?q=%s&product=%s&requestId=%s"
                         % (code, self.product, request_id),
        }
        out_headers = {"x-acs-request-id": request_id}
        if retry_after is not None:
            out_headers["x-acs-retry-after"] = str(int(round(float(retry_after) * 1000)))
        if headers:
            out_headers.update(headers)
        return Response(status, body, out_headers)

    # -- request parts ---------------------------------------------------------------------

    @staticmethod
    def params(request):
        """The API parameters: form body (if any) overlaid by the query string."""
        params = {}
        content_type = (request.header("content-type") or "").lower()
        if request.body and content_type.startswith("application/x-www-form-urlencoded"):
            try:
                params.update(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))
            except UnicodeDecodeError:
                pass
        params.update(request.query)
        return params

    @property
    def access_key_id(self):
        return self.sandbox.scenario.sandbox["aliyun_access_key_id"]

    @property
    def access_key_secret(self):
        return self.sandbox.scenario.sandbox["aliyun_access_key_secret"]

    def _scrub(self, text):
        secret = self.access_key_secret
        if secret and isinstance(text, str):
            text = text.replace(secret, "***")
        return text

    def now(self):
        return self.sandbox.now_ms()

    def endless(self):
        """Whether an ``endless`` fault is in force for this request: paging never ends."""
        effect = getattr(self.sandbox, "effect", None)
        return bool(effect is not None and effect("endless"))

    # -- ACS3-HMAC-SHA256 ------------------------------------------------------------------

    def authenticate(self, request):
        """Raise AliyunError unless the request carries a valid ACS3-HMAC-SHA256 signature."""
        authorization = (request.header("authorization") or "").strip()
        if not authorization:
            if "Signature" in request.query or "SignatureMethod" in request.query:
                raise AliyunError(400, "InvalidSignatureMethod",
                                  "Legacy RPC signature (SignatureMethod=%s, SignatureVersion=%s) received: %s."
                                  % (request.query.get("SignatureMethod"), request.query.get("SignatureVersion"),
                                     _ONLY_V3))
            raise AliyunError(400, "IncompleteSignature",
                              "The request signature does not conform to Aliyun standards: no Authorization "
                              "header; %s." % _ONLY_V3)
        algorithm, _, rest = authorization.partition(" ")
        if algorithm != SIGN_ALGORITHM:
            raise AliyunError(400, "InvalidSignatureMethod",
                              "Signature algorithm %r is not supported: %s." % (algorithm[:40], _ONLY_V3))
        fields = {}
        for part in rest.split(","):
            key, sep, value = part.strip().partition("=")
            if sep:
                fields[key.strip()] = value.strip()
        absent = [k for k in ("Credential", "SignedHeaders", "Signature") if not fields.get(k)]
        if absent:
            raise AliyunError(400, "IncompleteSignature",
                              "The request signature does not conform to Aliyun standards: Authorization lacks "
                              "%s." % ", ".join(absent))
        if fields["Credential"] != self.access_key_id:
            raise AliyunError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        signed = [h.strip().lower() for h in fields["SignedHeaders"].split(";") if h.strip()]
        for needed in ("host", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"):
            if request.header(needed) is None:
                raise AliyunError(400, "IncompleteSignature",
                                  "The request signature does not conform to Aliyun standards: header %s is "
                                  "missing." % needed)
        unsigned = sorted(h for h in request.headers if (h == "host" or h.startswith("x-acs-")) and h not in signed)
        if unsigned:
            raise AliyunError(400, "IncompleteSignature",
                              "The request signature does not conform to Aliyun standards: header(s) %s must be "
                              "listed in SignedHeaders." % ", ".join(unsigned))
        payload_hash = request.header("x-acs-content-sha256").strip().lower()
        if payload_hash != hashlib.sha256(request.body or b"").hexdigest():
            raise AliyunError(400, "SignatureDoesNotMatch",
                              "Specified signature is not matched with our calculation: x-acs-content-sha256 is "
                              "not the SHA-256 of the request body.")
        string_to_sign = self.string_to_sign(request, signed, payload_hash)
        expected = hmac.new(self.access_key_secret.encode("utf-8"), string_to_sign.encode("utf-8"),
                            hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, fields["Signature"].lower()):
            raise AliyunError(400, "SignatureDoesNotMatch",
                              "Specified signature is not matched with our calculation. server string to sign "
                              "is:%s" % string_to_sign)
        self._use_nonce(fields["Credential"], request.header("x-acs-signature-nonce"))

    @staticmethod
    def canonical_request(request, signed_headers, payload_hash):
        pairs = sorted(parse_qsl(request.raw_query, keep_blank_values=True))
        query = "&".join("%s=%s" % (key, quote(value, safe="~", encoding="utf-8")) for key, value in pairs)
        headers = "".join("%s:%s\n" % (name, (request.header(name) or "").strip()) for name in signed_headers)
        return "\n".join([request.method, request.path or "/", query, headers, ";".join(signed_headers),
                          payload_hash])

    @classmethod
    def string_to_sign(cls, request, signed_headers, payload_hash):
        canonical = cls.canonical_request(request, signed_headers, payload_hash)
        return "%s\n%s" % (SIGN_ALGORITHM, hashlib.sha256(canonical.encode("utf-8")).hexdigest())

    def _use_nonce(self, access_key_id, nonce):
        key = (access_key_id, nonce)
        with self._lock:
            if key in self._nonces:
                raise AliyunError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
            self._nonces.add(key)
            self._nonce_order.append(key)
            while len(self._nonce_order) > _NONCE_MEMORY:
                self._nonces.discard(self._nonce_order.popleft())

    # -- scenario helpers ------------------------------------------------------------------

    def regions(self):
        return self.sandbox.scenario.aliyun

    def visible(self, obj, where):
        """Whether ``obj`` exists now on the scenario timeline; ``where()`` names it in errors."""
        now = self.now()
        for key in ("_visible_from", "_visible_until"):
            if obj.get(key) is None:
                continue
            try:
                at = clock.to_ms(clock.parse_time(obj[key]))
            except ValueError as exc:
                raise AliyunError(500, "Sandbox.BadScenario", "%s.%s: %s" % (where(), key, exc))
            if key == "_visible_from" and now < at:
                return False
            if key == "_visible_until" and now >= at:
                return False
        return True

    def listed(self, region, data, kind, keep=None):
        """(index, object) of the visible objects of ``scenario.aliyun[region][kind]`` that ``keep`` keeps.

        ``keep`` runs first, so that a cheap test (an instance type) spares the timeline checks.
        """
        items = data.get(kind) or []
        return [(index, item) for index, item in enumerate(items)
                if isinstance(item, dict) and (keep is None or keep(item)) and
                self.visible(item, lambda: "aliyun.%s.%s[%d]" % (region, kind, index))]

    @staticmethod
    def time_ms(value, where):
        try:
            return clock.to_ms(clock.parse_time(value))
        except ValueError as exc:
            raise AliyunError(500, "Sandbox.BadScenario", "%s: %s" % (where, exc))


class EcsService(AliyunService):
    name = "ecs"
    version = ECS_VERSION
    product = "Ecs"
    default_host = "ecs.aliyuncs.com"
    actions = {
        "DescribeInstances": "describe_instances",
        "DescribeSpotPriceHistory": "describe_spot_price_history",
        "DescribeSpotAdvice": "describe_spot_advice",
        "DescribeAvailableResource": "describe_available_resource",
    }
    region_errors = {
        "DescribeInstances": (404, "InvalidRegionId.NotFound"),
        "DescribeSpotPriceHistory": (400, "InvalidParams.RegionId"),
        "DescribeSpotAdvice": (404, "Invalid.RegionId"),
        "DescribeAvailableResource": (404, "Invalid.RegionId"),
    }

    def region(self, params, action):
        region = params.get("RegionId")
        if not region:
            raise _missing("RegionId")
        data = self.regions().get(region)
        if data is None:
            status, code = self.region_errors[action]
            raise AliyunError(status, code, "The specified RegionId does not exist.")
        return region, data

    @staticmethod
    def required(params, name):
        value = params.get(name)
        if value is None or value == "":
            raise _missing(name)
        return value

    @staticmethod
    def integer(params, name, default=None, code="InvalidParameter", minimum=None, maximum=None):
        value = params.get(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise _invalid(name, "Expected an integer, got %r." % value, code)
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            raise _invalid(name, "Expected %s..%s, got %d." % (minimum, maximum, number), code)
        return number

    @staticmethod
    def number(params, name, code="InvalidParameter"):
        value = params.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except ValueError:
            raise _invalid(name, "Expected a number, got %r." % value, code)

    @staticmethod
    def choice(params, name, allowed, status, code):
        value = params.get(name)
        if value is None or value == "":
            return None
        if value not in allowed:
            raise AliyunError(status, code, 'The specified %s "%s" is not valid (one of %s).'
                              % (name, value, ", ".join(allowed)))
        return value

    def zones_of(self, region, data):
        zones = set(data.get("_zones") or [])
        for kind in ("instances", "spot_price_history", "spot_advice", "available_resource"):
            for item in data.get(kind) or []:
                if isinstance(item, dict) and item.get("ZoneId"):
                    zones.add(item["ZoneId"])
        return zones

    # -- DescribeInstances -----------------------------------------------------------------

    def describe_instances(self, params):
        region, data = self.region(params, "DescribeInstances")
        status = self.choice(params, "Status", ("Pending", "Running", "Starting", "Stopping", "Stopped"),
                             404, "InvalidStatus.NotFound")
        lock = self.choice(params, "LockReason",
                           ("financial", "security", "Recycling", "dedicatedhostfinancial", "refunded"),
                           404, "InvalidLockReason.NotFound")
        charge = self.choice(params, "InstanceChargeType", ("PostPaid", "PrePaid"),
                             404, "InvalidInstanceChargeType.NotFound")
        instance_ids = None
        if params.get("InstanceIds") not in (None, ""):
            try:
                instance_ids = json.loads(params["InstanceIds"])
            except ValueError:
                instance_ids = None
            if not isinstance(instance_ids, list) or not all(isinstance(i, str) for i in instance_ids):
                raise _invalid("InstanceIds", "Expected a JSON array of instance IDs.")
            if len(instance_ids) > 100:
                raise _invalid("InstanceIds", "At most 100 instance IDs (got %d)." % len(instance_ids))
        tags = self.tag_filters(params)
        name_pattern = None
        if params.get("InstanceName"):
            name_pattern = re.compile("^" + ".*".join(re.escape(p) for p in params["InstanceName"].split("*"))
                                      + "$", re.S)
        if _truthy(params.get("DryRun", "false")):
            raise AliyunError(400, "DryRunOperation", "Request validation has been passed with DryRun flag set.")

        simple = [(key, params.get(key)) for key in ("ZoneId", "InstanceType", "ImageId", "ResourceGroupId",
                                                       "KeyPairName", "InstanceNetworkType")
                  if params.get(key) not in (None, "")]
        matched = []
        for _, instance in self.listed(region, data, "instances"):
            if any(instance.get(key) != value for key, value in simple):
                continue
            if status is not None and instance.get("Status") != status:
                continue
            if charge is not None and instance.get("InstanceChargeType") != charge:
                continue
            if instance_ids is not None and instance.get("InstanceId") not in instance_ids:
                continue
            if params.get("InstanceTypeFamily") and (
                    instance.get("InstanceTypeFamily") or _family_of(instance.get("InstanceType"))
            ) != params["InstanceTypeFamily"]:
                continue
            if lock is not None and lock not in [
                    (entry or {}).get("LockReason")
                    for entry in _wrapped(instance, "OperationLocks", "LockReason")]:
                continue
            if name_pattern is not None and not name_pattern.match(instance.get("InstanceName") or ""):
                continue
            vpc = instance.get("VpcAttributes") or {}
            if params.get("VpcId") and vpc.get("VpcId") != params["VpcId"]:
                continue
            if params.get("VSwitchId") and vpc.get("VSwitchId") != params["VSwitchId"]:
                continue
            if tags and not self.tags_match(instance, tags):
                continue
            matched.append(instance)

        answer = {}
        endless = self.endless()
        total = len(matched)
        if params.get("NextToken") or params.get("MaxResults") not in (None, ""):
            size = self.integer(params, "MaxResults", 10)
            size = min(max(size, 10), 100)
            binding = self.token_binding(params)
            offset = self.token_offset(params.get("NextToken"), binding)
            page = _page(matched, offset, size, endless)
            more = endless or offset + size < len(matched)
            answer["NextToken"] = self.token(binding, offset + size) if more else ""
            answer["PageNumber"] = offset // size + 1
            answer["PageSize"] = size
        else:
            number = self.integer(params, "PageNumber", 1, minimum=1)
            size = self.integer(params, "PageSize", 10, minimum=1, maximum=100)
            page = _page(matched, (number - 1) * size, size, endless)
            answer["NextToken"] = ""
            answer["PageNumber"] = number
            answer["PageSize"] = size
            if endless:
                total = max(total, (number + 1) * size)
        answer["TotalCount"] = total
        answer["Instances"] = {"Instance": public(page)}
        return answer

    @staticmethod
    def tag_filters(params):
        tags = {}
        for key, value in params.items():
            match = _TAG_N.match(key)
            if match:
                index = int(match.group(1))
                if index < 1 or index > 20:
                    raise AliyunError(400, "InvalidTagCount", "The specified tags are beyond the permitted range.")
                tags.setdefault(index, {})[match.group(2).lower()] = value
        for entry in tags.values():
            if not entry.get("key"):
                raise AliyunError(400, "InvalidTag.Mismatch",
                                  "The specified Tag.n.Key and Tag.n.Value are not match.")
        return [(entry["key"], entry.get("value")) for _, entry in sorted(tags.items())]

    @staticmethod
    def tags_match(instance, tags):
        have = {}
        for tag in _wrapped(instance, "Tags", "Tag"):
            if isinstance(tag, dict):
                have[tag.get("TagKey", tag.get("Key"))] = tag.get("TagValue", tag.get("Value"))
        for key, value in tags:
            if key not in have:
                return False
            if value not in (None, "") and have[key] != value:
                return False
        return True

    @staticmethod
    def token_binding(params):
        filters = sorted((k, v) for k, v in params.items() if k not in _NOT_FILTERS)
        return hashlib.sha256(json.dumps(filters).encode("utf-8")).hexdigest()[:24]

    @staticmethod
    def token(binding, offset):
        return "%s%08x" % (binding, offset)

    @staticmethod
    def token_offset(token, binding):
        if not token:
            return 0
        if len(token) != 32 or token[:24] != binding:
            raise _invalid("NextToken", "Use the NextToken of the previous answer, with the same filters.")
        try:
            return int(token[24:], 16)
        except ValueError:
            raise _invalid("NextToken", "Use the NextToken of the previous answer, with the same filters.")

    # -- DescribeSpotPriceHistory ----------------------------------------------------------

    def describe_spot_price_history(self, params):
        region, data = self.region(params, "DescribeSpotPriceHistory")
        network = self.required(params, "NetworkType")
        instance_type = self.required(params, "InstanceType")
        if network not in ("vpc", "classic"):
            raise _invalid("NetworkType", "Expected vpc or classic.", "InvalidParams.NetworkType")
        io = self.choice(params, "IoOptimized", ("optimized", "none"), 400, "InvalidParams.IoOptimized")
        os_type = self.choice(params, "OSType", ("linux", "windows"), 400, "InvalidParams.OSType")
        duration = params.get("SpotDuration")
        if duration not in (None, ""):
            try:
                duration = int(duration)
            except ValueError:
                duration = -1
            if not 0 <= duration <= 6:
                raise AliyunError(400, "InvalidSpotDuration", "The specified SpotDuration is not valid.")
        else:
            duration = None
        offset = self.integer(params, "Offset", 0, "InvalidParams.Offset", minimum=0)
        zone = params.get("ZoneId") or None
        if zone is not None and zone not in self.zones_of(region, data):
            raise AliyunError(400, "InvalidZoneId.NotFound", "The specified zone does not exist.")

        now = self.now()
        end = self.sph_time(params, "EndTime") if params.get("EndTime") else now
        start = self.sph_time(params, "StartTime") if params.get("StartTime") else end - 3 * HOUR_MS
        if start > end:
            raise _invalid("StartTime", "StartTime is later than EndTime.", "InvalidParams.StartTime")
        if end - start > 30 * DAY_MS:
            raise _invalid("StartTime", "StartTime may be at most 30 days before EndTime.",
                           "InvalidParams.StartTime")
        upper = min(end, now)

        points = []
        for index, point in self.listed(region, data, "spot_price_history",
                                        keep=lambda p: p.get("InstanceType") == instance_type):
            if zone is not None and point.get("ZoneId") != zone:
                continue
            if point.get("NetworkType") not in (None, network):
                continue
            if io is not None and point.get("IoOptimized") not in (None, io):
                continue
            point_os = _field(point, "OSType", "_os_type")
            if os_type is not None and point_os is not None and point_os != os_type:
                continue
            point_duration = _field(point, "SpotDuration", "_spot_duration")
            if duration is not None and point_duration is not None and int(point_duration) != duration:
                continue
            at = self.time_ms(point.get("Timestamp"),
                              "aliyun.%s.spot_price_history[%d].Timestamp" % (region, index))
            if start <= at <= upper:
                points.append((at, point.get("ZoneId") or "", index, point))
        points.sort(key=lambda item: item[:3])
        endless = self.endless()
        page = [item[3] for item in _page(points, offset, PRICE_PAGE, endless)]
        next_offset = offset + PRICE_PAGE if endless or offset + PRICE_PAGE < len(points) else 0
        return {
            "Currency": data.get("_currency") or "CNY",
            "NextOffset": next_offset,
            "SpotPrices": {"SpotPriceType": public(page)},
        }

    @staticmethod
    def sph_time(params, name):
        value = params[name]
        detail = "Expected yyyy-MM-ddTHH:mm:ssZ (UTC), got %r." % value
        if not _SPH_TIME.match(value):
            raise _invalid(name, detail, "InvalidParams." + name)
        try:
            return clock.to_ms(clock.parse_time(value))
        except ValueError:
            raise _invalid(name, detail, "InvalidParams." + name)

    # -- DescribeSpotAdvice ----------------------------------------------------------------

    def describe_spot_advice(self, params):
        region, data = self.region(params, "DescribeSpotAdvice")
        numbered = sorted((int(m.group(1)), v) for m, v in
                          ((_INSTANCE_TYPES_N.match(k), v) for k, v in params.items()) if m and v)
        if len(numbered) > 10:
            raise _invalid("InstanceTypes.N", "At most 10 instance types (got %d)." % len(numbered))
        types = set(v for _, v in numbered) or None
        cores = self.integer(params, "Cores")
        memory = self.number(params, "Memory")
        min_cores = self.integer(params, "MinCores")
        min_memory = self.number(params, "MinMemory")
        gpu_amount = self.integer(params, "GpuAmount")
        family = params.get("InstanceTypeFamily") or None
        level = params.get("InstanceFamilyLevel") or None
        gpu_spec = params.get("GpuSpec") or None
        zone = params.get("ZoneId") or None

        def keep(resource):
            instance_type = resource.get("InstanceType")
            if types is not None and instance_type not in types:
                return False
            if family is not None and (resource.get("_family") or _family_of(instance_type)) != family:
                return False
            checks = ((cores, "_cores", lambda have, want: float(have) == want),
                      (memory, "_memory", lambda have, want: abs(float(have) - want) < 1e-9),
                      (min_cores, "_cores", lambda have, want: float(have) >= want),
                      (min_memory, "_memory", lambda have, want: float(have) >= want - 1e-9),
                      (gpu_amount, "_gpu_amount", lambda have, want: float(have) == want),
                      (level, "_family_level", lambda have, want: have == want),
                      (gpu_spec, "_gpu_spec", lambda have, want: have == want))
            for want, key, test in checks:
                if want is not None and (resource.get(key) is None or not test(resource[key], want)):
                    return False
            return True

        zones = []
        for _, entry in self.listed(region, data, "spot_advice"):
            if zone is not None and entry.get("ZoneId") != zone:
                continue
            resources = [r for r in _wrapped(entry, "AvailableSpotResources", "AvailableSpotResource")
                         if isinstance(r, dict) and keep(r)]
            if not resources:
                continue
            out = public(entry)
            out["AvailableSpotResources"] = {"AvailableSpotResource": public(resources)}
            zones.append(out)
        return {"RegionId": region, "AvailableSpotZones": {"AvailableSpotZone": zones}}

    # -- DescribeAvailableResource ---------------------------------------------------------

    DESTINATIONS = ("Zone", "IoOptimized", "InstanceType", "SystemDisk", "DataDisk", "Network", "ddh")

    def describe_available_resource(self, params):
        region, data = self.region(params, "DescribeAvailableResource")
        destination = params.get("DestinationResource")
        if not destination:
            raise AliyunError(400, "Invalid.Param", "The input parameter DestinationResource that is mandatory "
                                                    "for processing this request is not supplied.")
        if destination not in self.DESTINATIONS:
            raise AliyunError(404, "Invalid.DestinationResource", "The specified DestinationResource is not valid.")
        wanted = {
            "_instance_charge_type": self.choice(params, "InstanceChargeType", ("PrePaid", "PostPaid"),
                                                 400, "Invalid.InstanceChargeType") or "PostPaid",
            "_spot_strategy": self.choice(params, "SpotStrategy", ("NoSpot", "SpotWithPriceLimit", "SpotAsPriceGo"),
                                          404, "Invalid.SpotStrategy") or "NoSpot",
            "_io_optimized": self.choice(params, "IoOptimized", ("none", "optimized"),
                                         404, "Invalid.IoOptimized") or "optimized",
            "_network_category": self.choice(params, "NetworkCategory", ("vpc", "classic"),
                                             404, "Invalid.NetworkCategory"),
            "_spot_duration": self.integer(params, "SpotDuration"),
        }
        # Cores / Memory are accepted and ignored: the scenario has no per-type sizes here.
        self.integer(params, "Cores")
        self.number(params, "Memory")
        instance_type = params.get("InstanceType") or None
        zone = params.get("ZoneId") or None

        def controls_match(obj):
            for key, want in wanted.items():
                have = _as_list(obj.get(key))
                if have is None or want is None:
                    continue
                if str(want) not in [str(h) for h in have]:
                    return False
            return True

        zones = []
        for _, entry in self.listed(region, data, "available_resource"):
            if zone is not None and entry.get("ZoneId") != zone:
                continue
            if not controls_match(entry):
                continue
            given = [r for r in _wrapped(entry, "AvailableResources", "AvailableResource") if isinstance(r, dict)]
            kept = []
            for resource in given:
                if resource.get("Type") != destination:
                    continue
                supported = [s for s in _wrapped(resource, "SupportedResources", "SupportedResource")
                             if isinstance(s, dict) and controls_match(s)]
                if instance_type is not None and destination == "InstanceType":
                    supported = [s for s in supported if s.get("Value") == instance_type]
                if not supported:
                    continue
                out = public(resource)
                out["SupportedResources"] = {"SupportedResource": public(supported)}
                kept.append(out)
            if destination == "Zone" and not kept and given:
                derived = self.derived_zone_resource(entry, given, instance_type, controls_match)
                if derived is not None:
                    kept.append(derived)
            if given and not kept:
                continue        # emptied by the filters; a zone sold out in the scenario (no list) stays
            out = public(entry)
            out.setdefault("RegionId", region)
            out["AvailableResources"] = {"AvailableResource": kept}
            zones.append(out)
        return {"AvailableZones": {"AvailableZone": zones}}

    @staticmethod
    def derived_zone_resource(entry, given, instance_type, controls_match):
        source = entry
        if instance_type is not None:
            source = None
            for resource in given:
                if resource.get("Type") != "InstanceType":
                    continue
                for supported in _wrapped(resource, "SupportedResources", "SupportedResource"):
                    if isinstance(supported, dict) and supported.get("Value") == instance_type \
                            and controls_match(supported):
                        source = supported
                        break
                if source is not None:
                    break
            if source is None:
                return None
        value = {"Value": entry.get("ZoneId")}
        for key in ("Status", "StatusCategory"):
            if source.get(key) is not None:
                value[key] = source[key]
        return {"Type": "Zone", "SupportedResources": {"SupportedResource": [value]}}


class CmsService(AliyunService):
    name = "cms"
    version = CMS_VERSION
    product = "Cms"
    default_host = "metrics.aliyuncs.com"
    actions = {
        "DescribeSystemEventAttribute": "describe_system_event_attribute",
    }

    def describe_system_event_attribute(self, params):
        integer = EcsService.integer
        number = integer(params, "PageNumber", 1, minimum=1)
        size = integer(params, "PageSize", 10, minimum=1, maximum=100)
        start = integer(params, "StartTime")
        end = integer(params, "EndTime")
        keywords = self.keyword_groups(params.get("SearchKeywords"))
        folded = {key: params[key].lower() for key in ("Product", "Level", "Status")
                      if params.get(key) not in (None, "")}
        exact = {key: params[key] for key in ("Name", "GroupId") if params.get(key) not in (None, "")}
        event_type = params.get("EventType") or None
        only_region = params.get("RegionId") or None
        now = self.now()

        events = []
        for region, data in self.regions().items():
            for index, event in self.listed(region, data, "system_events"):
                event_region = event.get("RegionId") or region
                if only_region is not None and event_region != only_region:
                    continue
                if any(str(event.get(key, "")).lower() != want for key, want in folded.items()):
                    continue
                if any(str(event.get(key, "")) != want for key, want in exact.items()):
                    continue
                kind = _field(event, "EventType", "_event_type")
                if event_type is not None and kind is not None and kind != event_type:
                    continue
                at = self.time_ms(event.get("Time"), "aliyun.%s.system_events[%d].Time" % (region, index))
                if at > now or (start is not None and at < start) or (end is not None and at > end):
                    continue
                content = event.get("Content")
                if not isinstance(content, str) and content is not None:
                    content = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
                if keywords and not self.keywords_match(content or "", keywords):
                    continue
                out = public(event)
                out.setdefault("RegionId", event_region)
                out["Time"] = at
                if content is not None:
                    out["Content"] = content
                events.append((-at, region, index, out))
        events.sort(key=lambda item: item[:3])
        page = [item[3] for item in _page(events, (number - 1) * size, size, self.endless())]
        return {"Code": "200", "Success": "true", "Message": "success", "SystemEvents": {"SystemEvent": page}}

    @staticmethod
    def keyword_groups(text):
        """``a and b or c`` -> [["a", "b"], ["c"]] (any group whose words all occur)."""
        if not text or not text.strip():
            return []
        groups = []
        for alternative in re.split(r"\s+or\s+", text.strip(), flags=re.I):
            words = [w.strip().lower() for w in re.split(r"\s+and\s+", alternative, flags=re.I) if w.strip()]
            if words:
                groups.append(words)
        return groups

    @staticmethod
    def keywords_match(content, groups):
        folded = content.lower()
        return any(all(word in folded for word in words) for words in groups)


__all__ = ["AliyunService", "EcsService", "CmsService", "AliyunError", "public"]
