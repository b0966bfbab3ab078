"""What a benchmark process measures of itself: CPU seconds and peak RSS."""

from __future__ import annotations

import resource
from pathlib import Path


def cpu_seconds() -> float:
    """CPU time of every thread of this process, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> float:
    """This process's peak resident memory, MiB."""
    # VmHWM, not ru_maxrss: after fork + exec, ru_maxrss still counts the parent's pages.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
