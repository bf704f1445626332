"""The example plugin, installed for real with pip, used through the CLI like a user would."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, SPECS

PLUGIN = ROOT / "plugins" / "registry-example-plugin"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pip-install the example plugin (a copy, so no build files land in the repo) into a folder of its own."""
    work = tmp_path_factory.mktemp("plugin")
    shutil.copytree(PLUGIN, work / "src", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = work / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(work / "src")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return target


def registry_cli(*args: str, path: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """python -m registry ARGS in a subprocess, from the current (temporary) folder, with *path* importable."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(path) if path else "", environ.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-m", "registry", *args], capture_output=True, text=True, env={**environ, **env}
    )


def test_installed_plugin_is_listed_with_its_distribution(site: Path) -> None:
    """`plugins` shows the entry point, the distribution and version, and the six components by kind."""
    proc = registry_cli("plugins", path=site)
    assert proc.returncode == 0, proc.stderr
    block = proc.stdout[proc.stdout.index("example  ("):]
    assert block.splitlines() == [
        "example  (entry point 'example = registry_example_plugin', registry-example-plugin 0.1.0)",
        "  layer: gaussian_noise, squeeze_excite",
        "  activation: squareplus",
        "  loss: focal",
        "  optimizer: lion",
        "  dataset: spirals",
    ]
    shown = registry_cli("show", "lion", path=site).stdout
    assert "  from: example (entry point 'example = registry_example_plugin', registry-example-plugin 0.1.0)" in shown


def test_spec_using_the_plugin_trains_to_the_end(site: Path) -> None:
    """The plugin's spec (its dataset, layer, activation, loss and optimizer) trains through the CLI."""
    proc = registry_cli("run", str(PLUGIN / "spirals.toml"), path=site)
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"Done: 20 epochs in [\d.]+ s; test loss [\d.]+, accuracy (\d+)/3000", proc.stdout)
    assert m and int(m.group(1)) / 3000 >= 0.85


def test_plugin_passes_its_own_conformance_tests(site: Path) -> None:
    """The plugin's tests (registry.testing over each component) pass against the installed plugin."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env["PYTHONPATH"] = str(site)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(PLUGIN), str(PLUGIN / "tests")],
        capture_output=True, text=True, env=env, cwd=PLUGIN,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^7 passed", proc.stdout.splitlines()[-1])


def test_a_missing_required_plugin_says_how_to_install_it(tmp_path: Path) -> None:
    """A [requires] distribution that is not installed: its name and the pip line; exit 2."""
    text = (PLUGIN / "spirals.toml").read_text().replace("registry-example-plugin>=0.1", "registry-absent-plugin>=0.1")
    spec = tmp_path / "spirals.toml"
    spec.write_text(text)
    proc = registry_cli("validate", str(spec), REGISTRY_DISABLE_PLUGIN_AUTOLOAD="1")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [  # one message: not one more for each name the plugin would have brought
        f"error: {spec}: 1 problem in the spec",
        f"  {spec}:8: requires.plugins[0]: plugin distribution 'registry-absent-plugin' is not "
        "installed; install it with: pip install 'registry-absent-plugin>=0.1'",
    ]


@pytest.fixture
def broken_site(tmp_path: Path) -> Path:
    """An installed distribution whose plugin module raises on import."""
    (tmp_path / "broken_mod.py").write_text("raise ImportError('needs torch_extras')\n")
    info = tmp_path / "registry_broken-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: registry-broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[registry.plugins]\nbroken = broken_mod\n")
    return tmp_path


def test_a_broken_plugin_warns_and_other_specs_still_run(broken_site: Path) -> None:
    """A plugin whose import raises: a warning naming it, and the quickstart still trains (exit 0)."""
    proc = registry_cli("run", str(SPECS / "quickstart.toml"), path=broken_site)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0] == (
        "warning: plugin 'broken' (distribution registry-broken, entry point 'broken = broken_mod') failed: "
        "import raised ImportError('needs torch_extras'); its components are unavailable "
        "(REGISTRY_STRICT_PLUGINS=1 makes this an error)"
    )


def test_strict_switch_turns_the_warning_into_exit_3(broken_site: Path) -> None:
    """REGISTRY_STRICT_PLUGINS=1: the same plugin failure stops the command with exit code 3."""
    proc = registry_cli("run", str(SPECS / "quickstart.toml"), path=broken_site, REGISTRY_STRICT_PLUGINS="1")
    assert proc.returncode == 3 and proc.stdout == ""
    assert proc.stderr.startswith("error: plugin 'broken' (distribution registry-broken, entry point 'broken = broken_mod') failed: import raised")


SHADOW = '''\
import registry
from torch import nn


def relu() -> nn.Module:
    """Identity, named relu."""
    return nn.Identity()


@registry.hookimpl
def registry_layers():
    return {"relu": relu}
'''


@pytest.fixture
def clashing_site(tmp_path: Path) -> Path:
    """An installed distribution whose plugin registers a layer named like the built-in activation 'relu'."""
    (tmp_path / "shadow_mod.py").write_text(SHADOW)
    info = tmp_path / "registry_shadow-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: registry-shadow\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[registry.plugins]\nshadow = shadow_mod\n")
    return tmp_path


CLASH = (
    "activation and layer 'relu' is registered by both 'registry_torch' (torch-spec-registry) and 'shadow' "
    "(registry-shadow) (an activation and a layer share a place in specs); uninstall one of them, or have the plugin "
    "that means to replace the other mark its factory with @registry.replaces"
)


def test_a_clash_stops_a_run_and_plugins_shows_it(clashing_site: Path) -> None:
    """A plugin layer 'relu' would silently replace the activation: run refuses (exit 3); `plugins` still lists
    everything and shows the clash (exit 3)."""
    proc = registry_cli("run", str(SPECS / "quickstart.toml"), path=clashing_site)
    assert proc.returncode == 3 and proc.stdout == ""
    assert proc.stderr == f"error: {CLASH}\n"
    shown = registry_cli("plugins", path=clashing_site)
    assert shown.returncode == 3
    assert shown.stdout.splitlines()[0].startswith("registry_torch  (built-in, torch-spec-registry")
    assert "shadow  (entry point 'shadow = shadow_mod', registry-shadow 0.1)" in shown.stdout.splitlines()
    assert [ln for ln in shown.stdout.splitlines() if ln.startswith("clash: ")] == [f"clash: {CLASH}"]
