"""The catalogue's coverage of torch.nn, as a fact of the suite: each of torch.nn's public modules answers to its
class name in the catalog (a layer, an activation, a loss, a container), or NOT_REGISTERED says why it does not."""

from __future__ import annotations

import inspect

import pytest
from torch import nn

from registry.components.manager import load_catalog

pytestmark = pytest.mark.usefixtures("builtins_only")

TWO_INPUTS = "takes two inputs, where a chain passes one tensor on: for a graph of layers (issue #27, graphs)"
CELL = "one step of a recurrent layer, for a loop written by hand: rnn, lstm and gru run the whole sequence"
LAZY = "infers its input size when first called; every layer here has its input size inferred before it is built"
PAIRS = "compares pairs or triplets of samples: it needs a pair sampler, not a dataset of samples and labels"
NOT_REGISTERED = {
    "Module": "the base class of every layer", "Container": "torch's deprecated container base class",
    "ModuleList": "holds modules without a forward: a spec's containers (sequential, residual, parallel) wire them",
    "ModuleDict": "holds modules without a forward: a spec's containers (sequential, residual, parallel) wire them",
    "ParameterList": "holds parameters, not a layer", "ParameterDict": "holds parameters, not a layer",
    "SyncBatchNorm": "batch norm across processes: not done (docs/training.md, 'More than one process')",
    "RNNBase": "the base class of rnn, lstm, gru", "RNNCellBase": "the base class of the RNN cells",
    "Bilinear": TWO_INPUTS, "CosineSimilarity": TWO_INPUTS, "PairwiseDistance": TWO_INPUTS,
    "MaxUnpool1d": TWO_INPUTS + " (a max pool's output and its indices)", "MaxUnpool2d": TWO_INPUTS + " (a max "
    "pool's output and its indices)", "MaxUnpool3d": TWO_INPUTS + " (a max pool's output and its indices)",
    "RNNCell": CELL, "LSTMCell": CELL, "GRUCell": CELL,
    "Transformer": TWO_INPUTS + " (the source and the target)",
    "TransformerDecoder": TWO_INPUTS + " (the target and the encoder's memory); a decoder-only model is "
    "transformer_encoder with causal = true",
    "TransformerDecoderLayer": TWO_INPUTS + " (the target and the encoder's memory); a decoder-only model is "
    "transformer_encoder_layer with causal = true",
    "AdaptiveLogSoftmaxWithLoss": "an output layer and its loss in one, taking the targets in its forward",
    "CrossMapLRN2d": "Lua torch's form of local_response_norm, which is registered",
    "Softmax2d": "softmax over the channels of (C, H, W) samples: softmax with dim = 1 is the same",
    "UpsamplingNearest2d": "deprecated by torch for Upsample: upsample with mode = 'nearest'",
    "UpsamplingBilinear2d": "deprecated by torch for Upsample: upsample with mode = 'bilinear', align_corners = true",
    "NLLLoss2d": "torch's deprecated name of NLLLoss (nll)",
    "LinearCrossEntropyLoss": "a linear layer and cross-entropy fused, holding the weight: linear, then cross_entropy",
    "CTCLoss": "aligns sequences: it needs the outputs' and targets' lengths (issue #27, sequences and text)",
    "GaussianNLLLoss": "takes a predicted variance beside the output: a third input",
    "KLDivLoss": "needs a probability distribution as the target; no dataset gives soft targets yet (issue #27, "
                 "mixup and cutmix)",
    "MultiLabelMarginLoss": "its targets are class indices padded with -1; multilabel targets here are 0/1 vectors "
                            "(multilabel_soft_margin takes them)",
    "SoftMarginLoss": "its targets are -1 or 1; binary targets here are 0 or 1 (bce_with_logits takes them)",
    "CosineEmbeddingLoss": PAIRS, "HingeEmbeddingLoss": PAIRS, "MarginRankingLoss": PAIRS,
    "TripletMarginLoss": PAIRS, "TripletMarginWithDistanceLoss": PAIRS,
}  # fmt: skip
NOT_REGISTERED |= {n: LAZY for n in dir(nn) if n.startswith("Lazy")}


def torch_modules() -> list[str]:
    """torch.nn's public module classes, by name."""
    return sorted(
        n for n in nn.modules.__all__ if inspect.isclass(getattr(nn, n, None)) and issubclass(getattr(nn, n), nn.Module)
    )


def test_every_torch_nn_module_is_registered_or_says_why_not() -> None:
    catalog = load_catalog(load_entrypoints=False)
    answers = {alias for c in catalog for alias in c.aliases}
    registered = [n for n in torch_modules() if n in answers]
    unaccounted = [n for n in torch_modules() if n not in answers and n not in NOT_REGISTERED]
    assert not unaccounted, f"torch.nn modules neither registered nor in NOT_REGISTERED: {unaccounted}"
    both = sorted(set(registered) & set(NOT_REGISTERED))
    assert not both, f"registered, yet listed as not: {both}"
    stale = sorted(set(NOT_REGISTERED) - set(torch_modules()))
    assert not stale, f"NOT_REGISTERED names what torch.nn does not have: {stale}"
    assert len(registered) >= 100  # the families of issue #27: convolutions, pools, norms, padding, activations


def test_each_registered_torch_name_builds_that_class() -> None:
    """A component answering to a torch.nn class name builds that class (or, for batch_norm and instance_norm, the
    one of their family that its input picks), on an input it takes."""
    import torch

    from registry.building.network import build_layer
    from registry.testing import DEFAULT_SHAPE

    catalog = load_catalog(load_entrypoints=False)
    from registry.testing import _resolved

    for c in catalog.list("layer") + catalog.list("activation"):
        names = [a for a in c.aliases if hasattr(nn, a) and a in torch_modules()]
        if not names or c.schema.nested:
            continue
        shape, dtype = c.example.input_shape or DEFAULT_SHAPE, getattr(torch, c.example.input_dtype)
        x = torch.randn(4, *shape) if dtype.is_floating_point else torch.randint(0, 2, (4, *shape), dtype=dtype)
        module, _ = build_layer(_resolved(c, catalog), x)
        built = type(module.rnn if hasattr(module, "rnn") else module).__name__  # a recurrent layer's own class
        built = type(module.attention).__name__ if hasattr(module, "attention") else built
        built = type(module.encoder).__name__ if hasattr(module, "encoder") else built
        assert built in names or (c.name in ("batch_norm", "instance_norm") and built.startswith(names[0][:-2])), (
            f"{c.name} answers to {names} but builds {built}"
        )
