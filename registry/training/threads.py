"""How many intra-op threads torch uses on the CPU: ``train.threads``, or a default chosen from measurement.

torch's own default is one thread per core of the machine. The models people train from specs on a CPU are
small, and on a machine shared with anything else an extra thread per process costs far more than it gains:
on 2 cores with one other busy process, a Fashion-MNIST MLP run took 113 s with torch's default of 2
threads and 2.9 s with 1 (docs/training.md, "Threads"). ``auto`` is therefore 1 thread, unless the environment says
otherwise (``OMP_NUM_THREADS``, as torchrun sets it); a number in the spec wins over both, capped by the
CPUs this process may use (its affinity, not the machine's count).
"""

from __future__ import annotations

import os

import torch

__all__ = ["AUTO_THREADS", "apply_threads", "cpus_available", "choose_threads"]

AUTO_THREADS = 1


def cpus_available() -> int:
    """The CPUs this process may run on (its affinity mask; the machine's count where there is none)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def choose_threads(setting: int | str) -> tuple[int, str]:
    """The number of threads for *setting* (``train.threads``), and why, for the run's header."""
    cpus = cpus_available()
    if isinstance(setting, int):
        n = min(setting, cpus)
        capped = f", capped by the {cpus} CPUs this process may use" if n < setting else ""
        return n, f"train.threads = {setting}{capped}"
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) >= 1:
        return min(int(env), cpus), f"OMP_NUM_THREADS = {env}"
    return min(AUTO_THREADS, cpus), f"auto; this process may use {cpus} CPU{'s' if cpus != 1 else ''}"


def apply_threads(setting: int | str) -> tuple[int, str]:
    """Set torch's intra-op threads for *setting*; return the number and why."""
    n, why = choose_threads(setting)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n, why
