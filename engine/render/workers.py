"""Run chunks of one or more jobs on local worker processes or on a Ray cluster, then join.

:func:`run_jobs` is the one scheduler entry point: a list of :class:`~engine.render.chunks.Job`
(shot, frame range, output) in, each job's output written atomically out. Chunks are cut by
:mod:`engine.render.chunks` (the same cut for any worker count), rendered where asked, checked
against their hashes, kept in each job's work folder, and joined with ``-c copy``.

Where they run:

- ``workers=1`` (and no Ray): in this process, one after another (the single-process render).
- ``workers=N``: ``concurrent.futures.ProcessPoolExecutor`` on N spawned processes. A worker
  that dies (killed, out of memory) breaks the pool: the chunks it and its siblings were
  rendering are put back and a new pool takes them, each chunk at most ``retries + 1`` times.
  Workers ignore Ctrl-C and die with their parent (Linux ``PR_SET_PDEATHSIG``); on any stop
  the parent kills them, so none outlive it.
  With GPUs listed in ``CUDA_VISIBLE_DEVICES``, worker k is pinned to the k-th (its
  ``egl-device-index``, and that GPU alone in its own ``CUDA_VISIBLE_DEVICES``).
- ``ray=ADDRESS`` (or ``"auto"``: join a running cluster, else start a local one): one Ray
  task per chunk, ``max_retries=retries`` for dead workers, one CPU each, or one GPU each on a
  cluster with GPUs (pinned to it through Panda3D's ``egl-device-index``). The scene and its
  files (asset, buffers, textures, environment) go through Ray's object store, put once per
  job and cached on each node by content hash; the chunk's bytes come back through it: the
  nodes need no shared folder.
  Ray is imported only here and only when asked (``pip install 'maquette[ray]'``).

Several jobs (a campaign's shots) share the one pool or cluster; each is joined as soon as its
last chunk is in. With ``keep_going`` a failing job is reported and dropped while the others go
on. Times are wall-clock seconds.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path

from engine.errors import InputError, MaquetteError, WorkError
from engine.render.chunks import (
    Chunk,
    ChunkDone,
    Job,
    WorkFolder,
    check_destination,
    chunk_frames_for,
    egl_device_for,
    join_chunks,
    render_chunk,
    visible_gpus,
    worker_gpu,
)

__all__ = ["AssetBundle", "JobResult", "RunReport", "asset_bundle", "auto_workers", "run_jobs",
           "unpack_bundle"]

RETRIES = 2  # a chunk whose worker died is tried at most RETRIES + 1 times


@dataclass
class JobResult:
    job: Job
    path: Path
    frames: int
    chunks: int
    reused: list[str]  # chunk names found finished in the work folder
    rendered: list[str]
    poster: bytes | None = None  # the job's first frame (PNG), from its first chunk's worker


@dataclass
class RunReport:
    results: list[JobResult]
    seconds: float
    workers: int
    where: str  # "this process", "N local workers", "Ray at ADDRESS"
    retried: dict[str, int] = field(default_factory=dict)  # chunk label -> deaths survived
    done: list[ChunkDone] = field(default_factory=list)
    join_s: float = 0.0  # joining the chunks (concat -c copy, frame count check)
    failed: dict[str, str] = field(default_factory=dict)  # job label -> error (keep_going)

    @property
    def frames(self) -> int:
        return sum(r.frames for r in self.results)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


def auto_workers(cores: int | None = None, gpus: list[str] | None = None) -> int:
    """Local workers for this machine: one per GPU when CUDA_VISIBLE_DEVICES lists GPUs
    (each worker pinned to its own); else llvmpipe, which already renders on every core
    (its LP_NUM_THREADS defaults to the core count), so each worker gets two cores (its
    renderer and its encoder threads) rather than N workers fighting for them."""
    gpus = visible_gpus() if gpus is None else gpus
    if gpus:
        return len(gpus)
    return max(1, (cores or _cores()) // 2)


def _cores() -> int:
    """Cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def parse_workers(value: str) -> int:
    """--workers: a count of 1 or more, or "auto"."""
    if value == "auto":
        return auto_workers()
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise InputError(f"--workers: expected a number of processes (1 or more) or 'auto', "
                         f"got {value!r}")
    return count


# ---------------------------------------------------------------------- local workers

