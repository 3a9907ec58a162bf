"""Colorize a photo archive on a Ray cluster (the optional ``ray`` extra: ``pip install
"bwcolor[ray]"``).

The job is planned exactly as ``bwcolor colorize`` plans it, on the machine that starts it
(:mod:`bwcolor._plan`: the same output names, skip and failure rules; a plan that would overwrite
an input is refused before Ray starts). The photos still to do then flow through a Ray Data
pipeline:

    file list -> decode (Ray tasks) -> colorize (an actor pool, one model per actor) -> atomic write

Each actor loads the model once and colorizes its batches photo by photo with the same
:meth:`~bwcolor.Colorizer.colorize` call and the same encoder (:func:`bwcolor._io.write_image`) as
the single-process command, so the files are byte for byte the ones ``bwcolor colorize`` writes.

Crashes and killed workers: every write is atomic (a photo is whole or absent), and each output's
file identity is taken when planning; an attempt that finds it changed (an earlier attempt of a
retried batch wrote it) skips the photo, so no photo is written twice. A rerun of the job plans
again and does only what is missing. A photo that cannot be read or colorized is counted and
named; it never stops the job.

The pool is sized from the cluster's resources: one actor per GPU where there are GPUs; on CPUs
only, an actor per 4 CPUs (at least one). Actors never take every CPU: a share stays free for the
decode tasks, which otherwise wait for a CPU forever (two 1-CPU actors on a 2-CPU Ray never
progressed).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bwcolor import presets
from bwcolor._io import file_identity, remove_stale_temp_files, write_image
from bwcolor._plan import plan_outputs

__all__ = ["INSTALL_MESSAGE", "JobResult", "PoolShape", "colorize_on_ray", "import_ray",
           "model_files", "plan_job", "pool_shape", "run_jobs"]

#: What to do when Ray is missing (``bwcolor colorize --ray`` says this line and exits 2).
INSTALL_MESSAGE = 'the ray extra is not installed: pip install "bwcolor[ray]"'
#: Logical CPUs of one decode task: four decodes share a CPU in Ray's accounting.
DECODE_CPUS = 0.25
#: CPUs a CPU-only actor is given (its XLA threads use the whole node anyway).
CPUS_PER_CPU_ACTOR = 4


def import_ray():
    """Import Ray and Ray Data, or raise ImportError with :data:`INSTALL_MESSAGE`."""
    try:
        import ray
        import ray.data  # the extra is ray[data]
    except ImportError:
        raise ImportError(INSTALL_MESSAGE) from None
    return ray


@dataclasses.dataclass
class JobResult:
    """What a Ray colorize job did.

    Attributes
    ----------
    written : int
        Photos colorized and written by this job.
    existing : int
        Outputs that existed before the job and were kept (no ``overwrite``).
    failures : list of (Path, str)
        Photos that could not be colorized (the plan's and the job's), with the reason.
    plan : bwcolor._plan.Plan or None
        The plan (its ``skipped`` files and ``renamed`` count), when the job planned.
    seconds : float
        Wall time of the Ray part (0 when nothing was left to do).
    actors : int
        Actors in the pool (0 when Ray was not started).
    ray_logs : str or None
        The folder where Ray's own logs went (its session's ``logs``).
    """

    written: int = 0
    existing: int = 0
    failures: list = dataclasses.field(default_factory=list)
    plan: object = None
    seconds: float = 0.0
    actors: int = 0
    ray_logs: str | None = None


@dataclasses.dataclass(frozen=True)
class PoolShape:
    """An actor pool: ``actors`` actors of ``cpus`` CPUs and ``gpus`` GPUs each."""

    actors: int
    cpus: float
    gpus: float


def pool_shape(cluster_cpus, cluster_gpus=0, actors=None):
    """The actor pool for a cluster of ``cluster_cpus`` CPUs and ``cluster_gpus`` GPUs.

    A quarter of the CPUs (at least half of one) stays free for decode tasks: actors that hold
    every CPU leave the decode stage none, and the job never progresses. With GPUs: ``actors``
    defaults to one per GPU, each with its GPU (a share of one when there are more actors than
    GPUs) and up to 2 CPUs; CPUs only: one actor per :data:`CPUS_PER_CPU_ACTOR` CPUs.

    Raises
    ------
    ValueError
        For ``actors`` < 1, or a cluster without the CPU room for them.
    """
    cpus, gpus = float(cluster_cpus), float(cluster_gpus or 0)
    reserve = max(0.5, cpus / 4)
    room = cpus - reserve
    if room <= 0:
        raise ValueError(f"the Ray cluster has too few CPUs for an actor beside the decode "
                         f"tasks (needs more than {reserve}). Received: {cpus:g} CPUs")
    if actors is None:
        actors = int(gpus) if gpus >= 1 else max(1, int(room // CPUS_PER_CPU_ACTOR))
    if isinstance(actors, bool) or not isinstance(actors, int) or actors < 1:
        raise ValueError(f"actors must be an int >= 1. Received: actors={actors!r}")
    per_actor_cpus = room / actors
    if gpus >= 1:
        per_actor_cpus = min(2.0, per_actor_cpus)
        return PoolShape(actors, round(per_actor_cpus, 4), min(1.0, round(gpus / actors, 4)))
    return PoolShape(actors, round(min(float(CPUS_PER_CPU_ACTOR), per_actor_cpus), 4), 0.0)


def model_files(model):
    """The files of the preset or run folder ``model`` that a job reads: no output may be one
    of them."""
    try:
        folder = presets.resolve(model)
    except (TypeError, ValueError):  # the model check says what is wrong
        return []
    return [folder / f for f in (presets.CONFIG_FILE, presets.WEIGHTS_FILE, presets.METADATA_FILE)
            if (folder / f).exists()]


def plan_job(inputs, output, *, model="default", suffix="", ext=None, overwrite=False):
    """(plan, todo): the plan of ``bwcolor colorize`` for these arguments, and its (input,
    output) pairs still to write (all of them with ``overwrite``), after removing the temporary
    files dead processes left in the output folders. Raises
    :class:`bwcolor._plan.PlanError` for an unsafe plan (an output over an input or one of
    ``model``'s files), before anything is written."""
    plan = plan_outputs(inputs, output, suffix=suffix, ext=ext, reads=model_files(model))
    for folder in {dst.parent for _, dst in plan.jobs}:
        remove_stale_temp_files(folder)
    todo = [(src, dst) for src, dst in plan.jobs if overwrite or not dst.exists()]
    return plan, todo


def colorize_on_ray(inputs, output, model="default", *, address=None, suffix="", ext=None,
                    overwrite=False, render_size=None, annealing_temperature=None,
                    refine_chroma=True, actors=None, batch_size=4, num_cpus=None, progress=None):
    """Colorize photos and folders on a Ray cluster, as ``bwcolor colorize`` would on one machine.

    Parameters
    ----------
    inputs : list of paths
        Image files and folders, on storage every Ray node reads at the same paths.
    output : path
        Output folder (or, for one input file, the output image file), as for ``bwcolor
        colorize``; every node must be able to write there.
    model : str or path
        A bundled preset's name, or a preset / run folder every node can read.
    address : str, optional
        An existing Ray cluster (``"auto"``, ``"ray://head:10001"``, ``"head:6379"``). None: the
        cluster this process is connected to, else ``RAY_ADDRESS``, else a local Ray started for
        the job (and stopped after it).
    suffix, ext, overwrite :
        As ``bwcolor colorize``'s ``--suffix``, ``--ext`` and ``--overwrite``.
    render_size, annealing_temperature, refine_chroma :
        As :meth:`bwcolor.Colorizer.colorize`'s (``refine_chroma=False``: ``bwcolor colorize
        --no-refine-chroma``, a*b* upsampled bilinearly).
    actors : int, optional
        Colorizing actors (default from the cluster: one per GPU, or one per 4 CPUs).
    batch_size : int
        Photos handed to an actor at a time.
    num_cpus : int, optional
        CPUs of a local Ray started for the job (default: all of this machine's).
    progress : callable, optional
        ``progress(done, total, src, dst, error)`` after each photo (``error`` None when written).

    Returns
    -------
    JobResult

    Raises
    ------
    ImportError
        Without the ``ray`` extra.
    ValueError
        For an unsafe plan (:class:`bwcolor._plan.PlanError`), an unknown model or a bad option,
        before Ray starts.
    """
    import_ray()
    plan, todo = plan_job(inputs, output, model=model, suffix=suffix, ext=ext,
                          overwrite=overwrite)
    result = run_jobs(todo, model, address=address, render_size=render_size,
                      annealing_temperature=annealing_temperature, refine_chroma=refine_chroma,
                      actors=actors, batch_size=batch_size, num_cpus=num_cpus, progress=progress)
    # An actor killed while writing leaves its temporary file (named for its process): now
    # that the job is over, remove those of processes that are gone, as the next run would.
    for folder in {dst.parent for _, dst in todo}:
        remove_stale_temp_files(folder)
    result.plan = plan
    result.existing = len(plan.jobs) - len(todo)
    result.failures = list(plan.failures) + result.failures
    return result


def _check_options(model, render_size, annealing_temperature, refine_chroma, batch_size,
                   num_cpus):
    """The model's preset and the options, checked without Keras (before Ray starts)."""
    from bwcolor._arguments import check_bools, check_int, check_positive

    config = presets.read_preset(model)[1]
    check_bools(refine_chroma=refine_chroma)
    check_int("batch_size", batch_size)
    check_int("num_cpus", num_cpus, allow_none=True)
    check_positive("annealing_temperature", annealing_temperature, allow_none=True)
    if render_size is not None:
        if isinstance(render_size, bool) or not isinstance(render_size, int):
            raise TypeError(f"render_size must be an int. Received: render_size={render_size!r}")
        if not presets.MIN_RENDER_SIZE <= render_size <= presets.MAX_RENDER_SIZE:
            raise ValueError(f"render_size must be in [{presets.MIN_RENDER_SIZE}, "
                             f"{presets.MAX_RENDER_SIZE}]. Received: render_size={render_size!r}")
    return config


def run_jobs(todo, model="default", *, address=None, render_size=None, annealing_temperature=None,
             refine_chroma=True, actors=None, batch_size=4, num_cpus=None, progress=None):
    """Colorize the planned ``todo`` pairs (input, output) on Ray; see :func:`colorize_on_ray`.

    Returns a :class:`JobResult` of this part (its ``plan`` None, ``existing`` 0). With nothing
    to do, Ray is not started.
    """
    ray = import_ray()
    _check_options(model, render_size, annealing_temperature, refine_chroma, batch_size,
                   num_cpus)
    model = _shared_model_path(model)
    if not todo:
        return JobResult()
    started = time.monotonic()
    with warnings.catch_warnings():
        # Ray starts its processes with a fork that execs at once; JAX's warning about forking
        # a multithreaded process (a colorizer already used here) does not apply.
        warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
        options = {"render_size": render_size, "annealing_temperature": annealing_temperature,
                   "refine_chroma": refine_chroma}
        result = _run_on_cluster(ray, todo, model, address, num_cpus, actors, batch_size,
                                 progress, options)
    result.seconds = time.monotonic() - started
    return result


def _run_on_cluster(ray, todo, model, address, num_cpus, actors, batch_size, progress, options):
    """The job on the cluster; ``options`` are the keywords of each photo's ``colorize``."""
    result = JobResult()
    we_started = _connect(ray, address, num_cpus)
    try:
        result.ray_logs = _ray_log_folder(ray)
        resources = ray.cluster_resources()
        shape = pool_shape(resources.get("CPU", 0), resources.get("GPU", 0), actors)
        result.actors = shape.actors
        _run_pipeline(ray, todo, model, shape, result, progress, batch_size=batch_size,
                      options=options)
    finally:
        if we_started:
            ray.shutdown()
    return result


def _shared_model_path(model):
    """A preset name as given; a folder as its absolute path (the actors' working folder may
    differ)."""
    if isinstance(model, (str, os.PathLike)) and Path(model).is_dir():
        return os.path.abspath(model)
    return model


def _connect(ray, address, num_cpus):
    """Connect to the cluster (or start a local Ray); True when this call started Ray."""
    from bwcolor import _backend

    if ray.is_initialized():
        return False
    # The actors must run the backend this process runs. Ray's own messages (its token and
    # deprecation notices, worker output) go to its session's log files (JobResult.ray_logs),
    # not to the terminal, where bwcolor's progress and summary are.
    kwargs = {"runtime_env": {"env_vars": {"KERAS_BACKEND": _backend.name()}},
              "log_to_driver": False, "logging_level": logging.ERROR}
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is None:
        ray.init(num_cpus=num_cpus, include_dashboard=False, **kwargs)
    else:
        ray.init(address=address, **kwargs)
    return True


def _ray_log_folder(ray):
    try:
        from ray._private.worker import global_worker

        return os.path.join(global_worker.node.get_session_dir_path(), "logs")
    except (ImportError, AttributeError):  # a Ray client connection: the logs are on the head
        return None


@contextlib.contextmanager
def _quiet_ray_data(ray):
    """Ray Data's progress bars and its log lines off the terminal while the job runs."""
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.enable_auto_log_stats = False
    loggers = [logging.getLogger(name) for name in ("ray", "ray.data")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="ray")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _run_pipeline(ray, todo, model, shape, result, progress, *, batch_size, options):
    with _quiet_ray_data(ray):
        _stream(ray, todo, model, shape, result, progress, batch_size, options)


def _stream(ray, todo, model, shape, result, progress, batch_size, options):
    rows = [{"src": str(src), "dst": str(dst), "planned": _identity_text(dst)}
            for src, dst in todo]
    ds = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows), 4 * shape.actors
                                                                  + 8)))
    ds = ds.map(_decode, num_cpus=DECODE_CPUS)
    # Ray Data restarts an actor that dies and retries its batch (max_restarts and
    # max_task_retries are -1 for its pools); the identity check makes the retry skip photos
    # the dead attempt already wrote.
    ds = ds.map_batches(_actor_class(model, options), batch_size=batch_size,
                        batch_format="pandas",
                        compute=ray.data.ActorPoolStrategy(size=shape.actors),
                        num_cpus=shape.cpus, num_gpus=shape.gpus or None)
    total = len(todo)
    for done, row in enumerate(ds.iter_rows(), 1):
        error = row["error"] or None
        if error:
            result.failures.append((Path(row["src"]), error))
        else:
            result.written += 1
        if progress is not None:
            progress(done, total, row["src"], row["dst"], error)


