"""Training: the loop, a run from start to finish, and how it reports.

- ``loop``: the training loop, as the steps in order: epochs, batches, forward, backward, step
- ``hooks``: the loop's named points and the state it shares at them
- ``checkpointing``: the checkpoint policy (a hook) and a resume restored
- ``policies``: reporting, signals and stopping, each a hook
- ``splits``: the run's data, loaded once, checked, encoded
- ``evaluation``: the test pass, the test line, the confusion matrix
- ``signals``: SIGINT/SIGTERM caught and turned into Interrupted
- ``launch``: a run set up from a spec or a run directory, and executed
- ``distributed``: data-parallel runs (torchrun)
- ``threads``: torch's thread count
- ``reporting``: progress lines, bar, JSON or quiet
- ``stopping``: early stopping and the monitored value
"""
