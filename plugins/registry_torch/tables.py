"""The user's own data as numbers: a table (CSV or Parquet) and arrays (``.npz`` or ``.safetensors``).

A table's features are encoded as a network takes them: numeric columns standardised, categorical ones
one-hot, both with what the training split alone shows (a test row never shapes the encoding), and what
was fitted is kept in the run (``data.json``) so that ``predict`` encodes new rows the same way. The table
is read when the dataset is declared (``validate`` too), because the number of features follows from its
categories: every fault of the spec (a missing column, a text column left unencoded) is found before
anything is trained. pandas reads the files (the ``tables`` extra: ``pip install 'torch-spec-registry[tables]'``).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from registry import (
    CheckpointError,
    DataError,
    Dataset,
    DatasetNotFoundError,
    DatasetSplits,
    Inputs,
    ParamError,
    SpecPath,
    Split,
    example,
)

from .gaps import Missing, Unknown, check_gaps, fill, fill_values, unknown_values

TestFraction = Annotated[float, Field(gt=0, lt=1, description="share of the rows held out, when there is no test file")]
SplitSeed = Annotated[int, Field(ge=0, description="seed of the train/test split")]
TargetKind = Annotated[
    Literal["auto", "classes", "multilabel", "values"],
    Field(
        description="what the targets are: class labels, 0/1 labels (several columns), or real values; 'auto' "
        "reads text, booleans and whole numbers with at most 50 distinct values as classes, several 0/1 "
        "columns as labels, and the rest as values"
    ),
]
MAX_AUTO_CLASSES = 50
MissingPolicy = Annotated[
    Missing,
    Field(description="an empty cell in a feature or a target: 'error' names every one (file, column, rows); 'drop' "
          "leaves those rows out; 'fill' puts in the training rows' mean (numbers, booleans) or most frequent value "
          "(categories), kept in the run so that predict fills the same way (a target is never filled)"),
]  # fmt: skip
UnknownPolicy = Annotated[
    Unknown,
    Field(description="a categorical feature's value the training rows never showed (in the test rows, or at "
          "predict): 'error' names it; 'ignore' encodes it as no category (all zeros), with a warning"),
]  # fmt: skip


def _file(path: str, param: str) -> Path:
    p = Path(path).expanduser()
    if not p.is_file():
        raise DatasetNotFoundError(f"{p}: no such file (data.{param})", [str(p)])
    return p


def _read(path: Path, param: str) -> Any:
    """The table at *path* as a pandas DataFrame (CSV or Parquet, by its suffix)."""
    try:
        import pandas as pd
    except ImportError:
        raise ParamError(param, "reading a table needs pandas: pip install 'torch-spec-registry[tables]'") from None
    if path.suffix in (".csv", ".tsv", ".txt"):
        _check_text(path)
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        if path.suffix in (".csv", ".tsv", ".txt"):
            return pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", engine="c")
    except MemoryError:
        size = path.stat().st_size
        raise DataError(f"{path}: too large to read into this machine's memory ({size:,} bytes)") from None
    except ImportError as e:  # parquet needs pyarrow
        raise ParamError(
            param, f"reading {path.suffix} files needs pyarrow: pip install 'torch-spec-registry[tables]' ({e})"
        ) from None
    except (ValueError, OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not a readable table: {e}") from None
    raise ParamError(param, f"{path.name}: a table is a .csv, .tsv or .parquet file")


def _check_text(path: Path) -> None:
    """Refuse a file that is not text before pandas reads it: NUL bytes (a sparse or binary file), or a
    first line longer than any header (a file that is one endless line)."""
    with open(path, "rb") as f:
        head = f.read(TEXT_PROBE)
    if b"\0" in head:
        raise DataError(f"{path}: not a text table (it holds NUL bytes: a binary or sparse file)")
    if len(head) == TEXT_PROBE and b"\n" not in head:
        raise DataError(f"{path}: not a text table (no line break in its first {TEXT_PROBE:,} bytes)")


TEXT_PROBE = 1 << 24
"""How much of a text table is looked at before pandas reads it: its header must end within it."""
SHOWN_COLUMNS = 20


def _columns(frame: Any, names: Sequence[str], param: str) -> None:
    have = [str(c) for c in frame.columns]
    known = set(have)
    for name in names:
        if name not in known:
            raise ParamError(param, f"the table has no column {name!r}{_which(have, name)}")


def _which(have: list[str], name: str) -> str:
    """What a message may say of a table's columns. A file that is not a table (a key, a password file)
    parses as one column whose name is its first line: its header is never shown."""
    if len(have) < 2 or any(len(c) > 64 or not c.isprintable() for c in have):
        return f" (its first line is not a header of named columns: {len(have)} column(s); is it a table?)"
    near = difflib.get_close_matches(name, have, n=1)
    hint = f"; did you mean {near[0]!r}?" if near else "."
    listed = ", ".join(have[:SHOWN_COLUMNS]) + (f" ... ({len(have)} in all)" if len(have) > SHOWN_COLUMNS else "")
    return f"{hint} Its columns: {listed}"


def _is_numeric(column: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(column)) and not pd.api.types.is_bool_dtype(column)


def _is_number_feature(column: Any, dtype: Any) -> bool:
    """Whether a feature column holds numbers: numbers, or booleans (0 and 1), empty cells aside."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return True
    return bool(pd.api.types.is_object_dtype(dtype)) and pd.api.types.infer_dtype(column, skipna=True) == "boolean"


