"""Resolved layers (or a whole architecture) -> the model, node by node, with its plan as a tree.

Every node is built from what reaches it: its inferred sizes are filled from the
per-sample shape of a dry run on a small zero batch (an explicit size is checked
against them), the chains it holds are built first from that same input, then
the node itself is made on the ``meta`` device, which allocates nothing, so that
a model too large for the machine is refused before any real tensor exists, and
only then for real, under the spec's seed, in spec order: a spec-built network
starts from exactly the weights a hand-written one would. A node that cannot
take its input is reported at its key path with both shapes, at build time,
never mid-training.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from registry.building.chain import Chain
from registry.building.factory import Refused, build_plain, call_factory, plugin_fault, short_message
from registry.components.contracts import get_contract
from registry.errors import PluginError, format_loc
from registry.resolution.resolver import Resolved, ResolvedSpec
from registry.spec.problems import Loc, ProblemList

__all__ = [
    "MAX_PARAMETERS",
    "ModelPlan",
    "NodePlan",
    "ShapeParamError",
    "build_layer",
    "build_network",
    "fill_inferred",
]

MAX_PARAMETERS = 2_000_000_000  # 8 GB of float32 weights before gradients and optimizer state
Groups = tuple[tuple[str, tuple["NodePlan", ...]], ...]


@dataclass(frozen=True)
class NodePlan:
    """One node of the model: what it was built from, its shapes (per sample) and what it holds.

    Attributes:
        resolved: the spec entry it was built from (None for a submodule of a whole architecture).
        module: the built module.
        kwargs: its final arguments, inferred sizes included.
        in_shape: the per-sample shape it takes.
        out_shape: the per-sample shape it gives.
        num_params: its parameters, those of what it holds included.
        groups: what it holds, by parameter (``layers``, ``branches[1]``): the nodes of each chain.
        produces: what its output is (``scores``, ``log_probabilities``...), for the loss checks.
        label: how the tree shows it.
    """

    resolved: Resolved | None
    module: nn.Module
    kwargs: dict[str, Any]
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    num_params: int
    groups: Groups = ()
    produces: str = "scores"
    label: str = ""

    @property
    def name(self) -> str:
        return self.resolved.component.name if self.resolved else self.label


@dataclass(frozen=True)
class ModelPlan:
    """The built model and its plan: the top-level nodes (a chain's entries, or one whole architecture)."""

    nodes: tuple[NodePlan, ...]
    model: nn.Module = field(repr=False)

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.nodes[-1].out_shape

    @property
    def produces(self) -> str:
        """What the model's output is, read through the nesting (a container passes on its last layer's)."""
        return self.nodes[-1].produces

    def walk(self) -> Iterator[tuple[int, str, NodePlan]]:
        """Every node, depth first: (depth, the group it is in, node)."""

        def visit(nodes: tuple[NodePlan, ...], depth: int, group: str) -> Iterator[tuple[int, str, NodePlan]]:
            for n in nodes:
                yield depth, group, n
                for name, children in n.groups:
                    yield from visit(children, depth + 1, name)

        yield from visit(self.nodes, 0, "")


class ShapeParamError(ValueError):
    """An inferred size that cannot be filled (internal: the builder turns it into a Problem)."""

    def __init__(self, loc: Loc, message: str) -> None:
        self.loc = loc
        super().__init__(message)


def fill_inferred(r: Resolved, shape: tuple[int, ...], num_classes: int = 0) -> dict[str, Any]:
    """The component's keyword arguments with its inferred values filled in.

    Sizes come from the per-sample input *shape*; ``NUM_CLASSES`` from *num_classes*.

    Raises:
        ShapeParamError: a value cannot be inferred, or an explicit size disagrees.
    """
    kwargs = r.kwargs
    schema = r.component.schema
    for name, inferred in schema.inferred.items():
        if inferred.source == "classes":
            if name not in r.given:
                if not num_classes:
                    raise ShapeParamError((*r.loc, name), f"give {name}: the dataset has no classes to infer it from")
                kwargs[name] = inferred.rule(num_classes)
            continue
        try:
            value = inferred.rule(shape)
        except IndexError:
            raise ShapeParamError(r.loc, f"{r.name} cannot infer {name} from input shape {shape}") from None
        if name in r.given and kwargs[name] != value:
            raise ShapeParamError(
                (*r.loc, name),
                f"{name} = {kwargs[name]} but the input here has shape {shape}, so {name} must be {value} "
                f"({inferred.what}); remove it to have it inferred",
            )
        kwargs[name] = value
    if schema.input_shape:
        kwargs[schema.input_shape] = shape
    return kwargs


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _estimate(r: Resolved, kwargs: dict[str, Any], held: dict[str, Any]) -> int | None:
    """The parameters *r* would have, counted on the ``meta`` device (nothing allocated); None where its factory
    cannot run there (it computes with tensor values): then the real module is counted once it is built."""
    try:
        with torch.device("meta"):
            return _count(call_factory(r, **kwargs, **held))
    except (Refused, PluginError):
        return None


class _Network:
    def __init__(self, problems: ProblemList, num_classes: int) -> None:
        self.problems = problems
        self.num_classes = num_classes
        self.total = 0
        self.uses: list[Resolved] = []  # the block uses being built, innermost last: for messages

    def used(self, r: Resolved) -> str:
        """Where the block being built was used: `` (in block 'res', used at model.layers[1])``."""
        use = r if r.block and r.used_at else (self.uses[-1] if self.uses else None)
        return f" (in block {use.block!r}, used at {_fmt(use.used_at)})" if use and use.used_at else ""

    def chain(self, entries: tuple[Resolved, ...], x: Tensor) -> tuple[Chain, tuple[NodePlan, ...], Tensor] | None:
        shape = tuple(x.shape[1:])
        modules, plans = [], []
        for r in entries:
            made = self.entry(r, x)
            if made is None:
                return None
            module, plan, x = made
            modules.append(module)
            plans.append(plan)
        return Chain(*modules, in_shape=shape, out_shape=tuple(x.shape[1:])), tuple(plans), x

    def entry(self, r: Resolved, x: Tensor) -> tuple[nn.Module, NodePlan, Tensor] | None:
        if r.repeat == 1:
            return self.node(r, x)
        made = self.chain((dataclasses.replace(r, repeat=1),) * r.repeat, x)  # each repetition its own weights
        if made is None:
            return None
        seq, plans, out = made
        plan = NodePlan(r, seq, plans[0].kwargs, seq.in_shape, seq.out_shape, _count(seq), (("", plans),),
                        plans[-1].produces, f"{_label(r)} x{r.repeat}")  # fmt: skip
        return seq, plan, out

    def held(self, r: Resolved, x: Tensor) -> tuple[dict[str, Any], Groups] | None:
        """The chains (and other components) *r* holds, built from its input *x*."""
        built: dict[str, Any] = {}
        groups: list[tuple[str, tuple[NodePlan, ...]]] = []
        for name, n in r.component.schema.nested.items():
            value = r.nested[name]
            if value is None:  # an optional parameter left out
                built[name] = None
            elif n.form == "chain":
                made = self.chain(value, x)
                if made is None:
                    return None
                built[name] = made[0]
                groups.append((name, made[1]))
            elif n.form == "chains":
                chains = []
                for i, entries in enumerate(value):
                    made = self.chain(entries, x)
                    if made is None:
                        return None
                    chains.append(made[0])
                    groups.append((f"{name}[{i}]", made[1]))
                built[name] = chains
            else:
                built[name] = [build_plain(v) for v in value] if n.form == "list" else build_plain(value)
        return built, tuple(groups)

    def node(self, r: Resolved, x: Tensor) -> tuple[nn.Module, NodePlan, Tensor] | None:
        if r.block and r.used_at:
            self.uses.append(r)
            try:
                return self.built_node(r, x)
            finally:
                self.uses.pop()
        return self.built_node(r, x)

    def built_node(self, r: Resolved, x: Tensor) -> tuple[nn.Module, NodePlan, Tensor] | None:
        shape = tuple(x.shape[1:])
        try:
            kwargs = fill_inferred(r, shape, self.num_classes)
            made = self.held(r, x)
            if made is None:
                return None
            held, groups = made
            inside = sum(n.num_params for _, nodes in groups for n in nodes)
            estimate = None if groups else _estimate(r, kwargs, held)
            if estimate is not None and self.too_large(r, estimate):
                return None  # refused before a byte is allocated
            module = call_factory(r, **kwargs, **held)
        except ShapeParamError as e:
            self.problems.add(e.loc, f"{e}{self.used(r)}")
            return None
        except Refused as e:
            self.problems.add(e.loc, f"{e}{self.used(r)}")
            return None
        own = _count(module) - inside
        if estimate is None and self.too_large(r, own):
            return None
        out = self.dry_run(r, module, x)
        if out is None:
            return None
        self.total += own
        if groups and own:  # what a container holds beside its chains (a residual's projection): a node too
            groups = (*groups, *_extras(module, groups, x))
        plan = NodePlan(r, module, kwargs, shape, tuple(out.shape[1:]), _count(module), groups,
                        _produces(r, groups), _label(r))  # fmt: skip
        return module, plan, out

    def too_large(self, r: Resolved, own: int) -> bool:
        if self.total + own <= MAX_PARAMETERS:
            return False
        self.problems.add(
            r.loc,
            f"{r.name} has {own:,} parameters, which brings the model to {self.total + own:,}; "
            f"at most {MAX_PARAMETERS:,} are allowed{self.used(r)}",
        )
        return True

    def dry_run(self, r: Resolved, module: nn.Module, x: Tensor) -> Tensor | None:
        module.eval()  # the dry run must not draw dropout masks or move batch-norm statistics
        shape = tuple(x.shape[1:])
        try:
            with torch.no_grad():
                out = module(x)
        except (RuntimeError, ValueError, TypeError, IndexError) as e:
            self.problems.add(r.loc, f"{r.name} cannot take input of shape {shape}{self.used(r)}: {short_message(e)}")
            return None
        except Exception as e:  # a plugin's forward pass can raise anything: its fault
            raise plugin_fault(
                r.component, f"raised {type(e).__name__} on input of shape {shape}: {short_message(e)}"
            ) from e
        if not isinstance(out, Tensor):
            raise plugin_fault(r.component, f"returned {type(out).__name__} from its forward pass, not a tensor")
        module.train()
        return out


def _fmt(loc: Loc | None) -> str:
    return format_loc(loc or ())


def _label(r: Resolved) -> str:
    return f"{r.name} [block {r.block}]" if r.block else r.name


def _produces(r: Resolved, groups: Groups) -> str:
    declared = get_contract(r.component.factory).get("produces")
    if declared == "last_layer":
        last = [nodes for _, nodes in groups if nodes]
        return last[0][-1].produces if last else "scores"
    return str(declared or "scores")


def _extras(module: nn.Module, groups: Groups, x: Tensor) -> Groups:
    """The direct submodules of the container *module* that hold parameters outside its chains (*groups*), each
    as a group of one node named after its attribute, so that the tree's parameter counts add up."""
    chained = {id(p) for _, nodes in groups for n in nodes for p in n.module.parameters()}
    names = {n for n, m in module.named_children() if any(id(p) not in chained for p in m.parameters())}
    return tuple((p.label.split(" ")[0], (p,)) for p in _submodules(module, x, names))


def _submodules(module: nn.Module, x: Tensor, only: set[str] | None = None) -> tuple[NodePlan, ...]:
    """The direct submodules of a whole architecture (or those named *only*), with the shapes a dry run sends
    through them."""
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}

    def hook(name: str) -> Any:
        def record(_: nn.Module, args: tuple[Any, ...], out: Any) -> None:
            if args and isinstance(args[0], Tensor) and isinstance(out, Tensor):
                shapes[name] = (tuple(args[0].shape[1:]), tuple(out.shape[1:]))

        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in module.named_children() if only is None or n in only]
    try:
        module.eval()
        with torch.no_grad():
            module(x)
    finally:
        for h in handles:
            h.remove()
        module.train()
    return tuple(
        NodePlan(None, m, {}, *shapes[n], _count(m), label=f"{n} ({type(m).__name__})")
        for n, m in module.named_children()
        if n in shapes
    )


