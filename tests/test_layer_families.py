"""torch.nn's layer families in specs: each size inferred from what reaches it, the shapes through 1-, 2- and 3-D
chains exactly as torch gives them, what a family cannot take located, and a 1-D convolutional model trains."""

from __future__ import annotations

import pytest

from registry.building.builder import build
from registry.cli import ExitCode, main
from registry.errors import SpecError
from registry.resolution.resolver import resolve_text

from .conftest import QUICK

HEAD = QUICK.replace('  { type = "log_softmax", dim = 1 },\n', "").replace('"nll"', '"cross_entropy"')


def spec(layers: str) -> str:
    """The quickstart's data (digits: (1, 8, 8) samples) and training, with these layers."""
    start, end = HEAD.index("layers = ["), HEAD.index("]\n[loss]") + 2
    return HEAD[:start] + f"layers = [\n{layers}\n]\n" + HEAD[end:]


def shapes(catalog, layers: str) -> list[tuple[str, tuple[int, ...]]]:
    built = build(resolve_text(spec(layers), catalog, "s.toml"), with_optimizer=False)
    return [(n.resolved.name, n.out_shape) for n in built.model_plan.nodes if n.resolved is not None]


def test_two_dimensional_families(catalog) -> None:
    got = shapes(catalog, """
  { type = "conv_transpose2d", out_channels = 4, kernel_size = 2, stride = 2 },
  { type = "instance_norm", affine = true },
  { type = "reflection_pad2d", padding = 1 },
  { type = "conv2d", out_channels = 8, kernel_size = 3, padding_mode = "circular" },
  { type = "pixel_unshuffle", downscale_factor = 2 },
  { type = "pixel_shuffle", upscale_factor = 2 },
  { type = "upsample", scale_factor = 2, mode = "bilinear" },
  { type = "adaptive_avg_pool2d", output_size = 4 },
  { type = "dropout2d", p = 0.1 },
  { type = "lp_pool2d", norm_type = 2, kernel_size = 2 },
  { type = "group_norm", num_groups = 4 },
  { type = "global_avg_pool" },
  { type = "rms_norm" },
  { type = "linear", out_features = 10 },""")
    assert got == [
        ("conv_transpose2d", (4, 16, 16)), ("instance_norm", (4, 16, 16)), ("reflection_pad2d", (4, 18, 18)),
        ("conv2d", (8, 16, 16)), ("pixel_unshuffle", (32, 8, 8)), ("pixel_shuffle", (8, 16, 16)),
        ("upsample", (8, 32, 32)), ("adaptive_avg_pool2d", (8, 4, 4)), ("dropout2d", (8, 4, 4)),
        ("lp_pool2d", (8, 2, 2)), ("group_norm", (8, 2, 2)), ("global_avg_pool", (8,)), ("rms_norm", (8,)),
        ("linear", (10,)),
    ]  # fmt: skip


