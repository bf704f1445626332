"""Sequence layers: embeddings of token ids, recurrent layers, self-attention and transformer encoders, positional
embeddings and pooling over steps. A sequence sample is ``(steps,)`` token ids (int64) before an embedding and
``(steps, features)`` after it; the batch comes first (``batch_first``), as everywhere in a chain. Each layer
infers its width (``input_size``, ``embed_dim``, ``d_model``) from the features that reach it.

Not done yet: padding masks. Every step of a sample counts (the sequences of one dataset have one length, as
``arrays`` gives them); masks come with text tables, whose sequences are padded per batch.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from registry import FEATURES, InputShape, aliases, example

Width = Annotated[int | None, FEATURES, Field(ge=1, description="inferred from the previous layer")]
Shape = Annotated[tuple[int, ...], InputShape()]
Heads = Annotated[int, Field(ge=1, description="attention heads; the width must divide by it")]
Dropout = Annotated[float, Field(ge=0, lt=1, description="dropout probability")]
Output = Annotated[
    Literal["sequence", "last"],
    Field(description="what flows on: 'sequence', the output at every step (steps, hidden); 'last', the final "
                      "hidden state (hidden,), both directions' when bidirectional"),
]  # fmt: skip
Causal = Annotated[bool, Field(description="each step attends to itself and earlier steps only (a decoder-only model)")]


def _steps(name: str, input_shape: tuple[int, ...]) -> None:
    if len(input_shape) != 2:
        raise ValueError(
            f"{name} takes (steps, features) samples, got {input_shape}: put an embedding before it (token ids), or "
            "unflatten the features into steps"
        )


def _divides(width: int, heads: int, what: str) -> None:
    if width % heads:
        raise ValueError(f"{what} ({width}) is not divisible by the {heads} heads")


def _causal_mask(steps: int, like: Tensor) -> Tensor:
    return torch.triu(torch.full((steps, steps), float("-inf"), device=like.device, dtype=like.dtype), 1)


@aliases("Embedding")
@example(input_shape=(6,), input_dtype="int64", num_embeddings=10, embedding_dim=4)
def embedding(
    num_embeddings: Annotated[int, Field(ge=1, description="the vocabulary's size: ids 0 to num_embeddings - 1")],
    embedding_dim: Annotated[int, Field(ge=1, description="the width of each token's vector")],
    padding_idx: Annotated[int | None, Field(ge=0, description="an id whose vector stays 0 and is not learned")] = None,
    max_norm: Annotated[float | None, Field(gt=0, description="vectors longer than this are rescaled to it")] = None,
    scale_grad_by_freq: bool = False,
) -> nn.Module:
    """A learned vector per token id: (steps,) int64 ids -> (steps, embedding_dim)."""
    if padding_idx is not None and padding_idx >= num_embeddings:
        raise ValueError(f"padding_idx ({padding_idx}) must be below num_embeddings ({num_embeddings})")
    return nn.Embedding(num_embeddings, embedding_dim, padding_idx, max_norm, scale_grad_by_freq=scale_grad_by_freq)


@aliases("EmbeddingBag")
@example(input_shape=(6,), input_dtype="int64", num_embeddings=10, embedding_dim=4)
def embedding_bag(
    num_embeddings: Annotated[int, Field(ge=1, description="the vocabulary's size: ids 0 to num_embeddings - 1")],
    embedding_dim: Annotated[int, Field(ge=1, description="the width of each token's vector")],
    mode: Annotated[Literal["mean", "sum", "max"], Field(description="how a sample's vectors are combined")] = "mean",
    padding_idx: Annotated[int | None, Field(ge=0, description="an id left out of the combination")] = None,
) -> nn.Module:
    """The mean (or sum, or max) of a sample's token vectors in one step: (steps,) int64 ids -> (embedding_dim,)."""
    if padding_idx is not None and padding_idx >= num_embeddings:
        raise ValueError(f"padding_idx ({padding_idx}) must be below num_embeddings ({num_embeddings})")
    return nn.EmbeddingBag(num_embeddings, embedding_dim, mode=mode, padding_idx=padding_idx)


