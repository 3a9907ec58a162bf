"""Training a Colorizer: :func:`fit` and its steps, one module per job.

- :mod:`~bwcolor.training.checks`: fit's arguments, data source and run folder, before any work
- :mod:`~bwcolor.training.run_lock`: one fit at a time per run folder
- :mod:`~bwcolor.training.loaders`: photos -> batches (scan, cache, PyDataset or Grain)
- :mod:`~bwcolor.training.devices`: mixed precision, data-parallel distribution, device crops;
  :func:`join_job`, a multi-process (multi-host) JAX job
- :mod:`~bwcolor.training.rebalancing`: class weights from the training photos' color prior
- :mod:`~bwcolor.training.callbacks`: the run folder (checkpoints, history, NaN stop, time budget)
- :mod:`~bwcolor.training.features`: a frozen backbone's photo features, once per run (head)
- :mod:`~bwcolor.training.resume`: reading a run to resume it; recovering from a NaN loss
- :mod:`~bwcolor.training.loop`: fit itself, which calls the others in order
"""

from bwcolor.training.checks import FitOptions
from bwcolor.training.devices import join_job
from bwcolor.training.loop import fit, make_loss, make_optimizer
from bwcolor.training.resume import RUN_DEFINING_KEYS, checkpoint_weights, read_run_state

__all__ = ["RUN_DEFINING_KEYS", "FitOptions", "checkpoint_weights", "fit", "join_job", "make_loss",
           "make_optimizer", "read_run_state"]
