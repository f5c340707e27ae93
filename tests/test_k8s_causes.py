"""Root cause per pod and container: the pod YAML, the events, the waiting reason, and the advice figures."""
import json

import pytest
import yaml

from guance_monitor_k8s_pod_restart import causes

START = 1795159800000          # 2026-11-20T07:30:00Z
END = START + 30 * 60000


def message(pod):
    return json.dumps({"uid": "u1", "pod_name": "api-1", "yaml": yaml.safe_dump(pod)})


def pod_yaml(containers=None, statuses=None, init=None, init_statuses=None, phase="Running", reason=None):
    pod = {"metadata": {"name": "api-1", "namespace": "shop"},
           "spec": {"containers": containers or [{"name": "app", "resources": {"limits": {"memory": "512Mi"}}}]}}
    if init:
        pod["spec"]["initContainers"] = init
    if statuses is not None or init_statuses is not None:
        pod["status"] = {"phase": phase, "containerStatuses": statuses or []}
        if init_statuses:
            pod["status"]["initContainerStatuses"] = init_statuses
        if reason:
            pod["status"]["reason"] = reason
            pod["status"]["message"] = "The node was low on resource: memory."
    return pod


def status(name, count, reason=None, code=None, finished="2026-11-20T07:50:00Z", waiting=None):
    item = {"name": name, "restartCount": count, "containerID": "containerd://abc", "state": {"running": {}}}
    if waiting:
        item["state"] = {"waiting": {"reason": waiting}}
    if reason is not None:
        item["lastState"] = {"terminated": {"reason": reason, "exitCode": code, "finishedAt": finished,
                                            "startedAt": "2026-11-20T07:40:00Z"}}
    return item


def event(reason, text, type="Warning", at=END - 60000):
    return {"reason": reason, "message": text, "type": type, "time_ms": at, "uid": "u1"}


# -- the YAML ---------------------------------------------------------------------------------

def test_pod_from_message_reads_datakit_json_with_yaml():
    pod, problem = causes.pod_from_message(message(pod_yaml(statuses=[status("app", 2)])))
    assert problem is None and pod["metadata"]["name"] == "api-1" and causes.has_status(pod)


@pytest.mark.parametrize("text, problem", [
    (None, "no message"),
    ('{"yaml": "apiVersion: v1\\nkind: Po', "the message is not complete JSON (DataKit cuts it at 256 KiB)"),
    ('{"uid": "u1"}', "the message has no pod YAML"),
    ('["x"]', "the message is not a JSON object"),
    ('{"yaml": "a: [1, 2"}', "the pod YAML does not parse"),
    ('{"yaml": "- just\\n- a list"}', "the pod YAML is not an object"),
])
def test_pod_from_message_problems(text, problem):
    assert causes.pod_from_message(text) == (None, problem)


def test_containers_types_resources_probes_and_status():
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10, "failureThreshold": 3}
    pod = pod_yaml(
        containers=[{"name": "app", "resources": {"limits": {"memory": "1Gi", "cpu": "1"},
                                                  "requests": {"memory": "512Mi", "cpu": "250m"}},
                     "livenessProbe": probe}],
        init=[{"name": "migrate"}, {"name": "istio-proxy", "restartPolicy": "Always"}],
        statuses=[status("app", 3, "OOMKilled", 137)],
        init_statuses=[status("migrate", 0, "Completed", 0), status("istio-proxy", 1)])
    listed = causes.containers(pod)
    assert [(c["name"], c["type"]) for c in listed] == [("migrate", "init"), ("istio-proxy", "sidecar"),
                                                        ("app", "regular")]
    app = listed[2]
    assert app["memory_limit"] == 2 ** 30 and app["requests"] == {"cpu": "250m", "memory": "512Mi"}
    assert app["probes"] == {"liveness": probe}
    assert app["last"] == {"reason": "OOMKilled", "exit_code": 137, "finished_ms": END - 10 * 60000,
                           "started_ms": END - 20 * 60000, "message": ""}
    assert app["restart_count"] == 3 and app["state"] == "running"


