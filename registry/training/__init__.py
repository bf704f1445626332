"""Training: the loop, a run from start to finish, and how it reports.

- ``loop``: the training loop: epochs, steps, evaluation, checkpoints
- ``launch``: a run set up from a spec or a run directory, and executed
- ``distributed``: data-parallel runs (torchrun)
- ``threads``: torch's thread count
- ``reporting``: progress lines, bar, JSON or quiet
- ``stopping``: early stopping and the monitored value
"""
