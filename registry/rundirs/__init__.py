"""Run directories: what a run writes and reads back, every file checked.

- ``rundir``: a run directory: its layout, run.json, the lock, resume
- ``records``: the typed records of run.json, metrics.jsonl, MODEL.json
- ``checkpoints``: checkpoints written and read back, checked against the live objects
- ``safetensors_header``: a .safetensors header checked before it is read
- ``browse``: run directories listed and compared (runs, diff)
- ``specdiff``: what changed between two specs, and whether a run may resume
- ``compat``: the plugins and versions a run was trained with vs those installed
- ``plots``: a run's loss, accuracy and confusion plots
"""