def test_containers_without_status_keep_the_spec():
    listed = causes.containers(pod_yaml())
    assert listed[0]["has_status"] is False and listed[0]["last"] is None and listed[0]["memory_limit"] == 512 * 2 ** 20


# -- events -----------------------------------------------------------------------------------

@pytest.mark.parametrize("reason, text, found", [
    ("BackOff", "Back-off restarting failed container app in pod api-1_shop(u1)", ("app_error", "app")),
    ("Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500", ("probe", None)),
    ("Killing", "Container web failed liveness probe, will be restarted", ("probe", "web")),
    ("Unhealthy", "Readiness probe failed: connection refused", None),
    ("Killing", "Stopping container app", None),
    ("OOMKilling", "Memory cgroup out of memory: Killed process 4242 (java)", ("oom", None)),
    ("Failed", "Error: ImagePullBackOff", ("image_config", None)),
    ("Failed", "Error: couldn't find key DB_URL in ConfigMap shop/api", ("image_config", None)),
    ("BackOff", "Back-off pulling image \"registry/x:1\"", ("image_config", None)),
    ("Evicted", "The node was low on resource: memory.", ("eviction", None)),
    ("SpotToBeReleased", "Spot ECI will be released in 3 minutes", ("spot", None)),
    ("Scheduled", "Successfully assigned shop/api-1 to node-1", None),
])
def test_classify_event(reason, text, found):
    assert causes.classify_event(event(reason, text)) == found


# -- the chain --------------------------------------------------------------------------------

def container(reason=None, code=None, name="app", waiting=""):
    last = None if reason is None and code is None else {"reason": reason, "exit_code": code}
    return {"name": name, "last": last, "waiting_reason": waiting}


@pytest.mark.parametrize("item, events, cause, source", [
    (container("OOMKilled", 137), [], "oom", "yaml"),
    (container("Completed", 0), [], "expected", "yaml"),
    (container("StartError", 128), [], "image_config", "yaml"),
    (container("Error", 1), [], "app_error", "yaml"),
    (container("Error", 137), [event("Killing", "Container app failed liveness probe, will be restarted")],
     "probe", "yaml+events"),
    (container("Error", 137), [event("Killing", "Container other failed liveness probe, will be restarted")],
     "app_error", "yaml"),                                   # another container's probe: not this one
    (container("Error", 137), [event("OOMKilling", "out of memory: Killed process 1 (java)")], "oom",
     "yaml+events"),
    (container(), [event("BackOff", "Back-off restarting failed container app in pod x")], "app_error", "events"),
    (container(), [event("BackOff", "Back-off restarting failed container app in pod x"),
                   event("Unhealthy", "Liveness probe failed: timeout")], "probe", "events"),
    (container(waiting="CrashLoopBackOff"), [], "app_error", "waiting"),
    (container(waiting="CreateContainerConfigError"), [], "image_config", "waiting"),
    (container(), [], "unknown", "none"),
])
def test_container_cause_chain(item, events, cause, source):
    found = causes.container_cause(item, events)
    assert (found[0], found[2]) == (cause, source)


def test_container_cause_texts():
    assert causes.container_cause(container("Error", 139), [])[1] == \
        "Error (exit 139) · SIGSEGV（段错误 / segmentation fault）"
    assert causes.container_cause(container("OOMKilled", 137), [])[1] == "OOMKilled (exit 137)"


def test_explain_pod_blames_the_container_that_restarted_in_the_window():
    pod = pod_yaml(containers=[{"name": "app"}, {"name": "log-shipper"}],
                   statuses=[status("app", 9, "Error", 1, finished="2026-11-20T06:10:00Z"),     # before the window
                             status("log-shipper", 2, "OOMKilled", 137)])
    found = causes.explain_pod({}, {"message": message(pod), "status": "Running"}, [], START, END)
    assert found["cause"] == "oom" and found["yaml"] == "status" and not found["exit0"]
    flags = {c["name"]: c["restarted"] for c in found["containers"]}
    assert flags == {"app": False, "log-shipper": True}


