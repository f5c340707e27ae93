"""The sandbox: Guance and Alibaba Cloud stand-ins on loopback (see ``sandbox.Sandbox``)."""
from guance_monitor_local.sandbox.sandbox import Sandbox  # noqa: F401
