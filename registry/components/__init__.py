"""The plugin catalog: plugins loaded through pluggy, their components and each one's parameter schema. No torch.

- ``manager``: plugins loaded (entry points, the built-ins) and their components collected
- ``catalog``: the components by kind and name
- ``signatures``: a factory's signature -> its pydantic parameter model (Inferred, InputShape, Holds)
- ``contracts``: what a component declares about its values (contract, metric, schedule)
- ``requires``: a spec's [requires] checked against the installed plugins
"""