def test_explain_pod_exit_zero_only():
    pod = pod_yaml(statuses=[status("app", 4, "Completed", 0)])
    found = causes.explain_pod({}, {"message": message(pod)}, [], START, END)
    assert found["exit0"] and found["cause"] == "expected"


def test_explain_pod_without_status_uses_events_and_names_the_container():
    pod = pod_yaml(containers=[{"name": "app"}, {"name": "sidecar"}])
    events = [event("Killing", "Container sidecar failed liveness probe, will be restarted", type="Normal")]
    found = causes.explain_pod({}, {"message": message(pod)}, events, START, END)
    assert found["yaml"] == "spec" and found["cause"] == "probe"
    assert [c["name"] for c in found["containers"] if c["restarted"]] == ["sidecar"]


def test_explain_pod_without_any_object_falls_back_to_the_waiting_reason_or_unknown():
    assert causes.explain_pod({}, {"status": "CrashLoopBackOff"}, [], START, END)["cause"] == "app_error"
    found = causes.explain_pod({}, None, [], START, END)
    assert found["cause"] == "unknown" and found["yaml"] == "no message"


def test_pod_level_status_of_an_evicted_pod():
    pod = pod_yaml(statuses=[], phase="Failed", reason="Evicted")
    assert causes.pod_level_status(pod) == ("Evicted", "The node was low on resource: memory.")


def test_dominant_and_most_specific():
    assert causes.dominant(["app_error", "oom", "app_error"]) == "app_error"
    assert causes.dominant(["app_error", "oom"]) == "oom"          # tie: the more specific
    assert causes.dominant([]) is None
    assert causes.most_specific(["app_error", "probe", None]) == "probe"


# -- figures for the advice -------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("512Mi", 512 * 2 ** 20), ("1Gi", 2 ** 30), ("1.5Gi", 1.5 * 2 ** 30), ("500M", 5e8), ("129e6", 1.29e8),
    ("123456", 123456), (268435456, 268435456), ("100m", 0.1), ("lots", None), (None, None), ("-1Gi", None),
    (float("inf"), None),
])
def test_parse_quantity(value, expected):
    assert causes.parse_quantity(value) == expected


@pytest.mark.parametrize("value, text", [(512 * 2 ** 20, "512Mi"), (1.5 * 2 ** 30, "1.5Gi"), (2048, "2Ki"),
                                         (100, "100B"), (None, "-")])
def test_format_bytes(value, text):
    assert causes.format_bytes(value) == text


def test_suggest_memory_limit():
    mib = 2 ** 20
    assert causes.suggest_memory_limit(512 * mib, 505 * mib) == 768 * mib          # limit x 1.5
    assert causes.suggest_memory_limit(512 * mib, 900 * mib) == 1088 * mib         # peak x 1.2, up to 64Mi
    assert causes.suggest_memory_limit(None, 300 * mib) == 384 * mib
    assert causes.suggest_memory_limit(None, None) is None


def test_probe_summary():
    text, seconds = causes.probe_summary({"httpGet": {"path": "/healthz", "port": 8080}, "initialDelaySeconds": 5,
                                          "periodSeconds": 10, "timeoutSeconds": 1, "failureThreshold": 3})
    assert text == "HTTP GET /healthz:8080 · initialDelaySeconds 5 · periodSeconds 10 · timeoutSeconds 1 · " \
                   "failureThreshold 3"
    assert seconds == 30
    assert causes.probe_summary({"tcpSocket": {"port": 5432}})[1] == 30           # Kubernetes defaults
    assert causes.probe_summary(None) == (None, None)


def test_exit_code_meaning():
    assert causes.exit_code_meaning(143).startswith("SIGTERM")
    assert causes.exit_code_meaning(130) == "信号 2 / signal 2"
    assert causes.exit_code_meaning(42) == ""
