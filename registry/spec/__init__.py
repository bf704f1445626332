"""The spec format: TOML text -> a validated ``Spec``, with where every value was written. No torch, no pluggy.

- ``models``: the pydantic models of a spec (its tables and keys) and its places
- ``formats``: spec format versions and their migrations
- ``places``: where components go in a spec (Holds, Place)
- ``reading``: a spec file read bounded, parsed, its numbers checked
- ``compose``: bases, unset, --set and references composed, with provenance
- ``references``: "${vars.x}" references replaced
- ``overrides``: --set KEY.PATH=VALUE parsed and applied
- ``provenance``: where each value was written, and what it replaced
- ``positions``: the line of every key path (a real TOML syntax tree)
- ``problems``: pydantic errors -> located problems
- ``paths``: one rule for the paths a spec writes (SpecPath)
- ``describe``: how a type is said in messages
"""