class Recurrent(nn.Module):
    """torch's RNN, LSTM or GRU (batch first), giving one tensor: every step's output, or the final hidden state."""

    def __init__(self, rnn: nn.RNNBase, output: str) -> None:
        super().__init__()
        self.rnn = rnn
        self.output = output

    def forward(self, x: Tensor) -> Tensor:
        out, state = self.rnn(x)
        if self.output == "sequence":
            return out  # type: ignore[no-any-return]
        h = state[0] if isinstance(state, tuple) else state  # LSTM: (h, c)
        directions = 2 if self.rnn.bidirectional else 1
        return h[-directions:].transpose(0, 1).reshape(x.shape[0], -1)  # the top layer's, each direction

    def extra_repr(self) -> str:
        return f"output={self.output!r}"


def _recurrent(
    kind: str, input_shape: tuple[int, ...], input_size: int | None, hidden_size: int, num_layers: int, bias: bool,
    dropout: float, bidirectional: bool, output: str, **extra: str,
) -> nn.Module:  # fmt: skip
    _steps(kind, input_shape)
    assert input_size is not None
    if dropout and num_layers == 1:
        raise ValueError("dropout applies between layers: it needs num_layers of 2 or more")
    cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
    rnn = cls(input_size, hidden_size, num_layers, bias=bias, batch_first=True, dropout=dropout,
              bidirectional=bidirectional, **extra)  # fmt: skip
    return Recurrent(rnn, output)


Hidden = Annotated[int, Field(ge=1, description="the width of the hidden state (each direction's)")]
Layers = Annotated[int, Field(ge=1, description="recurrent layers stacked")]
Bidirectional = Annotated[bool, Field(description="also run the sequence backwards; the widths add up")]


@aliases("RNN")
@example(input_shape=(5, 3), hidden_size=4)
def rnn(
    input_shape: Shape,
    hidden_size: Hidden,
    num_layers: Layers = 1,
    nonlinearity: Literal["tanh", "relu"] = "tanh",
    bias: bool = True,
    dropout: Annotated[float, Field(ge=0, lt=1, description="dropout between stacked layers")] = 0.0,
    bidirectional: Bidirectional = False,
    output: Output = "sequence",
    input_size: Width = None,
) -> nn.Module:
    """Elman recurrent layer over (steps, features) samples."""
    return _recurrent("rnn", input_shape, input_size, hidden_size, num_layers, bias, dropout, bidirectional, output,
                      nonlinearity=nonlinearity)  # fmt: skip


@aliases("LSTM")
@example(input_shape=(5, 3), hidden_size=4)
def lstm(
    input_shape: Shape,
    hidden_size: Hidden,
    num_layers: Layers = 1,
    bias: bool = True,
    dropout: Annotated[float, Field(ge=0, lt=1, description="dropout between stacked layers")] = 0.0,
    bidirectional: Bidirectional = False,
    output: Output = "sequence",
    input_size: Width = None,
) -> nn.Module:
    """Long short-term memory layer (Hochreiter and Schmidhuber, 1997) over (steps, features) samples."""
    return _recurrent("lstm", input_shape, input_size, hidden_size, num_layers, bias, dropout, bidirectional, output)


@aliases("GRU")
@example(input_shape=(5, 3), hidden_size=4)
def gru(
    input_shape: Shape,
    hidden_size: Hidden,
    num_layers: Layers = 1,
    bias: bool = True,
    dropout: Annotated[float, Field(ge=0, lt=1, description="dropout between stacked layers")] = 0.0,
    bidirectional: Bidirectional = False,
    output: Output = "sequence",
    input_size: Width = None,
) -> nn.Module:
    """Gated recurrent unit layer (Cho et al., 2014) over (steps, features) samples."""
    return _recurrent("gru", input_shape, input_size, hidden_size, num_layers, bias, dropout, bidirectional, output)