def _target_kind(frame: Any, targets: list[str], declared: str) -> str:
    if declared != "auto":
        return declared
    if len(targets) > 1:
        values = frame[targets].to_numpy()
        return "multilabel" if np.isin(values, (0, 1)).all() else "values"
    column = frame[targets[0]]
    if not _is_numeric(column):
        return "classes"
    values = column.to_numpy(dtype=float)
    whole = bool(np.all(np.mod(values[:1000], 1) == 0)) and bool(np.all(np.mod(values, 1) == 0))  # a glance first
    return "classes" if whole and column.nunique() <= MAX_AUTO_CLASSES else "values"


def _texts(column: Any) -> Any:
    """A column's values as text (the names of its categories or classes: 'paris', '3')."""
    return column.astype(str)


def _codes(column: Any, levels: Sequence[str]) -> np.ndarray:
    """Each value's index among *levels* (-1 for a value not among them)."""
    import pandas as pd

    return np.asarray(pd.Index(list(levels)).get_indexer(_texts(column)), dtype=np.int64)


CHUNK = 32768
"""Rows handled at a time when the statistics and the encoding are computed: small enough for a chunk's
temporaries to stay in the CPU's cache, so that each pass reads the table once and writes the result once."""


def _numbers(frame: Any, columns: list[str]) -> np.ndarray:
    """The *columns* of *frame* as one float64 array (rows, columns): pandas' own block where it is one."""
    return np.asarray(frame[columns].to_numpy(dtype=np.float64))


