"""JVET-style CTC runs from configuration files (``gfv-ctc run``).

``gfv-ctc run cfg/ctc/NAME.yaml [--workers N | --dask-local N | --dask-scheduler ADDR]``:

1. **Sequences.** Each source is prepared once into the work directory
   (``sequences/NAME_256x256_25_8bit_444.rgb`` and ``_420.yuv``, :mod:`ctc.prepare`); a
   prepared file is reused while the source file, the size and the number of pictures are
   unchanged.
2. **Jobs.** One job = sequence x codec x rate point (:mod:`ctc.jobs`). A finished job's
   record is stored as ``jobs/<sequence>__<codec>__qp<QP>.json`` in the output directory; on
   a re-run a job whose stored key (sequence digest, pictures, codec settings, QP, metric list)
   is unchanged is skipped, so an interrupted run resumes where it stopped.
3. **Execution.** Locally one process per core by default
   (:class:`concurrent.futures.ProcessPoolExecutor`, spawned processes), ``--workers 1`` in this
   process; or the same jobs on a Dask distributed cluster (``--dask-scheduler
   tcp://host:8786``, or ``--dask-local N`` for a local cluster of N single-threaded worker
   processes; the console output of local workers goes to ``<work>/logs/worker-<pid>.log``).
   Cluster workers need the repository installed and must see the work directory
   (a shared file system), as the jobs read the prepared sequences from it. A tqdm progress bar
   with ETA runs on stderr.
4. **Results.** ``results.csv``, ``summary.md``, ``plots/`` (:mod:`ctc.report`) and
   ``provenance.json`` (resolved configuration, git revision, package versions, host, times;
   :mod:`ctc.provenance`) in the output directory. A failed job is reported (stderr,
   provenance, summary) and the command exits with status 1; the other jobs still run.

Every job runs with the same number of torch/OpenCV threads (``threads_per_job``, default 1),
so results do not depend on the executor.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import as_completed as futures_as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from . import provenance
from .config import REPO_ROOT, CtcConfig, SequenceSpec
from .jobs import Job, init_worker, run_job
from .prepare import ctc_file_name, prepare_sequence

logger = logging.getLogger(__name__)

__all__ = ["RunError", "RunResult", "make_jobs", "prepare_sequences", "run_ctc"]

JOBS_DIR = "jobs"
PROVENANCE = "provenance.json"


class RunError(RuntimeError):
    """The run cannot start (a sequence cannot be prepared, an executor cannot be reached)."""


@dataclass
class RunResult:
    """Outcome of :func:`run_ctc`.

    Attributes:
        records: every job record (cached and new), in completion order.
        ran: ids of the jobs run now.
        cached: ids of the jobs taken from the cache.
        failed: job id -> one-line error.
        notes: remarks (e.g. a codec not run because its backend is unavailable).
        outputs: written report files.
        seconds: wall time of the run.
    """

    records: list[dict[str, Any]]
    ran: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    seconds: float = 0.0


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_json(path: Path, data: Any) -> None:
    """Atomic write (temporary file + rename): a crash never leaves half a record."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _init_work_dir(work: Path) -> None:
    """Create the work directory with a ``.gitignore`` so that its bulk is never committed."""
    work.mkdir(parents=True, exist_ok=True)
    ignore = work / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# prepared sequences and bitstreams of gfv-ctc run\n*\n")


def prepare_sequences(cfg: CtcConfig) -> dict[str, dict[str, Any]]:
    """Prepare every sequence into ``<work>/sequences`` (cached).

    Returns:
        sequence name -> ``{"file", "sha256", "frames", "source", ...}`` (what
        :func:`ctc.prepare.prepare_sequence` reports, for the provenance).

    Raises:
        RunError: a source is missing, has no face, or has fewer pictures than configured.
    """

    out_dir = cfg.work / "sequences"
    out_dir.mkdir(parents=True, exist_ok=True)
    info: dict[str, dict[str, Any]] = {}
    for seq in cfg.sequences:
        src = Path(seq.source)
        if not src.exists():
            raise RunError(f"sequence {seq.name}: source {src} does not exist")
        rgb = out_dir / ctc_file_name(seq.name, cfg.size, seq.fps, "444")
        sidecar = rgb.with_name(rgb.name + ".json")
        stat = src.stat()
        want = {
            "source": str(src),
            "source_bytes": stat.st_size,
            "source_mtime_ns": stat.st_mtime_ns,
            "frames": seq.frames,
            "size": cfg.size,
            "fps": seq.fps,
        }
        meta = _read_json(sidecar)
        if not (rgb.is_file() and meta and meta.get("request") == want):
            meta = _prepare_one(seq, cfg.size, out_dir, want)
            _write_json(sidecar, meta)
        if meta["frames"] < seq.frames:
            raise RunError(
                f"sequence {seq.name}: {src} gives {meta['frames']} pictures at {seq.fps} Hz, {seq.frames} configured"
            )
        info[seq.name] = {**meta, "file": str(rgb), "sha256": _sha256(rgb)}
    return info