def test_one_and_three_dimensional_families(catalog) -> None:
    one = shapes(catalog, """
  { type = "flatten" },
  { type = "unflatten", sizes = [1, 64] },
  { type = "conv1d", out_channels = 4, kernel_size = 3, padding = "same" },
  { type = "avg_pool1d", kernel_size = 2 },
  { type = "batch_norm" },
  { type = "circular_pad1d", padding = [1, 2] },
  { type = "adaptive_max_pool1d", output_size = 8 },
  { type = "dropout1d" },
  { type = "conv_transpose1d", out_channels = 2, kernel_size = 2, stride = 2 },
  { type = "global_max_pool" },
  { type = "linear", out_features = 10 },""")
    assert one == [
        ("flatten", (64,)), ("unflatten", (1, 64)), ("conv1d", (4, 64)), ("avg_pool1d", (4, 32)),
        ("batch_norm", (4, 32)), ("circular_pad1d", (4, 35)), ("adaptive_max_pool1d", (4, 8)), ("dropout1d", (4, 8)),
        ("conv_transpose1d", (2, 16)), ("global_max_pool", (2,)), ("linear", (10,)),
    ]  # fmt: skip
    three = shapes(catalog, """
  { type = "flatten" },
  { type = "unflatten", sizes = [1, 4, 4, 4] },
  { type = "conv3d", out_channels = 2, kernel_size = 3, padding = 1 },
  { type = "batch_norm" },
  { type = "max_pool3d", kernel_size = 2 },
  { type = "conv_transpose3d", out_channels = 3, kernel_size = 2, stride = 2 },
  { type = "replication_pad3d", padding = 1 },
  { type = "adaptive_avg_pool3d", output_size = 2 },
  { type = "global_avg_pool" },
  { type = "linear", out_features = 10 },""")
    assert three == [
        ("flatten", (64,)), ("unflatten", (1, 4, 4, 4)), ("conv3d", (2, 4, 4, 4)), ("batch_norm", (2, 4, 4, 4)),
        ("max_pool3d", (2, 2, 2, 2)), ("conv_transpose3d", (3, 4, 4, 4)), ("replication_pad3d", (3, 6, 6, 6)),
        ("adaptive_avg_pool3d", (3, 2, 2, 2)), ("global_avg_pool", (3,)), ("linear", (10,)),
    ]  # fmt: skip
    built = build(resolve_text(spec('  { type = "flatten" },\n  { type = "unflatten", sizes = [1, 4, 4, 4] },\n'
                                    '  { type = "batch_norm" },\n  { type = "flatten" },\n'
                                    '  { type = "linear", out_features = 10 },'), catalog, "s.toml"),
                  with_optimizer=False)  # fmt: skip
    assert type(built.model[2]).__name__ == "BatchNorm3d"


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ('{ type = "instance_norm" }', "s.toml:9: model.layers[1]: layer 'instance_norm' refused its parameters: "
         "instance_norm takes (C, L), (C, H, W) or (C, D, H, W) samples, got (64,)"),
        ('{ type = "upsample", size = 4, scale_factor = 2.0 }', "s.toml:9: model.layers[1]: layer 'upsample' "
         "refused its parameters: give size or scale_factor, one of them"),
        ('{ type = "group_norm", num_groups = 3 }', "s.toml:9: model.layers[1]: layer 'group_norm' refused its "
         "parameters: the 64 channels do not divide into num_groups = 3"),
        ('{ type = "dropout2d" }', "s.toml:9: model.layers[1]: layer 'dropout2d' refused its parameters: dropout2d "
         "zeroes whole channels of (C, H, W) samples, got (64,)"),
        ('{ type = "conv1d", out_channels = 4, kernel_size = 3, groups = 3 }', "s.toml:9: model.layers[1]: layer "
         "'conv1d' refused its parameters: in_channels (64) is not divisible by groups (3)"),
    ],
)  # fmt: skip
def test_what_a_family_cannot_take_is_located(catalog, layer, message) -> None:
    """Each after a flatten: 64 features per sample, or (64, ...) read as channels."""
    text = spec(f'  {{ type = "flatten" }},\n  {layer},\n  {{ type = "linear", out_features = 10 }},')
    with pytest.raises(SpecError) as e:
        build(resolve_text(text, catalog, "s.toml"), with_optimizer=False)
    assert [p.render("s.toml") for p in e.value.problems] == [message]


def test_a_one_dimensional_convolutional_model_trains(tmp_path, capsys) -> None:
    path = tmp_path / "conv1d.toml"
    path.write_text(spec("""
  { type = "flatten" },
  { type = "unflatten", sizes = [1, 64] },
  { type = "conv1d", out_channels = 8, kernel_size = 5, padding = "same" },
  { type = "group_norm", num_groups = 2 },
  { type = "gelu" },
  { type = "max_pool1d", kernel_size = 2 },
  { type = "global_avg_pool" },
  { type = "linear", out_features = 10 },""").replace("epochs = 1", "epochs = 2"))
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--quiet"]) == ExitCode.OK
    rows = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 2
