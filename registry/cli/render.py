"""What the commands print: ``list``, ``show``, ``reference``, ``plugins``, ``validate``'s model tree, ``run``'s
summary.

Pure text from typed objects; nothing here reads files or catches errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry.components.catalog import Catalog, Component
from registry.components.contracts import get_metric_info, get_schedule_info
from registry.components.signatures import describe_fields
from registry.errors import format_loc
from registry.kinds import KINDS

if TYPE_CHECKING:
    from registry.building.builder import Built
    from registry.building.network import ModelPlan, NodePlan
    from registry.training.loop import RunResult

__all__ = [
    "render_list",
    "render_model",
    "render_plugins",
    "render_reference",
    "render_show",
    "render_summary",
    "render_validated",
]


def render_list(catalog: Catalog, kind: str | None = None) -> str:
    """What ``list [KIND]`` prints: each kind, then each name with its description and plugin."""
    lines = []
    for k in [kind] if kind else list(KINDS):
        comps = catalog.list(k)
        lines.append(f"{KINDS[k].plural} ({len(comps)}): {KINDS[k].summary}")
        width = max((len(c.name) for c in comps), default=0)
        lines += [f"  {c.name:<{width}}  {c.description}  [{c.plugin}]" for c in comps]
    return "\n".join(lines) + "\n"


def render_show(catalog: Catalog, name: str, kind: str | None = None) -> str:
    """What ``show NAME`` prints: the component's description, origin and parameters with their types and bounds.

    Raises:
        UnknownComponentError: no component answers to *name*.
    """
    plugins = {p.name: p for p in catalog.plugins}
    found = [catalog.get(kind, name)] if kind else catalog.find(name)
    if not found:
        catalog.get(tuple(KINDS), name)  # raises with suggestions
    lines = []
    for c in found:
        lines.append(f"{c.kind} {c.name}: {c.description}")
        if c.aliases:
            lines.append(f"  also: {', '.join(c.aliases)}")
        info = plugins.get(c.plugin)
        lines.append(f"  from: {c.plugin} ({info.describe() if info else 'registered directly'})")
        if (measures := get_metric_info(c.factory)) is not None:
            direction = "higher" if measures.higher_is_better else "lower"
            default = f"; a default for {', '.join(measures.default_for)}" if measures.default_for else ""
            lines.append(f"  measures: {', '.join(measures.tasks)} tasks; {direction} is better{default}")
        if c.kind == "scheduler":
            steps = get_schedule_info(c.factory)
            per = "as the schedulers it holds" if steps.per == "children" else f"per {steps.per}"
            watches = f"; watches the test value named by {steps.monitor}" if steps.monitor else ""
            lines.append(f"  steps: {per}{watches}")
        rows = describe_fields(c.schema)
        if not rows:
            lines.append("  parameters: none")
        for pname, tname, default, desc in rows:
            inferred = " (inferred)" if pname in c.schema.inferred else ""
            sep = " " if default.startswith("=") else ", "
            lines.append(f"  {pname}: {tname}{sep}{default}{inferred}{'  # ' + desc if desc else ''}")
    return "\n".join(lines) + "\n"


def render_plugins(catalog: Catalog) -> str:
    """What ``plugins`` prints: each loaded plugin and what it adds; the clashes, failures and warnings."""
    replaced = {(k, n): old for k, n, old, _ in catalog.replaced}
    lines = []
    for info in catalog.plugins:
        lines.append(f"{info.name}  ({info.describe()})")
        for kind in KINDS:
            names = [
                c.name + (f" (replaces {replaced[(kind, c.name)]})" if (kind, c.name) in replaced else "")
                for c in catalog.list(kind)
                if c.plugin == info.name
            ]
            if names:
                lines.append(f"  {kind}: {', '.join(names)}")
    lines += [f"clash: {clash}" for clash in catalog.clashes]
    lines += [f"failed: {failure.render()}" for failure in catalog.failures]
    lines += [f"warning: {w}" for w in catalog.warnings]
    return "\n".join(lines) + "\n"


def render_model(plan: ModelPlan) -> str:
    """The model as an indented tree: each node with its output shape per sample, parameters and key path.

    The children of a container are indented under it; when it holds several chains (branches), each
    chain's name heads its children.
    """
    rows: list[tuple[str, str, str, str]] = []

    def visit(nodes: tuple[NodePlan, ...], depth: int) -> None:
        for node in nodes:
            where = ""
            if node.resolved is not None:
                where = format_loc(node.resolved.loc)
                if node.resolved.used_at and node.resolved.block:
                    where = f"{format_loc(node.resolved.used_at)} -> {where}"
            label = node.label or node.name
            rows.append(("  " * depth + label, str(node.out_shape), f"{node.num_params:,}", where))
            groups = [g for g in node.groups if g[1]]
            if groups and groups[0][0] == "" and node.resolved is not None and node.resolved.repeat > 1:
                groups = [("", groups[0][1][:1])]  # the repetitions are alike: the first one stands for them
            for name, children in groups:
                # a chain's name heads it; a submodule beside the chains (a projection) is named by its own row
                headed = len(groups) > 1 and not (len(children) == 1 and children[0].label.startswith(f"{name} ("))
                if headed:
                    rows.append(("  " * (depth + 1) + f"{name}:", "", "", ""))
                visit(children, depth + (2 if headed else 1))

    visit(plan.nodes, 0)
    head = ("node", "output shape", "params", "spec")
    w = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
    lines = [f"  {a:<{w[0]}}  {b:<{w[1]}}  {c:>{w[2]}}  {d}".rstrip() for a, b, c, d in [head, *rows]]
    return "\n".join(lines) + "\n"


def render_validated(spec: str, built: Built) -> str:
    """What ``validate`` prints: the model tree, the total, the data, the loss, the optimizer and the device."""
    d = built.data
    classes = f"{d.dataset.num_classes} classes" if d.dataset.classes else d.dataset.describe_targets()
    lines = [
        f"{spec}: valid",
        render_model(built.model_plan).rstrip("\n"),
        f"Total parameters: {built.model_plan.num_params:,}; output {built.model_plan.output_shape} per sample "
        f"({built.model_plan.produces.replace('_', ' ')})",
        f"Data: {built.resolved.dataset.name}, input per sample {d.sample_shape}, {classes}",
        f"Task: {built.task.describe()}; metrics: {', '.join(m.name for m in built.metrics) or 'none'}; "
        f"best checkpoint by {built.best[0]}",
        f"Loss: {built.loss}",
        f"Optimizer: {built.resolved.optimizer.name} {built.resolved.optimizer.kwargs}",
        *_policy(built),
        f"Device: {built.device}",
    ]
    return "\n".join(lines) + "\n"


def _policy(built: Built) -> list[str]:
    """The training policy's lines of ``validate``: the scheduler, accumulation, early stopping."""
    from registry.building.schedules import schedule_of

    cfg, r, lines = built.resolved.spec.train, built.resolved.scheduler, []
    if r is not None:
        info = schedule_of(r)
        watches = f", on {getattr(r.params, info.monitor)}" if info.monitor else ""
        lines.append(f"Scheduler: {r.name} {r.kwargs}, stepping per {info.per}{watches}")
    if cfg.accumulate > 1:
        batch = built.resolved.spec.data.batch_size
        lines.append(f"Accumulation: {cfg.accumulate} batches per optimizer step (as one batch of "
                     f"{cfg.accumulate * batch})")  # fmt: skip
    if cfg.param_groups is not None:
        rules = cfg.param_groups
        assert rules is not None
        said = (["no weight decay on biases and normalisation weights"] if rules.no_decay_bias_and_norm else []) + [
            f"rate x{factor:g} for {pattern!r}" for pattern, factor in rules.lr_scale.items()
        ]
        lines.append(f"Parameter groups: {'; '.join(said) or 'one'}")
    if cfg.precision != "float32":
        scaler = " with a gradient scaler" if cfg.precision == "float16" else ""
        lines.append(f"Precision: {cfg.precision} autocast{scaler} (weights and optimizer float32)")
    if cfg.early_stopping is not None and built.early_stop is not None:
        e = cfg.early_stopping
        lines.append(f"Early stopping: on {built.early_stop[0]}, patience {e.patience}, min_delta {e.min_delta:g}")
    return lines