def _prepare_one(seq: SequenceSpec, size: int, out_dir: Path, want: dict[str, Any]) -> dict[str, Any]:
    """Prepare one source: a CTC raw file at the test size and rate is taken as it is (first
    ``frames`` pictures), anything else goes through :func:`ctc.prepare.prepare_sequence`."""
    from refsw.media.video_io import InputError, read_video, write_video

    src = Path(seq.source)
    logger.info("preparing sequence %s from %s", seq.name, src)
    raw_tag = f"_{size}x{size}_{seq.fps}_8bit_"
    try:
        if src.suffix.lower() in (".rgb", ".yuv") and raw_tag in src.name:
            video = read_video(src, max_frames=seq.frames)
            for chroma in ("444", "420"):
                path = out_dir / ctc_file_name(seq.name, size, seq.fps, chroma)
                write_video(path, video.frames, seq.fps)
            return {"request": want, "frames": len(video.frames), "prepared": "as is"}
        result = prepare_sequence(src, out_dir, name=seq.name, frames=seq.frames, sizes=(size,), fps=seq.fps)
    except InputError as exc:
        raise RunError(f"sequence {seq.name}: {exc}") from exc
    summary = dataclasses.asdict(result)
    summary.pop("files")
    return {"request": want, "frames": result.frames, "prepared": summary}


def make_jobs(cfg: CtcConfig, sequences: dict[str, dict[str, Any]], codecs: list[str]) -> list[Job]:
    """All jobs of the run, in configuration order (sequence, codec, rate point)."""
    jobs = []
    for seq in cfg.sequences:
        for codec in (c for c in cfg.codecs if c.name in codecs):
            for qp in codec.qps:
                jobs.append(
                    Job(
                        job_id=f"{seq.name}__{codec.name}__qp{qp}",
                        sequence=seq.name,
                        cls=seq.cls,
                        sequence_file=sequences[seq.name]["file"],
                        sequence_sha256=sequences[seq.name]["sha256"],
                        frames=seq.frames,
                        fps=seq.fps,
                        codec=codec,
                        qp=qp,
                        metrics=cfg.metrics,
                        stream_dir=str(cfg.work / "streams"),
                        threads=cfg.threads_per_job,
                    )
                )
    return jobs


def _usable_codecs(cfg: CtcConfig) -> tuple[list[str], list[str]]:
    """Names of the codecs to run, and notes on the ``if_available`` ones left out.

    Raises:
        RunError: a codec with ``enabled: true`` cannot create its backend.
    """
    from refsw.codecs import CodecError, create_backend

    usable, notes = [], []
    for c in cfg.codecs:
        options = c.backend_options if c.type == "video" else {}
        try:
            create_backend(c.backend, **options)
        except (CodecError, LookupError, TypeError) as exc:
            message = str(exc).splitlines()[0]
            if c.enabled == "if_available":
                notes.append(f"codec {c.name} not run: {message}")
                logger.warning("codec %s not run: %s", c.name, message)
                continue
            raise RunError(f"codec {c.name}: {message}") from exc
        usable.append(c.name)
    return usable, notes


def _cached(path: Path, job: Job) -> dict[str, Any] | None:
    record = _read_json(path)
    if not isinstance(record, dict):
        return None
    key = json.loads(json.dumps(job.key()))
    return record if record.get("key") == key else None