class SelfAttention(nn.Module):
    """torch's MultiheadAttention with the sequence as query, key and value."""

    def __init__(self, attention: nn.MultiheadAttention, causal: bool) -> None:
        super().__init__()
        self.attention = attention
        self.causal = causal

    def forward(self, x: Tensor) -> Tensor:
        mask = _causal_mask(x.shape[1], x) if self.causal else None
        return self.attention(x, x, x, need_weights=False, attn_mask=mask, is_causal=self.causal)[0]  # type: ignore[no-any-return]


@aliases("MultiheadAttention")
@example(input_shape=(5, 4), num_heads=2)
def multihead_attention(
    input_shape: Shape,
    num_heads: Heads,
    dropout: Dropout = 0.0,
    bias: bool = True,
    causal: Causal = False,
    embed_dim: Width = None,
) -> nn.Module:
    """Multi-head self-attention (Vaswani et al., 2017): each step attends to every step, (steps, width) kept."""
    _steps("multihead_attention", input_shape)
    assert embed_dim is not None
    _divides(embed_dim, num_heads, "the width")
    return SelfAttention(nn.MultiheadAttention(embed_dim, num_heads, dropout, bias, batch_first=True), causal)


class Encoder(nn.Module):
    """A transformer encoder layer or stack, with a causal mask when asked."""

    def __init__(self, encoder: nn.Module, causal: bool) -> None:
        super().__init__()
        self.encoder = encoder
        self.causal = causal

    def forward(self, x: Tensor) -> Tensor:
        if not self.causal:
            return self.encoder(x)  # type: ignore[no-any-return]
        return self.encoder(x, mask=_causal_mask(x.shape[1], x), is_causal=True)  # type: ignore[no-any-return]


Feedforward = Annotated[int, Field(ge=1, description="the width of each block's feedforward layer")]
Activation = Annotated[Literal["relu", "gelu"], Field(description="the feedforward layer's activation")]
NormFirst = Annotated[bool, Field(description="normalise before attention and feedforward (pre-LN), not after")]


def _encoder_layer(
    input_shape: tuple[int, ...], d_model: int | None, nhead: int, dim_feedforward: int, dropout: float,
    activation: str, layer_norm_eps: float, norm_first: bool, name: str,
) -> nn.TransformerEncoderLayer:  # fmt: skip
    _steps(name, input_shape)
    assert d_model is not None
    _divides(d_model, nhead, "d_model, the width")
    return nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                                      batch_first=True, norm_first=norm_first)  # fmt: skip


@aliases("TransformerEncoderLayer")
@example(input_shape=(5, 4), nhead=2, dim_feedforward=8)
def transformer_encoder_layer(
    input_shape: Shape,
    nhead: Heads,
    dim_feedforward: Feedforward = 2048,
    dropout: Dropout = 0.1,
    activation: Activation = "relu",
    layer_norm_eps: Annotated[float, Field(gt=0)] = 1e-5,
    norm_first: NormFirst = False,
    causal: Causal = False,
    d_model: Width = None,
) -> nn.Module:
    """One transformer encoder block: self-attention and a feedforward layer, each with a residual and a norm."""
    layer = _encoder_layer(input_shape, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                           norm_first, "transformer_encoder_layer")  # fmt: skip
    return Encoder(layer, causal)