def render_summary(result: RunResult, before: str | None = None) -> str:
    """``run``'s last line of results: how many epochs (of which this process did how many, and how the process
    before it ended: *before*), loss and accuracy."""
    final = result.final
    n = len(result.epochs)
    ran = n - result.resumed_epochs
    ended = f": {before}" if before else ""
    share = f" ({ran} in this process, after {result.resumed_epochs} before the resume{ended})" if before or \
        result.resumed_epochs else ""  # fmt: skip
    line = f"Done: {n} epoch{'s' if n != 1 else ''}{share} in {result.seconds:.1f} s; test loss {final.test_loss:.4f}"
    if final.test_accuracy is not None:
        line += f", accuracy {final.test_correct}/{final.test_total} ({100 * final.test_accuracy:.2f}%)"
    if final.metrics:
        line += "; " + ", ".join(f"{name} {value:.4f}" for name, value in final.metrics.items())
    if result.stopped:
        line += " (stopped early)"
    return line


def render_reference(catalog: Catalog) -> str:
    """``reference``'s Markdown: every component of *catalog*, kind by kind, with its parameters (as ``show``)."""
    kinds = [k for k in KINDS if any(c.kind == k for c in catalog)]
    lines = [
        "# Component reference",
        "",
        "Every component a spec can name, generated from the catalog itself by `python -m registry reference`",
        "(here the built-ins: `REGISTRY_DISABLE_PLUGIN_AUTOLOAD=1 python -m registry reference -o docs/components.md`;",
        "the suite checks that this file is current). `python -m registry show NAME` says the same of one.",
        "",
        "Kinds: " + ", ".join(f"[{KINDS[k].plural}](#{KINDS[k].plural})" for k in kinds) + ".",
    ]
    for kind in kinds:
        found = sorted((c for c in catalog if c.kind == kind), key=lambda c: c.name)
        lines += ["", f"## {KINDS[kind].plural}", "", f"{len(found)} {KINDS[kind].plural}.", ""]
        for c in found:
            lines += _reference_entry(c)
    return "\n".join(lines).rstrip() + "\n"


def _reference_entry(c: Component) -> list[str]:
    also = f" Also `{'`, `'.join(c.aliases)}`." if c.aliases else ""
    out = [f"### `{c.name}`", "", f"{c.description}{also}", ""]
    rows = describe_fields(c.schema)
    if not rows:
        return [*out, "No parameters.", ""]
    out += ["| parameter | type | default | |", "|---|---|---|---|"]
    for pname, tname, default, desc in rows:
        inferred = " (inferred)" if pname in c.schema.inferred else ""
        cell = default.removeprefix("= ")
        out.append(f"| `{pname}` | {_md(tname)} | {_md(cell)}{inferred} | {_md(desc)} |")
    return [*out, ""]


def _md(text: str) -> str:
    """*text* in a Markdown table cell: pipes escaped, on one line."""
    return " ".join(text.replace("|", "\\|").split())
