"""Parameter groups: the optimizer's parameters split by rules of the spec, selected by the model's own names.

Every parameter is named by the key path of the spec entry that built it, then its name inside that
module: ``model.layers[0].weight``, ``model.blocks.stem.layers[1].bias`` (a block's parameters by the
block's definition), ``model.layer1.0.conv1.weight`` (a whole architecture). ``lr_scale`` patterns match
those names (``*`` any run of characters, ``?`` one; brackets are literal); a pattern that matches no
parameter, or a parameter that two patterns match, is an error at the pattern's key path.
``no_decay_bias_and_norm`` takes weight decay off every parameter of fewer than two dimensions (biases,
normalisation weights and shifts), as nanoGPT and most transformer recipes do.
"""

from __future__ import annotations

import re
from typing import Any

from torch import nn

from registry.building.network import ModelPlan
from registry.errors import format_loc
from registry.resolution.resolver import ResolvedSpec
from registry.spec.problems import ProblemList

__all__ = ["parameter_names", "plan_groups", "scale_rates"]


def parameter_names(plan: ModelPlan) -> dict[int, str]:
    """id(parameter) -> its name, from the deepest spec entry whose module holds it."""
    names: dict[int, str] = {}
    for _, _, node in plan.walk():  # depth first: a child's name replaces its container's
        if node.resolved is None:
            continue
        prefix = format_loc(node.resolved.loc)
        for local, p in node.module.named_parameters():
            names[id(p)] = f"{prefix}.{local}"
    for local, p in plan.model.named_parameters():  # anything no entry claims: the model's own name
        names.setdefault(id(p), f"model.{local}")
    return names


def _pattern(text: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text))


def plan_groups(rs: ResolvedSpec, plan: ModelPlan, problems: ProblemList) -> list[dict[str, Any]] | None:
    """The optimizer's parameter groups from ``[train.param_groups]``, or None to pass the parameters as one.

    The first group holds the parameters no rule changes (its rate is the one the metrics files show).
    """
    rules = rs.spec.train.param_groups
    if rules is None or (not rules.lr_scale and not rules.no_decay_bias_and_norm):
        return None
    where = ("train", "param_groups")
    params = [p for p in plan.model.parameters() if p.requires_grad]
    names = parameter_names(plan)
    scale: dict[int, float] = {}
    claimed: dict[int, str] = {}
    for text, factor in rules.lr_scale.items():
        regex = _pattern(text)
        matched = [p for p in params if regex.fullmatch(names[id(p)])]
        if not matched:
            some = ", ".join(names[id(p)] for p in params[:4])
            problems.add((*where, "lr_scale", text), f"{text!r} matches none of the model's {len(params)} "
                         f"parameters; they are named like {some}")  # fmt: skip
        for p in matched:
            if id(p) in claimed:
                problems.add((*where, "lr_scale", text), f"{names[id(p)]} is matched by both {claimed[id(p)]!r} and "
                             f"{text!r}; make the patterns disjoint")  # fmt: skip
                break
            claimed[id(p)], scale[id(p)] = text, factor
    if rules.no_decay_bias_and_norm and "weight_decay" not in type(rs.optimizer.params).model_fields:
        problems.add((*where, "no_decay_bias_and_norm"), f"optimizer {rs.optimizer.name!r} has no weight_decay")
    groups: dict[tuple[float, bool], list[nn.Parameter]] = {(1.0, False): []}
    for p in params:
        no_decay = rules.no_decay_bias_and_norm and p.dim() < 2
        groups.setdefault((scale.get(id(p), 1.0), no_decay), []).append(p)
    out = []
    for (factor, no_decay), members in groups.items():
        if not members:
            continue
        group: dict[str, Any] = {"params": members, "lr_scale": factor}
        if no_decay:
            group["weight_decay"] = 0.0
        out.append(group)
    return out


def scale_rates(optimizer: Any) -> None:
    """Multiply each group's rate by its ``lr_scale`` (once, when the optimizer is made)."""
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * group.get("lr_scale", 1.0)
