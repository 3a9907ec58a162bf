"""The same (L input, ab target) batches as :class:`ColorizationDataset`, as a Grain pipeline.

Grain (``pip install grain``) reads with a pool of threads and prefetches without Keras'
enqueuer; Keras >= 3.11 accepts Grain datasets in ``fit``. Each example is made by
:meth:`ColorizationDataset.example`, so crops, degradations and caching are identical.
"""

from __future__ import annotations

from pathlib import Path

from bwcolor.data.dataset import ColorizationDataset

__all__ = ["grain_dataset"]


def grain_dataset(paths, image_size, batch_size, *, training, output_stride=1, degradations=None,
                  cache_dir=None, seed=0, num_threads=2, prefetch_batches=4, targets="ab",
                  crop_on_device=False, hints=False):
    """A ``grain.IterDataset`` of ``(L input, ab target)`` batches.

    Training datasets are infinite: shuffled anew every epoch (Grain's epoch-aware shuffle), with
    new random crops for every pass (the random map is seeded by the element's position), and
    ragged last batches dropped; give ``fit`` a ``steps_per_epoch``. Evaluation datasets make one
    pass in order.

    Parameters
    ----------
    paths, image_size, output_stride, degradations, cache_dir, seed, targets, crop_on_device, hints
        As for :class:`ColorizationDataset`.
    batch_size : int
    training : bool
    num_threads : int
        Grain read threads.
    prefetch_batches : int
        Batches read ahead.

    Raises
    ------
    ImportError
        When grain is not installed, saying how to install it.
    """
    try:
        import grain
    except ImportError:
        raise ImportError("the Grain data path needs grain: pip install grain") from None
    paths = [Path(p) for p in paths]
    maker = ColorizationDataset(paths, image_size, 1, training=training,
                                output_stride=output_stride, degradations=degradations,
                                cache_dir=cache_dir, seed=seed, targets=targets,
                                crop_on_device=crop_on_device, hints=hints)
    ds = grain.MapDataset.source(paths)
    if training:
        ds = ds.shuffle(seed=seed).repeat(None)
        ds = ds.random_map(lambda path, rng: maker.example(path, rng), seed=seed)
    else:
        import numpy as np

        ds = ds.map(lambda path: maker.example(path, np.random.default_rng(0)))
    ds = ds.batch(min(batch_size, len(paths)), drop_remainder=training)
    options = grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=prefetch_batches * batch_size)
    return ds.to_iter_dataset(options)