def _mean_std(block: np.ndarray, held_out: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and standard deviation over the rows of *block* that are not *held_out* (a mask),
    in float64: the sums of all rows less the held-out rows', then the squares of the centred values chunk by
    chunk, so that the training rows are never copied whole."""
    held = block[held_out] if held_out is not None else block[:0]
    n = len(block) - len(held)
    mean = (block.sum(axis=0) - held.sum(axis=0)) / n
    held = held - mean
    squares = -np.einsum("ij,ij->j", held, held)
    centred = np.empty((min(CHUNK, len(block)), block.shape[1]))
    for r0 in range(0, len(block), CHUNK):
        part = np.subtract(block[r0 : r0 + CHUNK], mean, out=centred[: len(block[r0 : r0 + CHUNK])])
        squares += np.einsum("ij,ij->j", part, part)
    return mean, np.sqrt(np.maximum(squares, 0.0) / n)


def _fit(
    frame: Any, held_out: np.ndarray | None, features: list[str], categorical: Sequence[str], standardize: bool
) -> dict[str, Any]:
    """What encoding the features take, learnt from the training rows alone: every row of *frame* but the
    *held_out* ones (a mask of the test rows of a split)."""
    names = [c for c in features if c not in categorical]
    numeric = {col: [0.0, 1.0] for col in names}
    if standardize and names:
        means, stds = _mean_std(_numbers(frame, names), held_out)
        numeric = {col: [float(m), float(s) if s > 0 else 1.0] for col, m, s in zip(names, means, stds, strict=True)}
    categories = {}
    for col in categorical:
        texts = _texts(frame[col])
        texts = texts if held_out is None else texts[~held_out]
        categories[col] = sorted(texts.unique().tolist())
    return {"kind": "table", "features": features, "numeric": numeric, "categories": categories}


def _fitted(frame: Any, held_out: np.ndarray | None, features: list[str], categorical: Sequence[str],
            standardize: bool, missing: Missing, unknown: Unknown) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    """*frame* with its empty cells filled (``missing = 'fill'``), and the encoding learnt from its training rows
    (those not *held_out*), with the policies predict applies."""
    values = fill_values(frame, held_out, features, categorical) if missing == "fill" else {}
    frame = fill(frame, values)
    fitted = _fit(frame, held_out, features, categorical, standardize)
    return frame, {**fitted, "missing": missing, "fill": values, "unknown": unknown}


Finite = Annotated[float, Field(allow_inf_nan=False)]
Scale = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Name = Annotated[str, Field(max_length=4096)]


class TableEncoding(BaseModel):
    """What a table's encoding learnt from the training rows, as a run's ``data.json`` keeps it."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    kind: Literal["table"]
    features: Annotated[list[Name], Field(min_length=1, max_length=MAX_WIDTH)]
    numeric: dict[Name, tuple[Finite, Scale]]
    categories: dict[Name, Annotated[list[Name], Field(max_length=MAX_WIDTH)]]
    missing: Missing = "error"
    fill: dict[Name, Finite | Name] = {}
    unknown: Unknown = "ignore"  # a run from before the setting encoded such values as zeros, saying nothing

    @model_validator(mode="after")
    def _each_feature_once(self) -> TableEncoding:
        if len(set(self.features)) != len(self.features) or set(self.features) != {*self.numeric, *self.categories}:
            raise ValueError("every feature must be numeric or categorical, once")
        if sum(len(v) for v in self.categories.values()) > MAX_WIDTH:
            raise ValueError(f"more than {MAX_WIDTH:,} categories in all")
        return self

    def width(self) -> int:
        """How many numbers a row becomes."""
        return sum(len(self.categories[c]) if c in self.categories else 1 for c in self.features)


MAX_WIDTH = 1_000_000


def saved_encoding(state: dict[str, Any], width: int) -> dict[str, Any]:
    """*state* (a run's ``data.json``) checked to be a table encoding of rows *width* numbers wide.

    Raises:
        CheckpointError: it is not (the first fault, by key).
    """
    try:
        encoding = TableEncoding.model_validate(state)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise CheckpointError(f"not a table's encoding: {where}: {err['msg']}") from None
    if encoding.width() != width:
        raise CheckpointError(f"its encoding makes rows of {encoding.width():,} numbers; this run's model "
                              f"takes {width:,}")  # fmt: skip
    return encoding.model_dump()


def encode(
    frame: Any, fitted: dict[str, Any], where: str = "the table", notes: list[str] | None = None
) -> torch.Tensor:
    """The feature rows of *frame* as the network takes them, with the *fitted* encoding: each numeric column
    standardised (in float64, stored as float32), each categorical one as its one-hot columns. A category
    the training rows never showed is refused, or (``unknown = 'ignore'``) all zeros, said in *notes*."""
    return _encode(frame, fitted, None, where, notes)[0]


def _encode(frame: Any, fitted: dict[str, Any], held_out: np.ndarray | None, where: str = "the table",
            notes: list[str] | None = None) -> list[torch.Tensor]:  # fmt: skip
    """``encode``, the rows parted by the mask *held_out*: [the others, the held-out], each in the file's order
    (without a mask: [all]). Chunk by chunk, each output written once, row by row."""
    features, numeric, categories = fitted["features"], fitted["numeric"], fitted["categories"]
    widths = [len(categories[c]) if c in categories else 1 for c in features]
    starts = [int(x) for x in np.cumsum([0, *widths[:-1]])]
    names = [c for c in features if c in numeric]
    place = [s for c, s in zip(features, starts, strict=True) if c in numeric]
    block = _numbers(frame, names) if names else np.zeros((len(frame), 0))
    stats = np.array([numeric[c] for c in names], dtype=np.float64).reshape(-1, 2)
    codes = {col: _codes(frame[col], categories[col]) for col in categories}
    for col, code in codes.items():
        said = unknown_values(frame[col], code, col, where, fitted.get("unknown", "ignore"))
        if said is not None and notes is not None:
            notes.append(said)
    masks = [None] if held_out is None else [~held_out, held_out]
    outs = [np.empty((len(frame) if m is None else int(m.sum()), sum(widths)), dtype=np.float32) for m in masks]
    filled = [0] * len(outs)
    scaled = np.empty((min(CHUNK, len(frame)), len(names)))
    for r0 in range(0, len(frame), CHUNK):
        rows = slice(r0, r0 + CHUNK)
        size = len(block[rows])
        np.subtract(block[rows], stats[:, 0], out=scaled[:size])
        np.divide(scaled[:size], stats[:, 1], out=scaled[:size])
        if len(names) == len(features):  # numbers alone: the chunk is the scaled block
            chunk = scaled[:size].astype(np.float32)
        else:
            chunk = np.zeros((size, sum(widths)), dtype=np.float32)
            chunk[:, place] = scaled[:size]
        for col, start in zip(features, starts, strict=True):
            if col in codes:
                code = codes[col][rows]
                known = code >= 0  # a level the training rows never showed: all zeros
                chunk[np.nonzero(known)[0], start + code[known]] = 1.0
        for i, mask in enumerate(masks):
            part = chunk if mask is None else chunk[mask[rows]]
            outs[i][filled[i] : filled[i] + len(part)] = part
            filled[i] += len(part)
    return [torch.from_numpy(out) for out in outs]


def _check_features(frame: Any, features: list[str], categorical: Sequence[str]) -> None:
    categorical = set(categorical)
    dtypes = frame.dtypes  # one look at every column's type (a column looked up one by one costs O(columns) each)
    for col in features:
        if col not in categorical and not _is_number_feature(frame[col], dtypes[col]):
            raise ParamError(
                "categorical", f"column {col!r} is not numeric ({_first_text(frame[col])} is text): list it in "
                "categorical to one-hot encode it, or leave it out of features",
            )  # fmt: skip


def _first_text(column: Any) -> str:
    """Where a column that should hold numbers first holds text: ``row 3`` (its value is not quoted: the
    file may not be the table it was said to be)."""
    import pandas as pd

    text = pd.to_numeric(column, errors="coerce").isna() & column.notna()
    rows = np.flatnonzero(text.to_numpy())
    return f"row {int(rows[0]) + 1}" if len(rows) else "a value"


def _held_out(rows: int, stratify: np.ndarray | None, fraction: float, seed: int) -> np.ndarray:
    """A mask of the test rows of a seeded split (stratified by *stratify*, when it can be)."""
    from sklearn.model_selection import train_test_split

    index = np.arange(rows)
    try:
        _, test = train_test_split(index, test_size=fraction, random_state=seed, stratify=stratify)
    except ValueError:  # a class too small to stratify: split without
        _, test = train_test_split(index, test_size=fraction, random_state=seed)
    held = np.zeros(rows, dtype=bool)
    held[test] = True
    return held


@example(path="data/table.csv", targets="approved", categorical=["city"])
def table(
    path: Annotated[str, Field(min_length=1, description="a .csv, .tsv or .parquet file"), SpecPath()],
    targets: Annotated[str | list[str], Field(description="the target column, or several (multi-output)")],
    features: Annotated[
        list[str] | None, Field(description="the feature columns (default: all but the targets)")
    ] = None,
    categorical: Annotated[tuple[str, ...], Field(description="feature columns of categories, one-hot encoded")] = (),
    test_path: Annotated[
        str | None, Field(description="a table of test rows (default: a split of path)"), SpecPath()
    ] = None,
    test_fraction: TestFraction = 0.2,
    split_seed: SplitSeed = 0,
    target_kind: TargetKind = "auto",
    standardize: Annotated[bool, Field(description="standardise numeric features (training rows' statistics)")] = True,
    missing: MissingPolicy = "error",
    unknown: UnknownPolicy = "error",
) -> Dataset:
    """Your own table (CSV or Parquet): features encoded from the training rows, one or more target columns."""
    source, test_source = _file(path, "path"), None if test_path is None else _file(test_path, "test_path")
    frame = _read(source, "path")
    test = None if test_source is None else _read(test_source, "test_path")
    target_cols = [targets] if isinstance(targets, str) else list(targets)
    _columns(frame, target_cols, "targets")
    feature_cols = [str(c) for c in frame.columns if str(c) not in target_cols] if features is None else list(features)
    _columns(frame, feature_cols, "features")
    _columns(frame, categorical, "categorical")
    if test is not None:
        _columns(test, [*feature_cols, *target_cols], "test_path")
    if not_features := [c for c in categorical if c not in feature_cols]:
        raise ParamError("categorical", f"{', '.join(map(repr, not_features))} is not among the features")
    _check_features(frame, feature_cols, categorical)
    frame = check_gaps(frame, str(source), feature_cols, target_cols, missing)
    if test is not None:
        test = check_gaps(test, str(test_source), feature_cols, target_cols, missing)
    kind = _target_kind(frame, target_cols, target_kind)
    if kind == "classes" and len(target_cols) > 1:
        raise ParamError(
            "targets", "class labels come from one column; several 0/1 columns are target_kind = 'multilabel'"
        )
    labels: list[str] = []
    if kind == "classes":  # the names of the classes (not statistics): from every row, test rows included
        labels = sorted(
            {t for part in (frame, test) if part is not None for t in _texts(part[target_cols[0]]).unique()}
        )

    def target_tensor(rows: Any) -> torch.Tensor:
        if kind == "classes":
            return torch.from_numpy(_codes(rows[target_cols[0]], labels))
        values = rows[target_cols].to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise DataError(f"{path}: the target columns hold empty or non-finite values")
        return torch.from_numpy(values.astype(np.float32))

    notes: list[str] = []
    if test is not None:
        frame, fitted = _fitted(frame, None, feature_cols, categorical, standardize, missing, unknown)
        test = fill(test, fitted["fill"])
        train_split = Split(encode(frame, fitted, str(source)), target_tensor(frame))
        test_split = Split(encode(test, fitted, str(test_source), notes), target_tensor(test))
    else:  # the whole table encoded once, with what its training rows show; then the rows of each part
        stratify = _codes(frame[target_cols[0]], labels) if kind == "classes" else None
        held = _held_out(len(frame), stratify, test_fraction, split_seed)  # both parts keep the file's order
        frame, fitted = _fitted(frame, held, feature_cols, categorical, standardize, missing, unknown)
        parts = _encode(frame, fitted, held, f"{source} (its test rows)", notes)
        (train_inputs, test_inputs), targets = parts, target_tensor(frame).numpy()
        train_split = Split(train_inputs, torch.from_numpy(targets[~held]))
        test_split = Split(test_inputs, torch.from_numpy(targets[held]))
    splits = DatasetSplits(train_split, test_split, fitted)
    width = int(splits.train.inputs.shape[1])

    def read_rows(inputs: Path, state: dict[str, Any]) -> Inputs:
        encoding = saved_encoding(state, width)
        rows = _read(inputs, "path")
        _columns(rows, encoding["features"], "path")
        rows = fill(check_gaps(rows, str(inputs), encoding["features"], [], encoding["missing"], predicting=True),
                    encoding["fill"])  # fmt: skip
        said: list[str] = []
        return Inputs(encode(rows, encoding, str(inputs), said), warnings=tuple(said))

    return Dataset(
        (width,),
        torch.float32,
        tuple(labels if kind == "classes" else target_cols if kind == "multilabel" else ()),
        lambda: splits,
        f"table {path}",
        target_shape=None if kind == "classes" else (len(target_cols),),
        target_dtype=None if kind == "classes" else torch.float32,
        target_kind=kind,  # type: ignore[arg-type]
        reader=read_rows,
        train_samples=len(splits.train),
        warnings=tuple(notes),
    )


def _arrays(path: Path, param: str) -> tuple[np.ndarray, np.ndarray]:
    """The ``inputs`` and ``targets`` arrays of a .npz or .safetensors file."""
    try:
        if path.suffix == ".npz":
            from registry.files.untrusted import Unreadable, check_npz

            try:
                check_npz(path)  # what each array declares, before numpy allocates it
            except Unreadable as e:
                raise DataError(f"{path}: not readable arrays: {e}") from None
            with np.load(path, allow_pickle=False) as held:
                found = {k: held[k] for k in held.files}
        elif path.suffix == ".safetensors":
            from safetensors.numpy import load_file

            from registry.rundirs.safetensors_header import check_safetensors

            check_safetensors(path)
            found = load_file(str(path))
        else:
            raise ParamError(param, f"{path.name}: arrays come in a .npz or .safetensors file")
    except (OSError, ValueError) as e:
        if isinstance(e, (ParamError, DataError)):
            raise
        raise DataError(f"{path}: not readable arrays: {e}") from None
    missing = [k for k in ("inputs", "targets") if k not in found]
    if missing:
        raise ParamError(
            param,
            f"{path.name} holds {', '.join(sorted(found)) or 'nothing'}; it needs arrays named inputs and targets",
        )
    inputs, targets = found["inputs"], found["targets"]
    if len(inputs) != len(targets):
        raise DataError(f"{path}: {len(inputs)} inputs but {len(targets)} targets")
    if inputs.dtype.kind not in "biuf" or targets.dtype.kind not in "biuf":
        raise DataError(f"{path}: the arrays must hold numbers (inputs {inputs.dtype}, targets {targets.dtype})")
    return inputs, targets


@example(path="data/arrays.npz")
def arrays(
    path: Annotated[
        str, Field(min_length=1, description="a .npz or .safetensors file with arrays inputs and targets"), SpecPath()
    ],
    test_path: Annotated[
        str | None, Field(description="another such file for testing (default: a split)"), SpecPath()
    ] = None,
    test_fraction: TestFraction = 0.2,
    split_seed: SplitSeed = 0,
    classes: Annotated[list[str] | None, Field(description="class names (integer targets), index = label")] = None,
    target_kind: TargetKind = "auto",
    token_ids: Annotated[
        bool, Field(description="the inputs are integer token ids, kept as int64 for an embedding (else: float32)")
    ] = False,
) -> Dataset:
    """Your own arrays: samples of any shape (uint8 images stay uint8) and their targets, from .npz or .safetensors."""
    x, y = _arrays(_file(path, "path"), "path")
    if token_ids and x.dtype.kind not in "iu":
        raise ParamError("token_ids", f"the inputs are {x.dtype}, not integers: token ids are whole numbers")
    if token_ids and x.size and x.min() < 0:
        raise ParamError("token_ids", f"the inputs hold {int(x.min())}: token ids are 0 or more")
    if test_path is not None:
        tx, ty = _arrays(_file(test_path, "test_path"), "test_path")
        if tx.shape[1:] != x.shape[1:]:
            raise ParamError(
                "test_path", f"its inputs have shape {tx.shape[1:]} per sample, {path}'s have {x.shape[1:]}"
            )
    kind = target_kind
    if kind == "auto":
        kind = "classes" if y.dtype.kind in "biu" and y.ndim == 1 else "values"
    names: list[str] = []
    if kind == "classes":
        if y.ndim != 1:
            raise ParamError(
                "target_kind",
                f"class labels are one integer per sample; the targets have shape {y.shape[1:]} per sample",
            )
        count = int(max(y.max(initial=0), ty.max(initial=0) if test_path is not None else 0)) + 1
        names = list(classes) if classes is not None else [str(i) for i in range(count)]
        if len(names) < count:
            raise ParamError("classes", f"{len(names)} names, but the targets run to class {count - 1}")
    elif kind == "multilabel" and classes is not None:
        names = list(classes)

    def tensors(inputs: np.ndarray, targets: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        t = torch.from_numpy(np.ascontiguousarray(inputs))
        t = t.to(torch.int64) if token_ids else t if t.dtype == torch.uint8 else t.to(torch.float32)
        if kind == "classes":
            return t, torch.from_numpy(targets.astype(np.int64))
        return t, torch.from_numpy(targets.astype(np.float32)).reshape(len(targets), -1)

    def load() -> DatasetSplits:
        if test_path is not None:
            return DatasetSplits(Split(*tensors(x, y)), Split(*tensors(tx, ty)))
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(split_seed)).numpy()
        n_test = max(1, round(len(x) * test_fraction))
        test, train = order[:n_test], order[n_test:]
        return DatasetSplits(Split(*tensors(x[train], y[train])), Split(*tensors(x[test], y[test])))

    sample = tensors(x[:1], y[:1])
    width = 1 if y.ndim == 1 else int(np.prod(y.shape[1:]))
    if kind == "multilabel" and not names:
        names = [str(i) for i in range(width)]
    return Dataset(
        tuple(sample[0].shape[1:]),
        sample[0].dtype,
        tuple(names),
        load,
        f"arrays {path}",
        target_shape=None if kind == "classes" else (width,),
        target_dtype=None if kind == "classes" else torch.float32,
        target_kind=kind,  # type: ignore[arg-type]
        train_samples=len(x) if test_path is not None else len(x) - max(1, round(len(x) * test_fraction)),
    )


TABLES = {f.__name__: f for f in (table, arrays)}