def _worker_init(lp_threads: int, slots=None, gpus: tuple[str, ...] = ()) -> None:
    """In each spawned worker: leave Ctrl-C to the parent, die with it, share the cores;
    with GPUs visible, take the next worker slot and pin this worker to its GPU (that GPU
    alone in its CUDA_VISIBLE_DEVICES, its egl-device-index for every chunk it renders)."""
    from engine.render import chunks

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("LP_NUM_THREADS", str(lp_threads))  # before Mesa is loaded
    if gpus and slots is not None:
        with slots.get_lock():
            slot = slots.value
            slots.value += 1
        gpu = worker_gpu(slot, list(gpus))
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
        chunks.WORKER_EGL_DEVICE = egl_device_for(gpu)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - not glibc
            pass


def _kill_pool(pool: ProcessPoolExecutor) -> None:
    """Kill every worker of `pool` now and reap them (no stray processes). Only the pool's
    own processes: others this process started are not ours to end. (A broken pool has
    already terminated its workers itself.)"""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for proc in procs:
        if proc.is_alive():
            proc.kill()
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.join(timeout=10)


def _chunk_error(chunk: Chunk, exc: BaseException, where: str) -> MaquetteError:
    """A worker's exception as one of ours, its message naming the chunk."""
    message = f"chunk {chunk.label} ({chunk.target.name}) failed {where}: {exc}"
    if isinstance(exc, InputError):
        return InputError(message)
    return WorkError(message)


def _raise(chunk: Chunk, error: MaquetteError) -> None:
    raise error


def _never(chunk: Chunk) -> bool:
    return False


def _run_inline(chunks: list[Chunk], on_done: Callable[[Chunk, ChunkDone], None],
                on_error: Callable[[Chunk, MaquetteError], None] = _raise,
                dropped: Callable[[Chunk], bool] = _never) -> None:
    for chunk in chunks:
        if dropped(chunk):
            continue
        try:
            done = render_chunk(replace(chunk, claims=None))
        except (MaquetteError, OSError, RuntimeError, ValueError) as exc:
            if on_error is _raise:
                raise
            on_error(chunk, _chunk_error(chunk, exc, "in this process"))
            continue
        on_done(chunk, done)


def _run_local(chunks: list[Chunk], workers: int, retries: int,
               on_done: Callable[[Chunk, ChunkDone], None], log: Callable[[str], None],
               retried: dict[str, int],
               on_error: Callable[[Chunk, MaquetteError], None] = _raise,
               dropped: Callable[[Chunk], bool] = _never) -> None:
    """`on_error(chunk, error)`: a chunk that failed (default: raise, ending the run);
    `dropped(chunk)`: chunks not to start (their job has failed)."""
    lp_threads = max(1, _cores() // workers)
    context = multiprocessing.get_context("spawn")
    gpus = tuple(visible_gpus())
    pending = deque(chunks)
    tries: dict[str, int] = {}
    while pending:
        slots = context.Value("i", 0) if gpus else None  # worker k -> the k-th GPU
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init,
                                   initargs=(lp_threads, slots, gpus))
        inflight: dict = {}
        try:
            broken = False
            while (pending or inflight) and not broken:
                while pending and dropped(pending[0]):
                    pending.popleft()
                while pending and len(inflight) < workers:  # only `workers` at a time: each
                    chunk = pending[0]                       # in-flight chunk is running
                    if dropped(chunk):
                        pending.popleft()
                        continue
                    try:
                        future = pool.submit(render_chunk, chunk)
                    except BrokenProcessPool:  # a worker died since the last wait
                        broken = True
                        break
                    pending.popleft()
                    tries[chunk.name] = tries.get(chunk.name, 0) + 1
                    inflight[future] = chunk
                if broken or not inflight:
                    continue
                finished, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for future in finished:
                    chunk = inflight[future]
                    try:
                        done = future.result()
                    except BrokenProcessPool:
                        broken = True
                        continue
                    except Exception as exc:
                        error = _chunk_error(chunk, exc, "on a local worker")
                        if on_error is _raise:
                            raise error from exc
                        del inflight[future]
                        on_error(chunk, error)
                        continue
                    del inflight[future]
                    on_done(chunk, done)
            if broken:  # a worker died: every chunk in flight was lost with the pool
                lost = list(inflight.values())
                inflight.clear()
                _kill_pool(pool)
                for chunk in lost:
                    if tries[chunk.name] > retries:
                        raise WorkError(
                            f"chunk {chunk.label} ({chunk.target.name}): its worker died "
                            f"{tries[chunk.name]} times (the limit is {retries + 1} tries); "
                            "see the system log for why (out of memory?)")
                    retried[chunk.label] = retried.get(chunk.label, 0) + 1
                    log(f"a worker died while rendering chunk {chunk.label}: retrying it on a "
                        f"new worker (try {tries[chunk.name] + 1} of {retries + 1})")
                pending.extendleft(reversed(lost))
        finally:
            _kill_pool(pool)