def _identity_text(path):
    """The output's file identity as text ("" when absent): a later attempt that finds another
    one knows an earlier attempt wrote the photo."""
    ident = file_identity(path)
    return "" if ident is None else f"{ident[0]}:{ident[1]}"


def _decode(row):
    """A decode task: the photo's decoded PIL image (or the reason it cannot be read)."""
    from bwcolor.data import ImageDecodeError, open_image

    row = dict(row, image=None, error="")
    if _identity_text(row["dst"]) != row["planned"]:
        return row  # a retried task: an earlier attempt already wrote the photo
    try:
        row["image"] = open_image(row["src"])
    except (ImageDecodeError, OSError, ValueError) as e:
        row["error"] = str(e)
    return row


def _actor_class(model, options):
    """The actor class, its model and options bound: no constructor arguments (Ray keeps those
    in its object store and warns that a restart could lose them)."""

    class _ColorizeActor(_Colorize):
        def __init__(self):
            super().__init__(model, options)

    return _ColorizeActor


class _Colorize:
    """One loaded model; colorizes a batch photo by photo and writes each output atomically (a
    thread encodes and writes while the model runs the next photo)."""

    def __init__(self, model, options):
        from bwcolor import Colorizer, _backend

        _backend.enable_compilation_cache()
        self.colorizer = Colorizer.from_preset(model)
        self.colorizer._check_colorize_options(**options)
        self.options = options
        self.writer = ThreadPoolExecutor(1)

    def __call__(self, batch):
        import pandas as pd

        errors, writes = [], []
        for dst, planned, image, error in zip(batch["dst"], batch["planned"], batch["image"],
                                              batch["error"]):
            if not error and _identity_text(dst) != planned:
                errors.append("")  # written by an earlier attempt of this batch
                continue
            if not error:
                try:
                    out = self.colorizer.colorize(image, **self.options)
                    writes.append((len(errors), dst, self.writer.submit(write_image, out, dst)))
                except (OSError, ValueError) as e:
                    error = str(e)
            errors.append(error)
        for i, dst, future in writes:
            try:
                future.result()
            except (OSError, ValueError) as e:
                errors[i] = f"could not write {dst}: {e}"
        return pd.DataFrame({"src": batch["src"], "dst": batch["dst"], "error": errors})
