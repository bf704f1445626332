"""``registry export RUN --format onnx|pt2``: a trained model out of the project, verified when written.

The exported graph takes samples as the run's dataset gives them (uint8 images, a table's encoded rows, a
batch of any size) and includes the spec's ``transforms`` (``to_tensor``, ``normalize``...), so that a
consumer feeds raw samples. What happens before a sample exists is not in the graph: a table's encoding
of its columns (categories one-hot, numbers standardised with the statistics fitted on the training
split) is stored beside the model, in ``MODEL.json``, with the input's shape and type, the task, its class
labels, and the verification's figures; ``registry predict RUN INPUTS --onnx MODEL`` applies it.

ONNX is written by torch's exporter (``torch.onnx.export(dynamo=True)``); ``pt2`` is a ``torch.export``
program (``torch.export.save``). Both have a dynamic batch dimension. When written, the export is run on a
batch of the test split (ONNX through onnxruntime on the CPU, pt2 by loading the saved program) and its
outputs must equal the torch model's within ``ATOL + RTOL * |torch|``; otherwise the command fails saying
by how much, and nothing is left behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from registry.building.builder import Built
from registry.building.data import Split, Transform
from registry.errors import CheckpointError, ExportError
from registry.files.atomic import write_bytes, write_json
from registry.training.splits import raw_splits

__all__ = ["ATOL", "FORMATS", "RTOL", "Exported", "export_run", "exported_by", "onnx_forward"]

FORMATS = ("onnx", "pt2")
ATOL = 1e-4
RTOL = 1e-4
VERIFY_SAMPLES = 256
EXTRA = "pip install 'torch-spec-registry[export]'"
MAX_MODEL_BYTES = 2**31  # protobuf's own limit for one ONNX file


@dataclass(frozen=True)
class Exported:
    """What ``export_run`` wrote and how well the export matched the torch model."""

    path: Path
    metadata: Path
    max_abs_diff: float
    samples: int


class _WithTransforms(nn.Module):
    """The model behind the spec's transforms: raw samples in, the model's output out."""

    def __init__(self, model: nn.Module, transforms: Sequence[Transform]) -> None:
        super().__init__()
        self.model = model
        self.transforms = list(transforms)

    def forward(self, x: Tensor) -> Tensor:
        for t in self.transforms:  # on the whole batch: no chunks, whose size test would bound the batch dimension
            x = t(x)
        return self.model(x)  # type: ignore[no-any-return]


def _raw_test_batch(built: Built) -> Tensor:
    """Up to ``VERIFY_SAMPLES`` raw samples of the test split, as the dataset gives them."""
    splits = raw_splits(built)
    test = splits.test
    if not isinstance(test, Split):
        xs = [test[i][0] for i in range(min(len(test), VERIFY_SAMPLES))]  # type: ignore[arg-type]
        return torch.stack([torch.as_tensor(x) for x in xs])
    return test.inputs[:VERIFY_SAMPLES].to(built.data.dataset.sample_dtype)


def _check(name: str, got: Tensor, want: Tensor) -> float:
    diff = (got.double() - want.double()).abs()
    worst = float(diff.max()) if diff.numel() else 0.0
    allowed = ATOL + RTOL * want.double().abs()
    if not bool((diff <= allowed).all()):
        raise ExportError(
            f"the {name} export does not compute what the model does: outputs differ by up to {worst:.3g} "
            f"(allowed: {ATOL:g} + {RTOL:g} x |output|); nothing was written"
        )
    return worst


def exported_by(model: Path, run_dir: Path) -> str:
    """The checkpoint whose weights the export *model* holds, after checking that it is *run_dir*'s.

    Raises:
        ExportError: its ``MODEL.json`` is missing or unreadable, or names another run.
    """
    from registry.rundirs.records import ExportRecord, read_record
    from registry.rundirs.rundir import RunDir

    meta = Path(f"{model}.json")
    try:
        about = read_record(meta, ExportRecord)
    except CheckpointError as e:
        raise ExportError(f"{e}; cannot tell what {model.name} was exported from: export it again") from None
    run_id = RunDir(run_dir).info().run_id
    same = about.run_id == run_id if about.run_id and run_id else Path(about.run).resolve() == run_dir.resolve()
    if not same:  # an id survives a move or a copy of the run; a path (runs from before ids) does not
        raise ExportError(f"{model} was exported from another run ({about.run}), not {run_dir}")
    return about.checkpoint


def onnx_forward(path: Path, data: bytes | None = None) -> Callable[[Tensor], Tensor]:
    """Run the ONNX model at *path* (or its bytes, *data*) through onnxruntime on the CPU: a batch of raw
    samples in, outputs out. The file is read bounded, a regular file only (a FIFO is refused, not waited on).

    Raises:
        ExportError: onnxruntime is not installed, or cannot load the file.
    """
    from registry.files.untrusted import Unreadable, read_bounded

    try:
        import onnxruntime as ort  # type: ignore[import-untyped]
    except ImportError:
        raise ExportError(f"running an ONNX model needs onnxruntime: {EXTRA}") from None
    try:
        data = read_bounded(path, MAX_MODEL_BYTES) if data is None else data
    except (OSError, Unreadable) as e:
        raise ExportError(f"{path}: cannot be read: {getattr(e, 'strerror', None) or e}") from None
    try:
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own types for an unreadable or invalid model
        raise ExportError(f"{path}: onnxruntime cannot load it: {str(e).splitlines()[0]}") from None
    name = session.get_inputs()[0].name

    def forward(x: Tensor) -> Tensor:
        try:
            return torch.from_numpy(session.run(None, {name: x.detach().cpu().numpy()})[0])
        except Exception as e:  # onnxruntime's own error types: inputs the graph does not take
            raise ExportError(f"{path}: onnxruntime cannot run it on these inputs: {str(e).splitlines()[0]}") from None

    return forward


def _traced(example: Tensor) -> Tensor:
    """An example of at least two samples: tracing a batch of one would fix the batch dimension at 1."""
    return example if len(example) > 1 else torch.cat([example, example])


def _quiet_tracing() -> None:
    """Leave out torch's notes to itself while it traces a recurrent layer (its weights' _flat_weights list, its
    own _check_is_size): warnings a user can do nothing about; the export is verified all the same."""
    warnings.simplefilter("ignore", FutureWarning)
    warnings.filterwarnings("ignore", message=r"The tensor attributes .*_flat_weights", category=UserWarning)


def _export_onnx(module: nn.Module, example: Tensor) -> bytes:
    try:
        import onnx  # noqa: F401  (the exporter needs onnx and onnxscript)
        import onnxscript  # noqa: F401
    except ImportError:
        raise ExportError(f"ONNX export needs onnx and onnxscript: {EXTRA}") from None
    batch = torch.export.Dim("batch", min=1)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # the exporter prints its progress
        _quiet_tracing()
        program = torch.onnx.export(module, (_traced(example),), dynamic_shapes=({0: batch},), dynamo=True)
    assert program is not None
    return program.model_proto.SerializeToString()  # type: ignore[no-any-return]


def _export_pt2(module: nn.Module, example: Tensor) -> bytes:
    batch = torch.export.Dim("batch", min=1)
    with warnings.catch_warnings():
        _quiet_tracing()
        program = torch.export.export(module, (_traced(example),), dynamic_shapes=({0: batch},))
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return buffer.getvalue()


def _pt2_forward(data: bytes) -> Callable[[Tensor], Tensor]:
    loaded = torch.export.load(io.BytesIO(data)).module()
    return lambda x: loaded(x)


def export_run(
    built: Built, fmt: str, target: Path, fitted: dict[str, Any], about: dict[str, Any], run_dir: Path
) -> Exported:
    """Export *built*'s model (its trained weights loaded) as *fmt* to *target*, verify it, and write
    ``TARGET.json`` beside it.

    Args:
        fitted: what the dataset fitted on its training split (a table's encoding), stored in the metadata.
        about: what to record of where the model came from (run, its id, checkpoint, spec name).
        run_dir: the run's directory: a target inside it is written without following a link planted there.

    Raises:
        ExportError: the format's packages are missing, the model does not export, or the export's outputs
            differ from the model's by more than the tolerance (then nothing is left behind).
        CheckpointError: the files cannot be written.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    module = _WithTransforms(built.model, built.data.transforms).to("cpu").eval()
    example = _raw_test_batch(built).cpu()
    with torch.no_grad():
        want = module(example)
    meta = Path(f"{target}.json")
    root = run_dir if target.resolve().is_relative_to(run_dir.resolve()) else None
    try:
        data = _export_onnx(module, example) if fmt == "onnx" else _export_pt2(module, example)
        forward = onnx_forward(target, data) if fmt == "onnx" else _pt2_forward(data)  # verified in memory
        with torch.no_grad():
            worst = _check(fmt, forward(example), want)
            _check(fmt, forward(torch.cat([example, example])), torch.cat([want, want]))  # the batch is dynamic
    except ExportError:
        raise
    except Exception as e:  # the exporter's own errors: an operation it cannot express
        raise ExportError(f"the model does not export as {fmt}: {type(e).__name__}: {str(e).splitlines()[0]}") from e
    ds, task = built.data.dataset, built.task
    metadata = {
        "format": fmt,
        "file": target.name,
        "input": {"shape": ["batch", *ds.sample_shape], "dtype": str(ds.sample_dtype).removeprefix("torch.")},
        "output": {"shape": ["batch", *want.shape[1:]], "produces": built.model_plan.produces},
        "transforms_in_graph": [t.name for t in built.resolved.transforms],
        "task": {"kind": task.kind, "labels": list(task.labels) if task.labels else None},
        "fitted": fitted,
        "verified": {"samples": len(example), "max_abs_diff": worst, "atol": ATOL, "rtol": RTOL},
        "versions": {"torch": torch.__version__},
        **about,
    }
    try:  # the model first, then what describes it: a MODEL.json always describes a good file
        write_bytes(target, data, root=root)
        write_json(meta, json.loads(json.dumps(metadata, default=str)), root=root)
    except OSError as e:
        raise CheckpointError(f"{target}: cannot be written: {e.strerror or e}") from None
    return Exported(target, meta, worst, len(example))