# ---------------------------------------------------------------------- Ray

def _ray():
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs Ray: pip install 'maquette[ray]' (or pip install ray)"
                         ) from None
    return ray


def ray_connect(address: str) -> tuple[object, bool]:
    """Connect to Ray at `address` ("auto": a running cluster, else start a local one).
    Returns (ray, started): `started` when this call started the connection (so the caller
    shuts it down); an already initialised Ray (a test's cluster) is used as it is."""
    ray = _ray()
    if ray.is_initialized():
        return ray, False
    kwargs = {"log_to_driver": False, "configure_logging": False}
    if address == "auto":
        try:
            ray.init(address="auto", **kwargs)
        except ConnectionError:
            ray.init(**kwargs)  # no cluster running: a local one, on this machine's cores
    else:
        _reachable(address)
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise WorkError(f"--ray {address}: cannot join that Ray cluster ({exc}); start it "
                            "with `ray start --head`, or use --ray auto") from None
    return ray, True


@dataclass(frozen=True)
class AssetBundle:
    """A scene's input files (asset, its buffers and textures, environment) as bytes under
    their paths relative to `root`, named by content: what travels through Ray's object
    store, so nodes need no shared folder."""

    digest: str
    root: str
    files: dict[str, bytes]


def asset_bundle(scene) -> AssetBundle:
    import hashlib

    from engine.scene.source import scene_inputs

    paths = sorted({Path(os.path.abspath(p)) for p in scene_inputs(scene)
                    if scene.path is None or Path(p) != Path(scene.path)})
    root = os.path.commonpath([os.fspath(p.parent) for p in paths])
    files = {os.path.relpath(p, root): p.read_bytes() for p in paths}
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\0{hashlib.sha256(files[name]).hexdigest()}\n".encode())
    return AssetBundle(digest.hexdigest(), root, files)


def unpack_bundle(bundle: AssetBundle, scene, cache: Path):
    """Write `bundle` once into `cache/<digest>/` (atomically: concurrent tasks on a node
    race harmlessly) and return `scene` reading its files from there."""
    import secrets

    folder = cache / bundle.digest
    if not folder.is_dir():
        tmp = cache / f".{bundle.digest}.partial-{os.getpid()}-{secrets.token_hex(3)}"
        for name, data in bundle.files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(data)
        try:
            os.rename(tmp, folder)
        except OSError:  # another task got there first
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)

    def moved(path):
        return None if path is None else folder / os.path.relpath(os.path.abspath(path),
                                                                  bundle.root)

    return replace(scene, path=None, asset=replace(scene.asset, source=moved(scene.asset.source)),
                   stage=replace(scene.stage, environment=moved(scene.stage.environment)))


def _reachable(address: str, timeout: float = 5.0) -> None:
    """Refuse a HOST:PORT nobody listens on quickly (Ray itself retries for minutes)."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # not HOST:PORT: let Ray judge it
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise WorkError(f"--ray {address}: no Ray cluster answers there ({exc}); start one "
                        "with `ray start --head`, or use --ray auto") from None


def _ray_render(chunk: Chunk, bundle: AssetBundle) -> ChunkDone:
    """A Ray task: the scene's files from the object store (cached on the node by content
    hash), render into a local temporary folder, ship the chunk's bytes back."""
    import tempfile

    import ray

    gpus = ray.get_gpu_ids()
    if gpus and chunk.egl_device is None:
        chunk = replace(chunk, egl_device=egl_device_for(gpus[0]))
    cache = Path(tempfile.gettempdir()) / "maquette-assets"
    cache.mkdir(exist_ok=True)
    chunk = replace(chunk, scene=unpack_bundle(bundle, chunk.scene, cache))
    with tempfile.TemporaryDirectory(prefix="maquette-chunk-") as tmp:
        chunk = replace(chunk, folder=Path(tmp), claims=None)
        done = render_chunk(chunk)
        target = chunk.target
        paths = sorted(target.glob("*.png")) if target.is_dir() else [target]
        done.files = {p.name: p.read_bytes() for p in paths}
    return done


