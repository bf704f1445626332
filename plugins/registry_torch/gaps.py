"""A table's empty cells and the categories its training rows never showed: found, said, dropped or filled.

``missing`` says what an empty cell (pandas' NaN: an empty field, ``NA``, ``null``...) in a feature or a
target does: ``error`` (the default) names the file, every column that has one, how many and the first
rows; ``drop`` leaves those rows out of training and testing; ``fill`` puts in what the training rows show
(a numeric or boolean column's mean, a categorical column's most frequent value; ties: the first in
text order), kept in the run so that ``predict`` fills the same way. A target is never filled.

``unknown`` says what a categorical feature's value that the training rows never showed does, in the test
rows or at ``predict``: ``error`` (the default) names the column, the values as written and their rows;
``ignore`` encodes it as no category (all its one-hot columns 0), with a warning naming them.

Rows are counted from 1, the header not counted (row 3 is the file's fourth line).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from registry import DataError

__all__ = ["FIRST_ROWS", "Missing", "Unknown", "check_gaps", "fill", "fill_values", "unknown_values"]

Missing = Literal["error", "drop", "fill"]
Unknown = Literal["error", "ignore"]
FIRST_ROWS = 3
"""How many rows a message names for each column."""
SHOWN_VALUES = 5


def _rows(numbers: np.ndarray) -> str:
    """``rows 3, 9, 12 ...`` for the 0-based row indexes *numbers* of the file."""
    shown = ", ".join(str(int(n) + 1) for n in numbers[:FIRST_ROWS])
    return f"row{'s' if len(numbers) > 1 else ''} {shown}{' ...' if len(numbers) > FIRST_ROWS else ''}"


def shown(value: Any) -> str:
    """A cell's value as the file writes it: ``False``, ``rome``, ``3`` (never ``np.False_``)."""
    return str(value.item() if isinstance(value, np.generic) else value)


def _excerpt(text: str) -> str:
    """A value as a message may quote it: at most 40 characters (a file read as a table may not be one)."""
    return text if len(text) <= 40 else text[:37] + "..."


def check_gaps(frame: Any, where: str, features: Sequence[str], targets: Sequence[str], missing: Missing,
               predicting: bool = False) -> Any:  # fmt: skip
    """*frame* with the policy *missing* applied to its empty cells: refused (``error``), its rows with gaps
    left out (``drop``), or kept for ``fill`` (targets excepted: they are never filled).

    With *predicting*, every row must have an answer: gaps are refused unless filled.

    Raises:
        DataError: naming *where* (the file), each column with gaps, their count and first rows.
    """
    columns = [*dict.fromkeys([*features, *targets])]
    empty = frame[columns].isna()
    counts = empty.sum()
    holed = [c for c in columns if counts[c]]
    if not holed:
        return frame
    refused = holed if missing == "error" or (predicting and missing == "drop") else (
        [c for c in holed if c in targets] if missing == "fill" else [])  # fmt: skip
    if refused:
        said = ", ".join(f"{c} ({int(counts[c])}: {_rows(np.flatnonzero(empty[c].to_numpy()))})" for c in refused)
        if predicting:
            how = "fill them in the file (predict answers every row), or train with data.missing = 'fill'"
        elif missing == "fill":
            how = "a target is never filled: drop those rows with data.missing = 'drop', or fill them in the file"
        else:
            how = (
                "set data.missing = 'drop' (leave those rows out) or 'fill' (the training rows' mean or most "
                "frequent value), or fill them in the file"
            )
        n = len(refused)
        raise DataError(f"{where}: empty cells in {n} column{'s' if n > 1 else ''}: {said}; {how}")
    if missing == "drop":
        kept = frame[~empty.any(axis=1).to_numpy()]
        if len(kept) == 0:
            raise DataError(f"{where}: every row has an empty cell; data.missing = 'drop' leaves none")
        return kept
    return frame


def fill_values(frame: Any, held_out: np.ndarray | None, features: Sequence[str], categorical: Sequence[str]) -> dict[
    str, float | str
]:  # fmt: skip
    """What ``fill`` puts in each feature's empty cells, from the training rows (those not *held_out*): every
    feature's, so that ``predict`` can fill a column that had no gap in training.

    Raises:
        DataError: a feature is empty in every training row.
    """
    train = frame if held_out is None else frame[~held_out]
    kinds = set(categorical)
    numbers = [c for c in features if c not in kinds]
    out: dict[str, float | str] = {}
    if numbers:
        means = train[numbers].astype(float).mean()  # empty cells skipped
        out.update((str(c), float(m)) for c, m in means.items())
    for col in (c for c in features if c in kinds):
        seen = train[col].dropna().astype(str).value_counts()
        out[col] = str(sorted(seen[seen == seen.max()].index)[0]) if len(seen) else float("nan")
    empty = [c for c, v in out.items() if isinstance(v, float) and np.isnan(v)]
    if empty:
        raise DataError(f"{', '.join(map(repr, empty[:SHOWN_VALUES]))}: empty in every training row, nothing to fill "
                        "with; leave the column out of features")  # fmt: skip
    return out


def fill(frame: Any, values: dict[str, float | str]) -> Any:
    """*frame* with the empty cells of each column of *values* filled with its value."""
    holed = [c for c, v in values.items() if c in frame.columns and frame[c].isna().any()]
    if not holed:
        return frame
    frame = frame.copy()
    for col in holed:
        frame[col] = frame[col].where(frame[col].notna(), values[col])
    return frame


def unknown_values(column: Any, codes: np.ndarray, name: str, where: str, unknown: Unknown) -> str | None:
    """Refuse (``error``) or describe (``ignore``) the values of the categorical *column* whose *codes* are -1:
    categories the training rows never showed. Returns the warning for ``ignore``, None when there are none.

    Raises:
        DataError: with ``error``, naming *where*, the column, the values as written and their first rows.
    """
    rows = np.flatnonzero(codes < 0)
    if len(rows) == 0:
        return None
    values = list(dict.fromkeys(_excerpt(shown(v)) for v in column.to_numpy()[rows]))
    listed = ", ".join(repr(v) for v in values[:SHOWN_VALUES]) + (" ..." if len(values) > SHOWN_VALUES else "")
    said = f"column {name!r} holds {len(values)} value{'s' if len(values) > 1 else ''} the training rows never " \
           f"showed: {listed} ({_rows(rows)})"  # fmt: skip
    if unknown == "error":
        raise DataError(f"{where}: {said}; set data.unknown = 'ignore' to encode them as no category (all zeros)")
    return f"{where}: {said}: encoded as no category (all zeros), as data.unknown = 'ignore' says"