@contextlib.contextmanager
def _executor(
    workers: int, dask_scheduler: str | None, dask_local: int | None, threads: int, log_dir: Path
) -> Iterator[tuple[Callable[[Job], Any], Callable[[list[Any]], Iterator[Any]], dict[str, Any]]]:
    """``(submit, as_completed, description)`` of the chosen executor."""
    if dask_scheduler or dask_local:
        try:
            from distributed import Client, LocalCluster
            from distributed import as_completed as dask_as_completed
        except ImportError as exc:
            raise RunError(f"Dask distributed is not installed ({exc}); pip install 'gfv-refsw[ctc]'") from exc
        with contextlib.ExitStack() as stack:
            if dask_local:
                cluster = stack.enter_context(
                    LocalCluster(
                        n_workers=dask_local,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                        silence_logs=logging.ERROR,
                    )
                )
                client = stack.enter_context(Client(cluster))
                desc = {"kind": "dask-local", "workers": dask_local}
            else:
                try:
                    client = stack.enter_context(Client(dask_scheduler, timeout="30s"))
                except OSError as exc:
                    raise RunError(f"cannot reach Dask scheduler {dask_scheduler}: {exc}") from exc
                desc = {
                    "kind": "dask",
                    "scheduler": dask_scheduler,
                    "workers": len(client.scheduler_info().get("workers", {})),
                }

            def submit(job: Job) -> Any:
                key = f"gfv-ctc-{job.job_id}-{uuid.uuid4().hex[:8]}"
                return client.submit(run_job, job, key=key, pure=False)

            yield submit, lambda fs: iter(dask_as_completed(fs)), desc
        return
    if workers == 1:
        deferred: dict[Future[dict[str, Any]], Job] = {}

        def defer(job: Job) -> Future[dict[str, Any]]:
            fut: Future[dict[str, Any]] = Future()
            deferred[fut] = job
            return fut

        def run_in_order(futures: list[Future[dict[str, Any]]]) -> Iterator[Future[dict[str, Any]]]:
            for fut in futures:
                try:
                    fut.set_result(run_job(deferred[fut]))
                except Exception as exc:  # noqa: BLE001 - reported per job by the caller
                    fut.set_exception(exc)
                yield fut

        yield defer, run_in_order, {"kind": "inline", "workers": 1}
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=init_worker,
        initargs=(threads, str(log_dir)),
    ) as pool:
        yield (
            lambda job: pool.submit(run_job, job),
            futures_as_completed,
            {"kind": "processes", "workers": workers},
        )