@aliases("TransformerEncoder")
@example(input_shape=(5, 4), num_layers=2, nhead=2, dim_feedforward=8)
def transformer_encoder(
    input_shape: Shape,
    num_layers: Annotated[int, Field(ge=1, description="encoder blocks stacked, each with its own weights")],
    nhead: Heads,
    dim_feedforward: Feedforward = 2048,
    dropout: Dropout = 0.1,
    activation: Activation = "relu",
    layer_norm_eps: Annotated[float, Field(gt=0)] = 1e-5,
    norm_first: NormFirst = False,
    final_norm: Annotated[bool | None, Field(description="a layer norm after the stack (default: with norm_first)")]
    = None,
    causal: Causal = False,
    d_model: Width = None,
) -> nn.Module:
    """A stack of transformer encoder blocks over (steps, width) samples (BERT's, a ViT's, a decoder-only model's
    with causal = true)."""
    layer = _encoder_layer(input_shape, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                           norm_first, "transformer_encoder")  # fmt: skip
    assert d_model is not None
    norm = nn.LayerNorm(d_model, layer_norm_eps) if (norm_first if final_norm is None else final_norm) else None
    return Encoder(nn.TransformerEncoder(layer, num_layers, norm, enable_nested_tensor=False), causal)


class Positions(nn.Module):
    """Adds a position's vector to each step: learned, or the fixed sines and cosines of Vaswani et al."""

    def __init__(self, kind: str, max_length: int, width: int, dropout: float) -> None:
        super().__init__()
        self.kind = kind
        self.dropout = nn.Dropout(dropout)
        if kind == "learned":
            self.table = nn.Embedding(max_length, width)
        else:
            position = torch.arange(max_length, dtype=torch.float32).unsqueeze(1)
            rate = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
            table = torch.zeros(max_length, width)
            table[:, 0::2] = torch.sin(position * rate)
            table[:, 1::2] = torch.cos(position * rate[: width // 2])
            self.register_buffer("sines", table)

    def forward(self, x: Tensor) -> Tensor:
        steps = x.shape[1]
        at = self.table.weight[:steps] if self.kind == "learned" else self.sines[:steps]
        return self.dropout(x + at)  # type: ignore[no-any-return]

    def extra_repr(self) -> str:
        return self.kind


@aliases("PositionalEmbedding", "PositionalEncoding")
@example(input_shape=(5, 4))
def positional_embedding(
    input_shape: Shape,
    kind: Annotated[Literal["sinusoidal", "learned"], Field(description="fixed sines and cosines, or learned")]
    = "sinusoidal",
    max_length: Annotated[int | None, Field(ge=1, description="the most steps it takes (default: the input's)")]
    = None,
    dropout: Dropout = 0.0,
) -> nn.Module:
    """Adds each step's position to it: (steps, width) -> (steps, width), before attention, which has no order."""
    _steps("positional_embedding", input_shape)
    steps, width = input_shape
    length = max_length or steps
    if length < steps:
        raise ValueError(f"max_length ({length}) is below the input's {steps} steps")
    return Positions(kind, length, width, dropout)


class StepPool(nn.Module):
    """The mean or max over the steps, or the first or last step: (steps, width) -> (width,)."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def forward(self, x: Tensor) -> Tensor:
        if self.mode == "mean":
            return x.mean(1)
        if self.mode == "max":
            return x.amax(1)
        return x[:, 0] if self.mode == "first" else x[:, -1]

    def extra_repr(self) -> str:
        return self.mode


@aliases("SequencePool")
@example(input_shape=(5, 4))
def sequence_pool(
    input_shape: Shape,
    mode: Annotated[
        Literal["mean", "max", "first", "last"],
        Field(description="the mean or max over the steps, the first step (a [CLS] token's), or the last"),
    ] = "mean",
) -> nn.Module:
    """One vector per sequence: (steps, width) -> (width,), for a classifier after an encoder."""
    _steps("sequence_pool", input_shape)
    return StepPool(mode)


SEQUENCES = {
    f.__name__: f
    for f in (
        embedding, embedding_bag, rnn, lstm, gru, multihead_attention, transformer_encoder_layer, transformer_encoder,
        positional_embedding, sequence_pool,
    )
}  # fmt: skip