def ray_task_options(resources: dict, retries: int) -> dict:
    """A chunk's Ray task options: one GPU when the cluster has GPUs (Ray then sets the
    task's CUDA_VISIBLE_DEVICES and ray.get_gpu_ids(), which pin it), else one CPU."""
    gpus = int(resources.get("GPU", 0))
    return {"max_retries": retries, "retry_exceptions": False, "num_cpus": 1,
            "num_gpus": 1 if gpus else 0}


def _run_ray(chunks: list[Chunk], address: str, retries: int,
             on_done: Callable[[Chunk, ChunkDone], None], log: Callable[[str], None],
             on_error: Callable[[Chunk, MaquetteError], None] = _raise) -> str:
    ray, started = ray_connect(address)
    try:
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        options = ray_task_options(resources, retries)
        task = ray.remote(_ray_render).options(**options)
        log(f"Ray: {int(resources.get('CPU', 0))} CPUs, {gpus} GPUs; one chunk per "
            f"{'GPU' if gpus else 'CPU'}")
        bundles: dict[str, object] = {}  # job -> ObjectRef: each scene's files put once,
        puts: dict[tuple[str, str], object] = {}  # and the same files once for all jobs
        for chunk in chunks:
            if chunk.job not in bundles:
                bundle = asset_bundle(chunk.scene)
                key = (bundle.digest, bundle.root)
                if key not in puts:
                    puts[key] = ray.put(bundle)
                bundles[chunk.job] = puts[key]
        if chunks:
            log(f"Ray: {len(puts)} asset bundle(s) in the object store for {len(bundles)} "
                "job(s)")
        refs = {task.remote(chunk, bundles[chunk.job]): chunk for chunk in chunks}
        try:
            while refs:
                ready, _ = ray.wait(list(refs), num_returns=1)
                for ref in ready:
                    chunk = refs.pop(ref)
                    try:
                        done = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:
                        cause = getattr(exc, "cause", None) or exc
                        error = _chunk_error(chunk, cause, "on a Ray worker")
                    except ray.exceptions.RayError as exc:  # worker or node died, retries spent
                        error = WorkError(
                            f"chunk {chunk.label} ({chunk.target.name}) failed on Ray after "
                            f"{retries + 1} tries: {type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}")
                    else:
                        on_done(chunk, done)
                        continue
                    if on_error is _raise:
                        raise error from None
                    on_error(chunk, error)
                    for other in [r for r, c in refs.items() if c.job == chunk.job]:
                        ray.cancel(other, force=True)  # the rest of a failed job
                        refs.pop(other)
        finally:
            for ref in refs:
                ray.cancel(ref, force=True)
        return f"Ray ({ray.get_runtime_context().gcs_address})"
    finally:
        if started:
            ray.shutdown()


# ---------------------------------------------------------------------- the entry point

def run_jobs(jobs: list[Job], *, workers: int = 1, ray: str | None = None,
             chunk_frames: int | None = None, work: Path | None = None,
             retries: int = RETRIES, progress: bool = False,
             log: Callable[[str], None] = lambda message: None,
             warn: Callable[[str], None] | None = None, keep_going: bool = False,
             on_job: Callable[[JobResult], None] | None = None, bar=None) -> RunReport:
    """Render `jobs` in chunks and write each job's output (atomically; its work folder is
    removed once the output is in place). `chunk_frames` None: each job's scene picks
    (chunk_frames_for). `work`: the work folder of a single job (default beside its output).
    A re-run reuses the finished chunks a stopped or failed run left in the work folders.
    `warn` gets the framing guard's warning of each job (from its first chunk's worker).

    All jobs' chunks share the one pool (or cluster); each job is joined as soon as its last
    chunk is in, and `on_job(result)` called then (a campaign finishes that shot while the
    others render). `keep_going`: a job that fails (its destination refused, a chunk's
    error, the join) is noted in the report's `failed` with its error, its remaining chunks
    dropped and its finished ones kept for a re-run, and the other jobs go on (default: the
    first error ends the run). `bar`: a progress bar (tqdm-like: update(n)) to advance
    instead of an own one."""
    if work is not None and len(jobs) != 1:
        raise InputError("a work folder can be given for one job only")
    if len({job.label for job in jobs}) != len(jobs):
        raise InputError("two jobs have the same name; name each job")
    folders: list[WorkFolder] = []
    try:
        return _run(jobs, folders, workers, ray, chunk_frames, work, retries, progress, log,
                    warn, keep_going, on_job, bar)
    finally:
        for folder in folders:
            folder.close()