def build_layer(r: Resolved, example: Tensor, num_classes: int = 0) -> tuple[nn.Module, NodePlan]:
    """Build one resolved layer (or model) entry from the *example* batch that reaches it.

    Raises:
        SpecError: it cannot be built for that input.
        PluginError: its plugin misbehaved.
    """
    problems = ProblemList(None, None)
    made = _Network(problems, num_classes).entry(r, example)
    problems.raise_if_any()
    assert made is not None
    return made[0], made[1]


def build_network(rs: ResolvedSpec, example: Tensor, num_classes: int, problems: ProblemList) -> ModelPlan | None:
    """Build the model of *rs* from the transformed *example* batch; None when a problem was added.

    Raises:
        PluginError: a component's factory or forward pass failed in a way that is its plugin's fault.
    """
    net = _Network(problems, num_classes)
    if rs.model is not None:
        made = net.node(rs.model, example)
        if made is None:
            return None
        module, plan, _ = made
        plan = NodePlan(plan.resolved, module, plan.kwargs, plan.in_shape, plan.out_shape, plan.num_params,
                        (("", _submodules(module, example)),), plan.produces, plan.label)  # fmt: skip
        return ModelPlan((plan,), module.train())
    chain = net.chain(rs.layers, example)
    if chain is None:
        return None
    return ModelPlan(chain[1], chain[0].train())
