"""An example registry plugin: one module of hooks, each returning {name: factory}.

registry finds it through the entry point in pyproject.toml and calls these
hooks exactly as it calls the built-in torch plugin's.
"""

from __future__ import annotations

from registry import hookimpl

from .components import focal, gaussian_noise, lion, spirals, squareplus, squeeze_excite

REGISTRY_PLUGIN_API = 1  # the plugin API this plugin was written for


@hookimpl
def registry_activations():
    return {"squareplus": squareplus}


@hookimpl
def registry_layers():
    return {"gaussian_noise": gaussian_noise, "squeeze_excite": squeeze_excite}


@hookimpl
def registry_losses():
    return {"focal": focal}


@hookimpl
def registry_optimizers():
    return {"lion": lion}


@hookimpl
def registry_datasets():
    return {"spirals": spirals}
