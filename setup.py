"""guance-monitor: self-hosted inspections (自建巡检) for Guance, as DataFlux Func script sets.

The Func script sets (``guance_monitor*``) are what ships to DataFlux Func.
``guance_monitor_local`` is the outside-Func side: a local Func runtime, the
Guance / Alibaba Cloud sandbox, the script-market exporter and the CLI.
"""
from setuptools import setup

SCRIPT_SETS = [
    "guance_monitor",
    "guance_monitor_spot_alive",
    "guance_monitor_k8s_pod_restart",
    "startup",
]

setup(
    name="guance-monitor",
    version="0.1.0",
    description="Self-hosted inspections for Guance: Alibaba Cloud spot survival, Kubernetes pod restarts",
    long_description=__doc__,
    python_requires=">=3.8",
    packages=SCRIPT_SETS + ["guance_monitor_local", "guance_monitor_local.sandbox"],
    package_data={"guance_monitor_local": ["data/*.json"]},
    install_requires=[
        "requests>=2.28.1,<3",
        "Jinja2>=2.11.3",
        "MarkupSafe>=2.0.1",
        "pandas>=2.0.3",
        "croniter>=1.4.1",
        "PyYAML>=5.4.1",
        "alibabacloud-ecs20140526>=7.11.8",
        "alibabacloud-cms20190101>=4.0.10",
        "alibabacloud-tea-openapi>=0.4.6",
        "darabonba-core>=1.0.9",
        "alibabacloud-credentials>=1.0.0",
        "python-dateutil>=2.8.2",
    ],
    extras_require={
        # markdown-it-py (CommonMark, and linkify as GFM-like renderers autolink) and Python-Markdown:
        # the reports are rendered with both in the report-safety tests.
        "test": ["pytest>=7", "responses>=0.23", "markdown-it-py[linkify]>=2.2", "Markdown>=3.3"],
    },
    entry_points={"console_scripts": ["guance-monitor=guance_monitor_local.cli:main"]},
)
