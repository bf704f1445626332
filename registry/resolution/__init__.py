"""Resolution: every name of a spec found in the catalog and every parameter validated, all problems at once.

- ``resolver``: the resolver, the resolved spec, and the resolved spec as data
- ``schema``: the JSON Schema of specs, for editors
- ``explain``: how each value came to be (registry explain)
- ``searchspace``: a sweep's [sweep.space] checked and turned into distributions
- ``upgrade``: a spec rewritten in the current format, its text edited in place
"""
