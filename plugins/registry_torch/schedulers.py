"""Learning-rate schedulers: torch.optim.lr_scheduler's, with lengths in epochs where torch counts steps.

Each declares when it steps (``@schedule``). Per-batch ones (one-cycle, linear warm-up) receive the run's
optimizer steps per epoch through ``Training``, so a length in epochs becomes the right number of steps.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field
from torch.optim import Optimizer, lr_scheduler

from registry import Holds, ParamError, Training, TrainingInfo, aliases, example, schedule

Run = Annotated[Training, TrainingInfo()]
Gamma = Annotated[float, Field(gt=0, le=1, description="factor the rate is multiplied by")]
MinRate = Annotated[float, Field(ge=0, description="the lowest rate")]


def _within_run(param: str, epochs: float, run: Training, what: str) -> None:
    if epochs >= run.epochs:
        raise ParamError(param, f"{what} of {epochs:g} epochs is not shorter than the run ({run.epochs} epochs)")


@aliases("StepLR")
@example(step_size=2)
@schedule(per="epoch")
def step(
    optimizer: Optimizer,
    run: Run,
    step_size: Annotated[int, Field(ge=1, description="epochs between two decays")],
    gamma: Gamma = 0.1,
) -> lr_scheduler.LRScheduler:
    """Multiply the rate by gamma every step_size epochs."""
    _within_run("step_size", step_size, run, "a step")
    return lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)


@aliases("MultiStepLR")
@example(milestones=[3, 6])
@schedule(per="epoch")
def multistep(
    optimizer: Optimizer,
    run: Run,
    milestones: Annotated[
        list[Annotated[int, Field(ge=1)]], Field(min_length=1, description="epochs after which the rate decays")
    ],
    gamma: Gamma = 0.1,
) -> lr_scheduler.LRScheduler:
    """Multiply the rate by gamma after each listed epoch."""
    if any(b <= a for a, b in zip(milestones, milestones[1:], strict=False)):
        raise ParamError("milestones", f"must increase (got {milestones})")
    _within_run("milestones", milestones[-1], run, "the last milestone")
    return lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=gamma)


@aliases("ExponentialLR")
@example(gamma=0.9)
@schedule(per="epoch")
def exponential(optimizer: Optimizer, gamma: Gamma) -> lr_scheduler.LRScheduler:
    """Multiply the rate by gamma after every epoch."""
    return lr_scheduler.ExponentialLR(optimizer, gamma=gamma)


@aliases("CosineAnnealingLR")
@schedule(per="epoch")
def cosine(
    optimizer: Optimizer,
    run: Run,
    t_max: Annotated[int | None, Field(ge=1, description="epochs of the half cosine (default: the whole run)")] = None,
    eta_min: MinRate = 0.0,
) -> lr_scheduler.LRScheduler:
    """Anneal the rate along a half cosine to eta_min over t_max epochs."""
    return lr_scheduler.CosineAnnealingLR(optimizer, T_max=t_max or run.epochs, eta_min=eta_min)


@aliases("CosineAnnealingWarmRestarts")
@example(t_0=3, t_mult=2)
@schedule(per="epoch")
def cosine_restarts(
    optimizer: Optimizer,
    run: Run,
    t_0: Annotated[int, Field(ge=1, description="epochs until the first restart")],
    t_mult: Annotated[int, Field(ge=1, description="each period is this many times the previous")] = 1,
    eta_min: MinRate = 0.0,
) -> lr_scheduler.LRScheduler:
    """Cosine annealing that restarts from the full rate every t_0 (then t_0 * t_mult ...) epochs (SGDR)."""
    _within_run("t_0", t_0, run, "a first period")
    return lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=t_0, T_mult=t_mult, eta_min=eta_min)


@aliases("OneCycleLR")
@example(max_lr=1.0)
@schedule(per="batch")
def one_cycle(
    optimizer: Optimizer,
    run: Run,
    max_lr: Annotated[float, Field(gt=0, description="the peak rate")],
    total_steps: Annotated[
        int | None, Field(ge=2, description="optimizer steps of the cycle (default: epochs x steps per epoch)")
    ] = None,
    pct_start: Annotated[float, Field(gt=0, lt=1, description="share of the cycle spent rising")] = 0.3,
    anneal_strategy: Literal["cos", "linear"] = "cos",
    div_factor: Annotated[float, Field(ge=1, description="initial rate = max_lr / div_factor")] = 25.0,
    final_div_factor: Annotated[float, Field(ge=1, description="final rate = initial rate / final_div_factor")] = 1e4,
    three_phase: bool = False,
) -> lr_scheduler.LRScheduler:
    """One cycle: up to max_lr, then down far below the start, stepping after every optimizer step (Smith)."""
    if total_steps is not None and total_steps < run.total_steps and not run.held:
        raise ParamError("total_steps", f"{total_steps} is fewer than the run's {run.total_steps} optimizer steps "
                         f"({run.epochs} epochs x {run.steps_per_epoch}); leave it out to fit the run")  # fmt: skip
    peaks = [max_lr * group.get("lr_scale", 1.0) for group in optimizer.param_groups]  # [train.param_groups]
    return lr_scheduler.OneCycleLR(
        optimizer, max_lr=peaks, total_steps=total_steps or run.total_steps, pct_start=pct_start,
        anneal_strategy=anneal_strategy, div_factor=div_factor, final_div_factor=final_div_factor,
        three_phase=three_phase,
    )  # fmt: skip


@aliases("ReduceLROnPlateau")
@schedule(per="epoch", monitor="metric")
def plateau(
    optimizer: Optimizer,
    run: Run,
    metric: Annotated[
        str, Field(min_length=1, description="the test value watched: 'loss', 'accuracy' or a metric")
    ] = "loss",
    factor: Annotated[float, Field(gt=0, lt=1, description="factor the rate is multiplied by")] = 0.1,
    patience: Annotated[int, Field(ge=0, description="epochs without improvement before a decay")] = 10,
    threshold: Annotated[float, Field(ge=0, description="relative change that counts as an improvement")] = 1e-4,
    cooldown: Annotated[int, Field(ge=0, description="epochs to wait after a decay")] = 0,
    min_lr: MinRate = 0.0,
) -> lr_scheduler.LRScheduler:
    """Multiply the rate by factor when a test value has stopped improving (its direction from the metric)."""
    if metric not in run.higher_is_better:
        raise ParamError("metric", f"{metric!r} is not a test value of this run; one of: "
                         f"{', '.join(sorted(run.higher_is_better))}")  # fmt: skip
    mode = "max" if run.higher_is_better[metric] else "min"
    return lr_scheduler.ReduceLROnPlateau(optimizer, mode=mode, factor=factor, patience=patience,
                                          threshold=threshold, cooldown=cooldown, min_lr=min_lr)  # fmt: skip


@aliases("LinearLR")
@schedule(per="batch")
def linear_warmup(
    optimizer: Optimizer,
    run: Run,
    epochs: Annotated[float, Field(gt=0, description="length of the warm-up in epochs (fractions allowed)")] = 1.0,
    start_factor: Annotated[
        float, Field(gt=0, le=1, description="the first step's rate, as a share of the rate")
    ] = 0.01,
) -> lr_scheduler.LRScheduler:
    """Raise the rate linearly from start_factor x lr to lr over the first epochs, step by step; then keep it."""
    _within_run("epochs", epochs, run, "a warm-up")
    return lr_scheduler.LinearLR(optimizer, start_factor=start_factor, end_factor=1.0, total_iters=run.steps(epochs))


@aliases("SequentialLR")
@example(schedulers=[{"type": "linear_warmup", "epochs": 1}, {"type": "one_cycle", "max_lr": 1.0}], epochs=[1])
@schedule(per="children")
def sequence(
    optimizer: Optimizer,
    run: Run,
    schedulers: Annotated[list[Any], Holds(("scheduler",)), Field(min_length=2, description="the schedulers, in turn")],
    epochs: Annotated[
        list[Annotated[float, Field(gt=0)]],
        Field(min_length=1, description="how long each but the last runs, in epochs (fractions for per-batch ones)"),
    ],
) -> lr_scheduler.LRScheduler:
    """Schedulers one after the other (a warm-up, then cosine annealing): each runs for its epochs."""
    if len(epochs) != len(schedulers) - 1:
        raise ParamError("epochs", f"give one length per scheduler but the last: {len(schedulers) - 1}, "
                         f"got {len(epochs)}")  # fmt: skip
    ends, total = [], 0.0
    for length in epochs:
        total += length
        ends.append(run.steps(total))
    _within_run("epochs", total, run, "the schedulers before the last")
    return lr_scheduler.SequentialLR(optimizer, schedulers=schedulers, milestones=ends)


SCHEDULERS = {
    "step": step,
    "multistep": multistep,
    "exponential": exponential,
    "cosine": cosine,
    "cosine_restarts": cosine_restarts,
    "one_cycle": one_cycle,
    "plateau": plateau,
    "linear_warmup": linear_warmup,
    "sequence": sequence,
}
