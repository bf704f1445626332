"""Models beyond a flat list: containers, named blocks, repeat and whole architectures, shapes inferred through them."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import registry
from registry.building.builder import build
from registry.errors import SpecError
from registry.resolution.resolver import resolve_text, resolved_dict

from .conftest import NESTED, QUICK


def resolved(catalog, text):
    return resolve_text(text, catalog, "s.toml")


def line_of(text: str, fragment: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if fragment in ln)


def test_nested_model_resolves_and_infers_every_size(catalog) -> None:
    """Blocks, a residual, repeat and branches: every child's input size comes from what reaches it."""
    built = build(resolved(catalog, NESTED))
    plan = built.model_plan
    rows = [(depth, node.label, node.out_shape) for depth, _, node in plan.walk()]
    assert rows[:4] == [
        (0, "sequential [block conv_bn]", (8, 8, 8)),
        (1, "conv2d", (8, 8, 8)), (1, "batch_norm", (8, 8, 8)), (1, "relu", (8, 8, 8)),
    ]  # fmt: skip
    assert rows[4] == (0, "residual [block res] x2", (8, 8, 8))
    assert [r for r in rows if r[1] in ("parallel", "max_pool2d", "avg_pool2d", "linear")] == [
        (0, "parallel", (16, 4, 4)), (1, "max_pool2d", (8, 4, 4)), (1, "avg_pool2d", (8, 4, 4)), (0, "linear", (10,)),
    ]  # fmt: skip
    model = built.model
    assert model[0][0].in_channels == 1 and model[1][0].layers[0][0].in_channels == 8  # the same block, other inputs
    assert model[4].in_features == 256
    assert model(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    assert plan.num_params == sum(p.numel() for p in model.parameters()) == 5010


def test_a_block_used_twice_builds_two_sets_of_weights(catalog) -> None:
    """Each use of a block (and each repetition) is a fresh module with its own parameters."""
    model = build(resolved(catalog, NESTED)).model
    first, second = model[1][0], model[1][1]  # block 'res', repeat = 2
    assert first is not second
    assert first.layers[1].weight is not second.layers[1].weight
    assert not torch.equal(first.layers[1].weight, second.layers[1].weight)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 5 and len({id(c.weight) for c in convs}) == 5


def test_the_resolved_spec_keeps_blocks_and_reruns_unchanged(catalog, write_spec) -> None:
    """print-config's output names block uses as uses, and resolves and builds to the same model."""
    import tomli_w

    rs = resolved(catalog, NESTED)
    d = resolved_dict(rs)
    assert d["model"]["layers"][1] == {"block": "res", "repeat": 2}
    assert d["model"]["blocks"]["res"]["layers"][0] == {"block": "conv_bn"}
    again = resolved(catalog, tomli_w.dumps(d))
    assert resolved_dict(again) == d
    a, b = build(rs).model, build(again).model
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_an_error_inside_a_block_names_the_full_key_path_and_its_line(catalog) -> None:
    """A wrong size deep in a block: located at the block's own key and line, naming the use."""
    text = NESTED.replace('{ type = "conv2d", out_channels = 8, kernel_size = 3, padding = 1 },',
                          '{ type = "conv2d", out_channels = 8, kernel_size = 3, padding = 1, in_channels = 3 },')
    with pytest.raises(SpecError) as e:
        build(resolved(catalog, text))
    (p,) = e.value.problems
    assert p.loc == ("model", "blocks", "res", "layers", 1, "in_channels")
    assert p.line == line_of(text, "in_channels = 3")
    assert p.message == (
        "in_channels = 3 but the input here has shape (8, 8, 8), so in_channels must be 8 (the channel dimension of "
        "the previous layer's output); remove it to have it inferred (in block 'res', used at model.layers[1])"
    )


def test_a_shape_mismatch_names_both_shapes_at_the_node(catalog) -> None:
    """parallel branches that cannot be concatenated: the container's key path, and each branch's shape."""
    text = NESTED.replace('[{ type = "avg_pool2d", kernel_size = 2 }],', '[{ type = "avg_pool2d", kernel_size = 4 }],')
    with pytest.raises(SpecError) as e:
        build(resolved(catalog, text))
    (p,) = e.value.problems
    assert (p.loc, p.line) == (("model", "layers", 2), line_of(text, 'type = "parallel"'))
    assert p.message == (
        "layer 'parallel' refused its parameters: merge = 'concat' joins the branches along their first dimension, "
        "so the others must agree; they give (8, 4, 4), (8, 2, 2)"
    )


@pytest.mark.parametrize(
    ("inner", "shape", "projection"),
    [
        ('{ type = "linear", out_features = 16 }', (16,), nn.Linear),
        ('{ type = "relu" }', (32,), type(None)),
    ],
)
def test_residual_projects_the_input_when_the_shape_changes(catalog, inner, shape, projection) -> None:
    """output = input + f(input): identity when f keeps the shape, a learned projection when it does not."""
    text = QUICK.replace('{ type = "relu" }', f'{{ type = "residual", layers = [{inner}] }}')
    built = build(resolved(catalog, text))
    res = built.model[2]
    assert built.model_plan.nodes[2].out_shape == shape
    assert type(res.projection) is projection
    x = torch.randn(4, 32)
    shortcut = x if res.projection is None else res.projection(x)
    assert torch.equal(res(x), res.layers(x) + shortcut)


def test_residual_projects_images_with_a_strided_convolution(catalog) -> None:
    """A residual that halves the image and doubles the channels gets a 1x1 stride-2 convolution and batch norm."""
    text = NESTED.replace("{ block = \"res\", repeat = 2 },", '{ type = "residual", layers = [{ type = "conv2d", out_channels = 16, kernel_size = 3, stride = 2, padding = 1 }] },')
    text = text.replace("merge = \"concat\"", "merge = \"sum\"")
    built = build(resolved(catalog, text))
    proj = built.model[1].projection
    assert isinstance(proj[0], nn.Conv2d) and proj[0].stride == (2, 2) and proj[0].out_channels == 16
    assert built.model_plan.nodes[1].out_shape == (16, 4, 4)


def test_the_loss_check_reads_the_output_through_the_nesting(catalog) -> None:
    """A model whose last entry is a sequential ending in log_softmax gives log-probabilities: nll fits."""
    text = QUICK.replace('  { type = "linear", out_features = 10 },\n  { type = "log_softmax", dim = 1 },',
                         '  { type = "sequential", layers = [{ type = "linear", out_features = 10 }, { type = "log_softmax", dim = 1 }] },')
    built = build(resolved(catalog, text))
    assert built.model_plan.produces == "log_probabilities" and built.warnings == ()
    with pytest.raises(SpecError, match=r"cross_entropy expects raw scores, but the model ends with 'softmax'"):
        build(resolved(catalog, text.replace('"log_softmax", dim = 1', '"softmax", dim = 1').replace('type = "nll"', 'type = "cross_entropy"')))


MLP_MODEL = QUICK.replace(
    QUICK[QUICK.index("[model]"):QUICK.index("[loss]")],
    '[model]\ntype = "mlp"\nhidden = [32]\n\n',
).replace('type = "nll"', 'type = "cross_entropy"')


def test_a_whole_architecture_takes_its_sizes_from_the_data(catalog) -> None:
    """[model] type = "mlp": in_features (64) and num_classes (10) come from the digits; the model trains."""
    built = build(resolved(catalog, MLP_MODEL))
    mlp = built.model[1]
    assert mlp[0].in_features == 64 and mlp[-2].out_features == 10
    assert built.model_plan.output_shape == (10,)
    assert [n.label for _, _, n in built.model_plan.walk()][:3] == ["mlp", "0 (Flatten)", "1 (MLP)"]


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small"])
def test_torchvision_architectures_take_one_channel_images(catalog, name) -> None:
    """resnet18 and mobilenet_v3_small on 1-channel 28x28 images: first convolution and classifier fitted to the data."""
    text = MLP_MODEL.replace('type = "mlp"\nhidden = [32]', f'type = "{name}"').replace(
        '{ type = "to_tensor" }', '{ type = "to_tensor" }, { type = "resize", size = 28 }')
    built = build(resolved(catalog, text), with_optimizer=False)
    first = next(m for m in built.model.modules() if isinstance(m, nn.Conv2d))
    assert first.in_channels == 1 and built.model_plan.output_shape == (10,)
    assert built.model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_the_spec_built_cnn_starts_from_the_hand_written_weights(catalog) -> None:
    """specs/fashion_mnist_cnn.toml and the same network written by hand: equal initial weights under one seed,
    and equal outputs."""
    from benchmarks.handwritten import FashionCNN

    from .conftest import SPECS

    text = (SPECS / "fashion_mnist_cnn.toml").read_text()
    built = build(resolved(catalog, text), with_optimizer=False)
    torch.manual_seed(0)
    hand = FashionCNN()
    ours = [p for _, p in built.model.named_parameters()]
    theirs = [p for _, p in hand.named_parameters()]
    assert [tuple(p.shape) for p in ours] == [tuple(p.shape) for p in theirs]
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))
    built.model.eval()
    hand.eval()
    x = torch.randn(3, 1, 28, 28)
    assert torch.allclose(built.model(x), hand(x), atol=1e-6)