def run_ctc(
    cfg: CtcConfig,
    *,
    workers: int | None = None,
    dask_scheduler: str | None = None,
    dask_local: int | None = None,
    progress: bool = True,
    force: bool = False,
) -> RunResult:
    """Run a whole CTC test (see the module docstring).

    Args:
        cfg: the configuration.
        workers: local worker processes (default: one per core); 1 runs in this process.
        dask_scheduler: address of a Dask scheduler; the jobs run on its workers.
        dask_local: start a local Dask cluster of this many worker processes.
        progress: show the progress bar on stderr.
        force: run every job again, ignoring the stored records (the cache key does not
            include the software version: use this, or a new output directory, after changing
            the code).

    Returns:
        What ran, what was cached, what failed, and the written files.

    Raises:
        RunError: a sequence cannot be prepared, a required codec is unavailable, or the
            executor cannot be started.
    """
    t_start = time.perf_counter()
    started = provenance.now_iso()
    cfg.output.mkdir(parents=True, exist_ok=True)
    _init_work_dir(cfg.work)
    jobs_dir = cfg.output / JOBS_DIR
    jobs_dir.mkdir(exist_ok=True)
    workers = workers or os.cpu_count() or 1
    sequences = prepare_sequences(cfg)
    codecs, notes = _usable_codecs(cfg)
    jobs = make_jobs(cfg, sequences, codecs)
    result = RunResult(records=[], notes=notes)
    pending = []
    for job in jobs:
        record = None if force else _cached(jobs_dir / f"{job.job_id}.json", job)
        if record is None:
            pending.append(job)
        else:
            result.records.append(record)
            result.cached.append(job.job_id)
    logger.info("%d jobs: %d cached, %d to run", len(jobs), len(result.cached), len(pending))
    previous = _read_json(cfg.output / PROVENANCE)
    history = _history(previous) if isinstance(previous, dict) else []
    prov = {
        "name": cfg.name,
        "config_files": list(cfg.files),
        "config": cfg.resolved,
        "resolved": {
            "output": str(cfg.output),
            "work": str(cfg.work),
            "codecs_run": codecs,
            "metrics": list(cfg.metrics),
        },
        **provenance.collect(REPO_ROOT),
        "started": started,
        "finished": None,
        "sequences": {k: {kk: vv for kk, vv in v.items() if kk != "file"} for k, v in sequences.items()},
        "history": history,
    }
    _write_json(cfg.output / PROVENANCE, prov)
    executor_desc: dict[str, Any] = {"kind": "none", "workers": 0}
    if pending:
        with _executor(workers, dask_scheduler, dask_local, cfg.threads_per_job, cfg.work / "logs") as executor:
            submit, as_completed, executor_desc = executor
            futures = {submit(job): job for job in pending}
            bar = tqdm(
                total=len(jobs),
                initial=len(result.cached),
                unit="job",
                desc=cfg.name,
                disable=not progress,
                file=sys.stderr,
                dynamic_ncols=True,
                smoothing=0.1,
            )
            with bar:
                for fut in as_completed(list(futures)):
                    job = futures[fut]
                    try:
                        record = fut.result()
                    except Exception as exc:  # noqa: BLE001 - one failed job must not stop the run
                        message = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                        result.failed[job.job_id] = message
                        logger.error("job %s failed: %s", job.job_id, message)
                    else:
                        _write_json(jobs_dir / f"{job.job_id}.json", record)
                        result.records.append(record)
                        result.ran.append(job.job_id)
                    bar.set_postfix_str(job.job_id, refresh=False)
                    bar.update(1)
    result.seconds = time.perf_counter() - t_start
    if result.failed:
        result.notes.append(
            f"{len(result.failed)} job(s) failed: " + "; ".join(f"{k}: {v}" for k, v in result.failed.items())
        )
    from .report import write_report

    job_seconds = sum(r["encode_s"] + r["decode_s"] + r["metrics_s"] for r in result.records)
    run_info = {
        "date": started[:10],
        "git": (prov["git"]["revision"] or "?")[:10] + ("+local changes" if prov["git"]["dirty"] else ""),
        "jobs": f"{len(result.ran)} run, {len(result.cached)} cached, {len(result.failed)} failed",
        "wall time": f"{result.seconds:.0f} s ({executor_desc['kind']}, {executor_desc.get('workers')} workers)"
        if result.ran or result.failed
        else None,
        "job time": f"{job_seconds:.0f} s (sum of encode, decode and metric times)",
        "earlier invocations": "; ".join(
            f"{h['started'][:16]} {h['jobs']['ran']} jobs run in {h['duration_s']:.0f} s" for h in history[-5:]
        )
        or None,
    }
    result.outputs = write_report(result.records, cfg, cfg.output, run_info=run_info, notes=result.notes)
    prov.update(
        finished=provenance.now_iso(),
        duration_s=round(result.seconds, 1),
        executor=executor_desc,
        threads_per_job=cfg.threads_per_job,
        jobs={
            "total": len(jobs),
            "ran": len(result.ran),
            "cached": len(result.cached),
            "failed": result.failed,
        },
        notes=result.notes,
        outputs=[str(p.relative_to(cfg.output)) for p in result.outputs],
    )
    _write_json(cfg.output / PROVENANCE, prov)
    return result


def _history(previous: dict[str, Any]) -> list[dict[str, Any]]:
    """Earlier invocations on the same output directory (from its ``provenance.json``), oldest
    first, each summarised as start time, duration, executor, job counts and git revision."""
    history = list(previous.get("history", []))
    if previous.get("finished") and isinstance(previous.get("jobs"), dict):
        history.append(
            {
                "started": previous["started"],
                "duration_s": previous.get("duration_s"),
                "executor": previous.get("executor"),
                "jobs": {k: previous["jobs"].get(k) for k in ("total", "ran", "cached")},
                "git": (previous.get("git") or {}).get("revision"),
            }
        )
    return history


# --------------------------------------------------------------------------- command line
