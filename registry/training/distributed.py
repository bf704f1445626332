"""Data-parallel runs under torchrun: one process per rank, DistributedDataParallel, the same spec.

``data.batch_size`` is the **global** batch: each of the N ranks takes its
share of every batch of the epoch's permutation (the same permutation on
every rank, drawn from the run's seeded generator), and each rank's loss is
scaled by its share, so that DDP's gradient average equals the gradient of the
whole batch, as in one process. Metrics are summed across ranks; only rank 0
prints, writes metrics and checkpoints. Nothing here runs without torchrun's
environment (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = ["Ranks", "all_sum", "from_env", "init_process_group", "result_warnings", "shard", "shutdown"]


@dataclass(frozen=True)
class Ranks:
    """This process's place in the run."""

    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_env() -> Ranks | None:
    """The ranks torchrun describes in the environment, or None for a plain single-process run."""
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return None
    return Ranks(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", "0")))


def init_process_group(ranks: Ranks, backend: str, device: torch.device, timeout_s: int) -> None:
    """Join the process group: gloo on CPU, nccl on CUDA, unless the spec chose."""
    chosen = ("nccl" if device.type == "cuda" else "gloo") if backend == "auto" else backend
    if not dist.is_initialized():
        dist.init_process_group(
            chosen, rank=ranks.rank, world_size=ranks.world_size, timeout=datetime.timedelta(seconds=timeout_s)
        )


def shutdown(ranks: Ranks | None) -> None:
    """Leave the process group, if this process joined one."""
    if ranks is not None and dist.is_initialized():
        dist.destroy_process_group()


def shard(indices: Tensor, ranks: Ranks | None) -> Tensor:
    """This rank's contiguous share of a batch's indices (all of them in a single process)."""
    if ranks is None:
        return indices
    return indices.tensor_split(ranks.world_size)[ranks.rank]


def all_sum(values: Sequence[float], device: torch.device, ranks: Ranks | None) -> list[float]:
    """Sum *values* across ranks (float64); unchanged in a single process."""
    if ranks is None:
        return list(values)
    t = torch.tensor(list(values), dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return [float(v) for v in t.tolist()]


def result_warnings(model: nn.Module, loss: object, ranks: Ranks) -> list[str]:
    """Why this model's result cannot equal single-process training, one line per reason."""
    out = []
    if getattr(loss, "reduction", "mean") == "sum":
        out.append(
            "the loss is sum-reduced: DDP averages gradients over the ranks, so each step is "
            f'1/{ranks.world_size} of the single-process step; use reduction = "mean" (the default)'
        )
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        out.append("batch_norm normalises with each rank's share of the batch, not the whole batch (no SyncBatchNorm)")
    if any(isinstance(m, nn.modules.dropout._DropoutNd) for m in model.modules()):
        out.append("dropout draws its masks from each rank's own random stream, not the single-process one")
    return out