def test_repeat_and_nesting_have_bounds(catalog) -> None:
    """Repeats multiplied through blocks, and blocks nested in blocks, are refused at their key paths; nothing hangs."""
    bomb = QUICK.replace("[model]\nlayers = [", """[model.blocks.b]
type = "relu"
repeat = 1000
[model.blocks.a]
block = "b"
repeat = 1000
[model]
layers = [
  { block = "a", repeat = 1000 },""")
    with pytest.raises(SpecError) as e:
        resolved(catalog, bomb)
    assert [(p.loc, p.message) for p in e.value.problems] == [
        (("model", "blocks", "a", "repeat"),
         "repeat = 1000 of block 'b', which repeats 1000 times itself, makes 1,000,000 copies in a row; at most 1,000"),
    ]  # fmt: skip
    chain = "".join(f'[model.blocks.b{i}]\ntype = "sequential"\nlayers = [{{ block = "b{i + 1}" }}]\n' for i in range(100))
    deep = QUICK.replace("[model]\nlayers = [", chain + '[model.blocks.b100]\ntype = "relu"\n[model]\nlayers = [\n  { block = "b0" },')
    with pytest.raises(SpecError) as e:
        resolved(catalog, deep)
    (p,) = e.value.problems
    assert p.message == "components are nested more than 32 deep here (through containers and blocks)"


