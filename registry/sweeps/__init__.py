"""Sweeps: Optuna studies whose trials are ordinary runs.

- ``sweep``: a sweep directory, its study, its workers
- ``report``: the sweep's table, best.toml and plots
- ``journal``: the study journal checked before Optuna reads it
"""
