"""The plugin's own tests: registry's conformance kit, run over every component this plugin registers."""

import pytest

from registry.testing import check_component, plugin_catalog, plugin_components

CATALOG = plugin_catalog()


@pytest.mark.parametrize("component", plugin_components("example", CATALOG), ids=str)
def test_component_conforms(component):
    check_component(component, CATALOG)


def test_all_six_components_are_registered():
    assert sorted((c.kind, c.name) for c in plugin_components("example", CATALOG)) == [
        ("activation", "squareplus"),
        ("dataset", "spirals"),
        ("layer", "gaussian_noise"),
        ("layer", "squeeze_excite"),
        ("loss", "focal"),
        ("optimizer", "lion"),
    ]