def with_relu(layers: registry.Layers) -> nn.Module:
    """Its layers, then a ReLU appended to them."""
    layers.append(nn.ReLU())
    return layers


def test_a_container_is_built_once(catalog) -> None:
    """A container's factory runs once per node: a side effect on its children (appending a layer) happens once."""
    from registry.components.manager import build_catalog, load_plugins

    plugins = load_plugins(load_entrypoints=False)
    mod = type(registry)("mine")
    impl = registry.hookimpl(lambda: {"with_relu": with_relu})
    impl.__name__ = "registry_layers"
    mod.registry_layers = impl
    plugins.pm.register(mod, name="mine")
    text = QUICK.replace('{ type = "relu" }', '{ type = "with_relu", layers = [{ type = "linear", out_features = 8 }] }')
    model = build(resolved(build_catalog(plugins), text)).model
    assert [type(m).__name__ for m in model[2]] == ["Linear", "ReLU"]


def test_the_tree_shows_one_repetition_for_all(catalog) -> None:
    """validate's tree prints a repeated entry once with its count, and the first repetition's layers."""
    from registry.cli.render import render_model

    text = QUICK.replace('{ type = "relu" }', '{ type = "sequential", repeat = 50, layers = [{ type = "linear", out_features = 32 }, { type = "relu" }] }')
    tree = render_model(build(resolved(catalog, text)).model_plan)
    lines = tree.splitlines()
    assert "  sequential x50" in "\n".join(lines) and len(lines) == 1 + 5 + 1 + 2


def test_the_tree_shows_a_residuals_projection_so_that_the_counts_add_up(catalog) -> None:
    """A residual whose layers change the shape holds a projection: the tree shows it as a node, with its
    parameters and output shape, and a container's count is the sum of its rows."""
    from registry.cli.render import render_model

    text = QUICK.replace('  { type = "flatten" },\n', '  { type = "residual", layers = [{ type = "conv2d", out_channels = 4, '
                         'kernel_size = 3, padding = 1 }] },\n  { type = "flatten" },\n', 1)  # fmt: skip
    tree = render_model(build(resolved(catalog, text)).model_plan)
    rows = [line.split() for line in tree.splitlines()[1:4]]
    assert rows == [
        ["residual", "(4,", "8,", "8)", "52", "model.layers[0]"],
        ["layers:"],
        ["conv2d", "(4,", "8,", "8)", "40", "model.layers[0].layers[0]"],
    ]
    assert tree.splitlines()[4].split() == ["projection", "(Sequential)", "(4,", "8,", "8)", "12"]
