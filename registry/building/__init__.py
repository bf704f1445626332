"""Building: a resolved spec -> real torch objects (the dataset, the model, the loss, the optimizer, metrics).

- ``builder``: everything a run needs, built and checked with a dry run
- ``network``: the model graph: layers, containers, blocks, inferred sizes
- ``chain``: Chain, Branches: the containers the network builds
- ``factory``: a plugin's factory called, its errors sorted
- ``tasks``: the problem a run solves: targets' encoding, metrics' inputs
- ``metrics``: the run's metrics (torchmetrics)
- ``monitor``: which test values a run watches: the best checkpoint's, early stopping's, a sweep's objective
- ``paramgroups``: optimizer parameter groups
- ``precision``: autocast and the gradient scaler
- ``schedules``: learning-rate schedules
- ``checks``: does the loss fit the model and the data
- ``data``: the dataset contract (Dataset, Split) and batching
"""
