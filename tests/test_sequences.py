"""Sequence layers in specs: token ids through an embedding, a transformer encoder and pooling; float sequences
through a bidirectional LSTM; shapes inferred step by step; what a sequence layer cannot take located; both train
to a given accuracy on a task their labels make learnable."""

from __future__ import annotations

import json

import numpy as np
import pytest
from registry_specs.example_data import write_tokens

from registry.building.builder import build
from registry.cli import ExitCode, main
from registry.errors import SpecError
from registry.resolution.resolver import resolve_text

TOKENS = """\
seed = 0
[data]
dataset = "arrays"
path = "tokens.npz"
token_ids = true
batch_size = 32
[model]
layers = [
  { type = "embedding", num_embeddings = 20, embedding_dim = 16 },
  { type = "positional_embedding" },
  { type = "transformer_encoder", num_layers = 1, nhead = 2, dim_feedforward = 32, dropout = 0.0 },
  { type = "sequence_pool", mode = "mean" },
  { type = "linear", out_features = 2 },
]
[loss]
type = "cross_entropy"
[optimizer]
type = "adam"
lr = 0.01
[train]
epochs = 6
device = "cpu"
"""

SIGNALS = TOKENS.replace('path = "tokens.npz"\ntoken_ids = true', 'path = "signals.npz"').replace(
    """  { type = "embedding", num_embeddings = 20, embedding_dim = 16 },
  { type = "positional_embedding" },
  { type = "transformer_encoder", num_layers = 1, nhead = 2, dim_feedforward = 32, dropout = 0.0 },
  { type = "sequence_pool", mode = "mean" },""",
    '  { type = "lstm", hidden_size = 8, bidirectional = true, output = "last" },',
)


@pytest.fixture
def data(tmp_path):
    """tokens.npz: 400 sequences of 12 ids in 0..19, labelled by whether id 3 occurs more often than id 4;
    signals.npz: 400 sequences of 10 steps of 3 values, labelled by the sign of the first value's sum."""
    write_tokens(tmp_path / "tokens.npz")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 10, 3)).astype(np.float32)
    np.savez(tmp_path / "signals.npz", inputs=x, targets=(x[:, :, 0].sum(1) > 0).astype(np.int64))
    return tmp_path


def nodes(catalog, text, folder):
    built = build(resolve_text(text, catalog, str(folder / "s.toml")), with_optimizer=False)
    return [(n.resolved.name, n.out_shape) for n in built.model_plan.nodes], built


def test_shapes_through_the_sequence_layers(catalog, data) -> None:
    got, built = nodes(catalog, TOKENS, data)
    assert got == [("embedding", (12, 16)), ("positional_embedding", (12, 16)), ("transformer_encoder", (12, 16)),
                   ("sequence_pool", (16,)), ("linear", (2,))]  # fmt: skip
    assert built.data.dataset.sample_dtype.is_floating_point is False
    assert nodes(catalog, SIGNALS, data)[0] == [("lstm", (16,)), ("linear", (2,))]  # both directions' last states
    sequence = SIGNALS.replace('output = "last"', 'output = "sequence"').replace(
        '  { type = "linear", out_features = 2 },',
        '  { type = "multihead_attention", num_heads = 4, causal = true },\n  { type = "sequence_pool", mode = "last" },'
        '\n  { type = "linear", out_features = 2 },',
    )
    assert nodes(catalog, sequence, data)[0] == [
        ("lstm", (10, 16)), ("multihead_attention", (10, 16)), ("sequence_pool", (16,)), ("linear", (2,))
    ]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('  { type = "embedding", num_embeddings = 20, embedding_dim = 16 },\n',
         '  { type = "embedding", num_embeddings = 20, embedding_dim = 16 },\n  { type = "flatten" },\n',
         "s.toml:11: model.layers[2]: layer 'positional_embedding' refused its parameters: positional_embedding takes "
         "(steps, features) samples, got (192,): put an embedding before it (token ids), or unflatten the features "
         "into steps"),
        ("nhead = 2", "nhead = 3",
         "s.toml:11: model.layers[2]: layer 'transformer_encoder' refused its parameters: d_model, the width (16) is "
         "not divisible by the 3 heads"),
        ('{ type = "positional_embedding" }', '{ type = "positional_embedding", max_length = 8 }',
         "s.toml:10: model.layers[1]: layer 'positional_embedding' refused its parameters: max_length (8) is below "
         "the input's 12 steps"),
        ("token_ids = true\n", "",
         "s.toml:8: model.layers[0]: embedding cannot take input of shape (12,): Expected tensor for argument #1 "
         "'indices' to have one of the following scalar types: Long, Int; but got torch.FloatTensor instead (while "
         "checking arguments for embedding)"),
    ],
)  # fmt: skip
def test_what_a_sequence_layer_cannot_take_is_located(catalog, data, old, new, message) -> None:
    assert old in TOKENS
    with pytest.raises(SpecError) as e:
        nodes(catalog, TOKENS.replace(old, new), data)
    assert [p.render("s.toml") for p in e.value.problems] == [message]


@pytest.mark.parametrize(("text", "name", "least"), [(TOKENS, "tokens", 0.85), (SIGNALS, "signals", 0.9)])
def test_sequence_models_train(data, text, name, least) -> None:
    spec = data / f"{name}.toml"
    spec.write_text(text)
    assert main(["run", str(spec), "--out", str(data / "run"), "--quiet"]) == ExitCode.OK
    rows = [json.loads(line) for line in (data / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and rows[-1]["test_accuracy"] >= least, rows[-1]


RESUMED = TOKENS.replace("dropout = 0.0 }", "dropout = 0.1 }").replace(
    "epochs = 6", "epochs = 2\ncheckpoint_every = 5\nkeep_checkpoints = 2"
)


@pytest.mark.parametrize(("where", "n"), [("step", 13), ("write", 3)])
def test_a_sequence_model_resumes_bit_identically(data, where, n) -> None:
    """The transformer with dropout: SIGKILL mid-epoch or mid-checkpoint, --resume, the uninterrupted result."""
    from .test_checkpoint import _killed_and_resumed, cli, final_state

    (data / "ref.toml").write_text(RESUMED)
    code, _, err = cli("run", str(data / "ref.toml"), "--out", str(data / "ref"))
    assert code == 0, err
    _killed_and_resumed(data, RESUMED, final_state(data / "ref"), where, n)


@pytest.mark.parametrize("text", [TOKENS, SIGNALS], ids=["transformer", "lstm"])
def test_sequence_models_export_verified(data, text, capsys) -> None:
    (data / "s.toml").write_text(text.replace("epochs = 6", "epochs = 1"))
    assert main(["run", str(data / "s.toml"), "--out", str(data / "run"), "--quiet"]) == ExitCode.OK
    capsys.readouterr()
    assert main(["export", str(data / "run")]) == ExitCode.OK
    out, err = capsys.readouterr()
    assert "verified on 80 test samples" in out and "Warning" not in err, err
