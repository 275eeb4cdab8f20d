"""The machine and the software a run measured, for the results file."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def cpu_model(cpuinfo: str) -> str:
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "Hardware", "cpu model"):
            return value.strip()
    return platform.processor() or "unknown"


def memory_bytes(meminfo: str) -> int | None:
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


def machine() -> dict:
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        available = os.cpu_count()
    return {
        "cpu_model": cpu_model(_read("/proc/cpuinfo")),
        "cpu_count": os.cpu_count(),
        "cpu_available": available,
        "memory_bytes": memory_bytes(_read("/proc/meminfo")),
        "kernel": f"{platform.system()} {platform.release()}",
        "architecture": platform.machine(),
    }


def software() -> dict:
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "django": metadata.version("django"),
        "asgiref": metadata.version("asgiref"),
    }


def load_average() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None
