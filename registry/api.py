"""The Python API: a spec loaded, built, trained and opened again from a notebook or a script.

These are the functions the command line uses, with Python values in and out::

    import registry

    spec = registry.load("specs/quickstart.toml", overrides={"optimizer.lr": 0.1})
    run = registry.train(spec)                       # in this process; writes nothing
    run.history[-1].test_accuracy                    # the per-epoch metrics, typed
    run = registry.train(spec, run_dir="runs/q")     # the same, with a run directory
    again = registry.open_run("runs/q")              # its best checkpoint: evaluate, predict
    act = registry.component("leaky_relu", negative_slope=0.1)

Every error is the exception the command line turns into a message and an exit
code (``SpecError``, ``DatasetNotFoundError``...); its ``str()`` is that message.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import sys
import warnings
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w
from torch import nn

from registry.components.catalog import Catalog
from registry.errors import Problem, SpecError, UnknownComponentError
from registry.files.untrusted import MAX_DEPTH, depth
from registry.spec.overrides import Override, inline_toml, parse_key

if TYPE_CHECKING:
    from registry.building.builder import Built
    from registry.resolution.resolver import Resolved, ResolvedSpec
    from registry.rundirs.checkpoints import Checkpoint
    from registry.rundirs.records import EpochRow
    from registry.training.evaluation import EvalResult

__all__ = ["Run", "build", "catalog", "component", "load", "loads", "open_run", "train"]

Overrides = Mapping[str, Any]
"""Key paths and values, as ``--set`` takes them: ``{"optimizer.lr": 0.1, "model.layers[1].out_features": 64}``."""

_CATALOG: Catalog | None = None
_TRAINED: weakref.WeakSet[nn.Module] = weakref.WeakSet()  # the models train() has trained: each once


def catalog() -> Catalog:
    """The components of the installed plugins (loaded once; a plugin that fails to load is left out with a warning
    on standard error, as on the command line)."""
    global _CATALOG
    if _CATALOG is None:
        from registry.training.launch import load_plugins_catalog

        _CATALOG = load_plugins_catalog(sys.stderr)
    return _CATALOG


def _overrides(overrides: Overrides | None) -> list[Override]:
    out = []
    for key, value in (overrides or {}).items():
        if depth(value) > MAX_DEPTH:
            raise SpecError([Problem((), f"overrides[{key!r}]: nested more than {MAX_DEPTH} levels deep")], "overrides")
        try:
            written = inline_toml(value)
        except TypeError:
            message = f"{type(value).__name__} is not a TOML value (use numbers, strings, booleans, lists, dicts)"
            raise SpecError([Problem((), f"overrides[{key!r}]: {message}")], "overrides") from None
        text = f"{key}={written}"
        out.append(Override(text, parse_key(text, key, api=True), value, origin="overrides", flag=""))
    return out


def load(spec: str | os.PathLike[str] | Mapping[str, Any], overrides: Overrides | None = None) -> ResolvedSpec:
    """A spec read from a file (with its bases), or given as a dict, then overridden, validated and resolved.

    Args:
        spec: a spec file's path, or the spec as a dict (the same tables and keys as the TOML file).
        overrides: values set after the file, as ``--set`` sets them.

    Raises:
        SpecError: every problem of the spec, each located (file, line and key path; a dict's by key path).
    """
    from registry.resolution.resolver import load_and_resolve, resolve_composed
    from registry.spec.compose import compose

    ov = _overrides(overrides)
    if isinstance(spec, Mapping):
        if depth(spec) > MAX_DEPTH:  # as deep as a file may nest, before anything recurses into it
            raise SpecError([Problem((), f"is nested more than {MAX_DEPTH} levels deep")], "<dict>")
        try:
            text = tomli_w.dumps(dict(spec))
        except TypeError as e:
            raise SpecError([Problem((), f"is not a TOML document: {e}")], "<dict>") from None
        try:
            composed = compose(text, "<dict>", Path.cwd() / "<dict>", ov)
        except SpecError as e:  # lines of a text the user never saw would mislead: key paths only
            raise SpecError([dataclasses.replace(p, line=None) for p in e.problems], "<dict>") from None
        composed.provenance.texts.clear()
        return _noted(resolve_composed(composed, catalog(), "<dict>", ov))
    return _noted(load_and_resolve(os.fspath(spec), catalog(), ov))


def _noted(rs: ResolvedSpec) -> ResolvedSpec:
    """*rs*, after warning (as Python warns) what the command line prints as warnings: an older spec format."""
    for note in rs.provenance.notes if rs.provenance else ():
        warnings.warn(note, stacklevel=3)
    return rs


def loads(text: str, overrides: Overrides | None = None, folder: str | os.PathLike[str] | None = None) -> ResolvedSpec:
    """A spec given as TOML text (its bases and relative paths read against *folder*, or the working directory).

    Raises:
        SpecError: every problem of the spec, located by line in *text* (shown as ``<string>``).
    """
    from registry.resolution.resolver import resolve_text

    return _noted(resolve_text(text, catalog(), "<string>", _overrides(overrides), Path(folder) if folder else None))


def build(spec: ResolvedSpec, optimizer: bool = True) -> Built:
    """The spec's model, loss, optimizer and data plan, as torch objects, each tried before it is returned.

    The model is built under the spec's seed; ``.warnings`` holds what ``validate`` warns about.

    Raises:
        SpecError: what ``validate`` refuses (a model whose output cannot fit the targets, ...).
        PluginError: a component misbehaved.
    """
    from registry.building.builder import build as _build
    from registry.resolution.resolver import ResolvedSpec

    if not isinstance(spec, ResolvedSpec):
        raise TypeError(f"build takes a loaded spec, not {_a(spec)}: registry.build(registry.load(spec))")
    return _build(spec, with_optimizer=optimizer)


def _a(value: object) -> str:
    name = type(value).__name__
    return f"an {name}" if name[:1] in "aeiou" else f"a {name}"


@dataclass(frozen=True)
class Run:
    """A trained (or opened) run: its model, its per-epoch metrics, and its directory.

    Attributes:
        built: the built spec, with the trained weights in ``built.model``.
        history: one row per finished epoch (train and test loss, accuracy, metrics, learning rate, time).
        run_dir: where it is written (None: trained without a directory).
        stopped: why it ended before ``train.epochs`` (early stopping), or None.
        checkpoint: for an opened run, the checkpoint whose weights the model holds.
        fitted: what the dataset fitted on the training split (a table's encoding), which ``predict`` applies.
    """

    built: Built
    history: tuple[EpochRow, ...]
    run_dir: Path | None = None
    stopped: str | None = None
    checkpoint: Checkpoint | None = None
    fitted: dict[str, Any] | None = None

    @property
    def model(self) -> nn.Module:
        return self.built.model

    def evaluate(self) -> EvalResult:
        """The test split's loss, accuracy and metrics under the current weights."""
        from registry.building.metrics import MetricSet
        from registry.training.evaluation import evaluate
        from registry.training.splits import load_data

        b = self.built
        metrics = MetricSet(b.metrics, b.task, b.model_plan.produces, b.device)
        return evaluate(b, load_data(b).test, metrics=metrics)

    def predict(self, inputs: str | os.PathLike[str]) -> list[dict[str, Any]]:
        """One record per input, as ``registry predict`` writes them: raw samples (``.npy``, ``.safetensors``),
        a table's rows (``.csv``, ``.parquet``) or a folder of images.

        Raises:
            InputError: the inputs cannot be read or do not fit the model.
        """
        from registry.inference.predict import predict_file
        from registry.rundirs.rundir import RunDir

        fitted = self.fitted if self.fitted is not None or self.run_dir is None else RunDir(self.run_dir).read_fitted()
        return list(predict_file(self.built, Path(inputs), fitted))


def train(
    spec: ResolvedSpec | Built,
    run_dir: str | os.PathLike[str] | None = None,
    log: Callable[[str], None] | None = print,
) -> Run:
    """Train *spec* in this process, testing after each epoch, as ``registry run`` does.

    Args:
        spec: a loaded spec (built here) or a built one.
        run_dir: make this run directory (checkpoints, metrics, resolved spec), which ``open_run``, the
            command line's ``evaluate``, ``predict`` and ``run --resume`` read; None writes nothing.
        log: receives the seed notebook's log lines (None: silent).

    Raises:
        TrainingError: the loss or a gradient became non-finite.
        DatasetNotFoundError, DataError: the data cannot be loaded.
        CheckpointError: the run directory exists or cannot be written.
    """
    from registry.building.builder import Built
    from registry.resolution.resolver import ResolvedSpec
    from registry.rundirs.plots import has_matplotlib, plot_run
    from registry.training.launch import begin, execute, tensorboard_reporter
    from registry.training.reporting import PlainReporter, Reporter
    from registry.training.threads import apply_threads

    if not isinstance(spec, (Built, ResolvedSpec)):
        raise TypeError(f"train takes a loaded or built spec, not {_a(spec)}: registry.train(registry.load(spec))")
    built = spec if isinstance(spec, Built) else build(spec)
    if built.optimizer is None:
        why = "it was built without an optimizer (build(spec, optimizer=False), or an opened run)"
        raise SpecError([Problem((), f"{why}: train a loaded spec, registry.train(registry.load(...))")], "train")
    if built.model in _TRAINED:
        why = "this Built is trained already"
        raise SpecError([Problem((), f"{why}: registry.train(spec) or registry.train(registry.build(spec))")], "train")
    _TRAINED.add(built.model)
    source = built.resolved.source or "<python>"
    session = begin(built, source, None if run_dir is None else os.fspath(run_dir), write=run_dir is not None)
    apply_threads(built.resolved.spec.train.threads)
    report: Reporter = PlainReporter(log or (lambda _: None))
    try:
        if session.rundir is not None and built.resolved.spec.train.tensorboard:
            report = tensorboard_reporter(report, session.rundir)
        result = execute(session, report)
    finally:
        if session.rundir is not None:
            session.rundir.release()
    where = session.rundir.path if session.rundir is not None else None
    if where is not None and has_matplotlib():
        plot_run(where)  # the pictures `registry run` draws
    fitted = session.splits.fitted if session.splits is not None else None
    return Run(built, result.epochs, where, result.stopped, fitted=fitted)


def open_run(run_dir: str | os.PathLike[str], checkpoint: str | None = None) -> Run:
    """A finished (or stopped) run directory, its model holding the weights of *checkpoint*.

    Args:
        checkpoint: ``best`` (the default, as for ``evaluate``, ``predict`` and ``export``), ``latest``, or a
            checkpoint's folder name.

    Other versions of the plugins its spec uses, or of torch, are warned about on standard error.

    Raises:
        CheckpointError: not a run directory, its spec.toml was edited, the checkpoint is unusable, or a
            plugin its spec needs is not installed (the message says which distribution and version).
    """
    from registry.rundirs.rundir import RunDir
    from registry.training.launch import trained

    built, ckpt = trained(os.fspath(run_dir), checkpoint, sys.stderr)  # warnings: other plugin versions
    home = RunDir(ckpt.path.parent.parent)
    info = home.info()
    return Run(built, tuple(home.read_metrics()), home.path, info.reason, ckpt)


def component(name: str, /, *inputs: Any, kind: str | None = None, **params: Any) -> Any:
    """One registered component, built from its name and parameters, validated as in a spec.

    ``registry.component("leaky_relu", negative_slope=0.1)`` is ``torch.nn.LeakyReLU(0.1)``;
    ``registry.component("sgd", model.parameters(), lr=0.1)`` an optimizer over *model*. Sizes a spec
    infers from the model (a linear layer's ``in_features``) must be given here.

    Args:
        name: a component's name or alias (``python -m registry list``).
        inputs: what a spec's builder passes such a component itself: an optimizer's parameters, a
            scheduler's optimizer.
        kind: its kind, when the name exists in several (``layer``, ``loss``...).

    Raises:
        UnknownComponentError: no plugin registered *name* (with the closest names).
        SpecError: its parameters are invalid, or an inferred size is missing.
    """
    from registry.building.factory import Refused, build_plain

    where = f"component({name!r})"
    found = _component_entry(name, kind, params, where)
    refusal = _not_buildable_alone(found, len(inputs))
    if refusal:
        raise SpecError([Problem(loc, message) for loc, message in refusal], where)
    try:
        return build_plain(found, *inputs)
    except Refused as e:
        raise SpecError([Problem(e.loc, str(e))], where) from None


def _component_entry(name: str, kind: str | None, params: Mapping[str, Any], where: str) -> Resolved:
    """The component *name* (of *kind*) with *params* validated, as a spec's entry would be."""
    from registry.kinds import KINDS
    from registry.resolution.resolver import resolve_entry

    cat = catalog()
    kinds = sorted({c.kind for c in cat.find(name)}) if kind is None else [kind]
    if kind is not None and kind not in KINDS:
        raise SpecError([Problem((), f"kind {kind!r} is not one of: {', '.join(KINDS)}")], where)
    if not kinds:
        names = sorted({c.name for c in cat})
        raise UnknownComponentError("component", name, names, difflib.get_close_matches(name, names, n=3))
    if len(kinds) > 1:
        raise SpecError([Problem((), f"{name!r} is a {' and a '.join(kinds)}: say which, kind='{kinds[0]}'")], where)
    try:
        return resolve_entry(cat, tuple(kinds), {"type": name, **params}, ())
    except SpecError as e:
        raise e.with_source(where) from None


def _not_buildable_alone(found: Resolved, inputs: int) -> list[tuple[tuple[str | int, ...], str]]:
    """Why *found* cannot be built here from *inputs* positional inputs and its parameters (nothing: it can)."""
    from registry.kinds import KINDS, MODULE_KINDS

    c, schema = found.component, found.component.schema
    needs = KINDS[c.kind].injected
    if inputs != len(needs):
        what = ", ".join(needs) or "none"
        return [((), f"{c.kind} {found.name!r} takes {len(needs)} input before its parameters: {what}")]
    if schema.nested and c.kind in MODULE_KINDS:
        return [((), f"{c.kind} {found.name!r} holds layers, which a spec chains and sizes: name it in a spec")]
    if schema.input_shape or schema.task or schema.training:
        run = "its input's shape" if schema.input_shape else "the run's task" if schema.task else "the run's length"
        return [((), f"{c.kind} {found.name!r} is built from {run}: name it in a spec (registry.load)")]
    missing = [p for p in schema.inferred if getattr(found.params, p, None) is None]
    return [((p,), f"{found.name}'s {p} is inferred from the model in a spec; give it here") for p in missing]