def _run(jobs, folders, workers, ray, chunk_frames, work, retries, progress, log,
         warn, keep_going, on_job, bar) -> RunReport:
    from tqdm import tqdm

    begin = time.perf_counter()
    report = RunReport([], 0.0, workers, "this process")
    todo, reused = [], {}
    for job in jobs:
        try:
            check_destination(job)
            folder = WorkFolder(job, chunk_frames or chunk_frames_for(job.scene), work)
            folders.append(folder)
            valid = folder.open()
        except (MaquetteError, OSError) as exc:
            if not keep_going:
                raise
            report.failed[job.label] = str(exc)
            continue
        reused[job.label] = sorted(valid)
        todo += [c for c in folder.chunks(claims=workers > 1 and ray is None)
                 if c.name not in valid]
    by_job = {f.job.label: f for f in folders if f.job.label not in report.failed}
    left = {label: len(f.plan) - len(reused[label]) for label, f in by_job.items()}
    total = sum(c.stop - c.start for c in todo)
    if any(reused.values()):
        count = sum(len(v) for v in reused.values())
        log(f"resuming: {count} finished chunk(s) kept, {len(todo)} to render")
    rendered: dict[str, list[str]] = {label: [] for label in by_job}
    results: dict[str, JobResult] = {}

    def fail(label: str, error: BaseException) -> None:
        if not keep_going:
            raise error
        if label not in report.failed:
            report.failed[label] = str(error)
            log(f"error: {error}")

    def finish(folder: WorkFolder) -> None:
        """Join a job whose chunks are all in; its work folder goes once the output is."""
        label = folder.job.label
        joined = time.perf_counter()
        try:
            path = join_chunks(folder)
        except (MaquetteError, OSError) as exc:
            fail(label, exc)
            return
        finally:
            report.join_s += time.perf_counter() - joined
        results[label] = JobResult(folder.job, path, len(folder.job.frames), len(folder.plan),
                                   reused[label], rendered[label], folder.poster())
        folder.remove()
        if on_job is not None:
            on_job(results[label])

    own = tqdm(total=total, unit="frame", disable=not progress or bar is not None,
               dynamic_ncols=True)
    shown = own if bar is None else bar
    if bar is not None:  # a caller's bar counts every frame: the kept chunks' too
        bar.update(sum(len(by_job[label].job.frames) for label in left) - total)
    try:
        def on_done(chunk: Chunk, done: ChunkDone) -> None:
            if chunk.job in report.failed:
                return
            try:
                by_job[chunk.job].store(chunk, done)
            except (MaquetteError, OSError) as exc:
                fail(chunk.job, exc)
                return
            done.files = {}
            done.poster = None
            if done.warning and warn is not None:
                warn(done.warning)
            report.done.append(done)
            rendered[chunk.job].append(chunk.name)
            shown.update(done.frames)
            left[chunk.job] -= 1
            if left[chunk.job] == 0:
                finish(by_job[chunk.job])

        def on_error(chunk: Chunk, error: MaquetteError) -> None:
            fail(chunk.job, error)

        def dropped(chunk: Chunk) -> bool:
            return chunk.job in report.failed

        handler = on_error if keep_going else _raise
        for label, count in left.items():  # every chunk kept from an earlier run
            if count == 0:
                finish(by_job[label])
        if ray is not None:
            report.where = _run_ray(todo, ray, retries, on_done, log, handler)
        elif workers > 1 and todo:
            report.where = f"{workers} local workers"
            _run_local(todo, workers, retries, on_done, log, report.retried, handler, dropped)
        else:
            _run_inline(todo, on_done, handler, dropped)
    finally:
        own.close()
    report.results = [results[job.label] for job in jobs if job.label in results]
    report.seconds = time.perf_counter() - begin
    return report
