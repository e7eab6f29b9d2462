"""One CTC job: a sequence coded by one codec at one rate point, decoded and measured.

:func:`run_job` is what a worker process runs (locally in a
:class:`concurrent.futures.ProcessPoolExecutor` or on a Dask cluster); it only needs the
prepared sequence file, so any worker that sees the work directory can run it. It returns a
JSON-serialisable record, which the runner stores as ``jobs/<job id>.json``.

Rate: ``bits`` counts every byte of the VVC/HEVC byte stream (for GFVC: key picture, GFV SEI
NAL units, parameter sets and SPTI), ``kbps = bits * fps / frames / 1000`` (kbit/s), as the GFVC
CTC computes it from the file sizes (JVET-AG0042 software, ``bitrate.py``). Quality: every
per-picture metric on the ``(N, H, W, 3)`` RGB pictures (reference first) and its mean over the
pictures that have a value (NaN pictures, e.g. no face for ``akd``, are counted as
``missing``); every per-clip metric (``eye_corr``, ...) once per clip, its value stored as the
``mean`` too so that tables treat both kinds alike.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import CodecSpec

logger = logging.getLogger(__name__)

__all__ = ["NOT_AVAILABLE", "Job", "JobError", "init_worker", "limit_threads", "run_job"]

#: Status of a metric that cannot be computed here (e.g. missing network weights).
NOT_AVAILABLE = "not available"
#: Byte-stream file extension per backend (the stored bitstreams).
_STREAM_EXT = {"vvenc": "266", "vtm": "266", "x265": "265"}


class JobError(RuntimeError):
    """A job produced an unusable result (e.g. a wrong number of decoded pictures)."""


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to run one job (picklable).

    Attributes:
        job_id: ``<sequence>__<codec>__qp<QP>``.
        sequence: sequence name.
        cls: sequence class.
        sequence_file: prepared planar RGB file ``NAME_WxH_FPS_8bit_444.rgb``.
        sequence_sha256: digest of that file (part of the cache key).
        frames: pictures coded.
        fps: picture rate (Hz).
        codec: codec configuration.
        qp: rate point (QP; key-picture QP for GFVC).
        metrics: metric names.
        stream_dir: directory where the bitstream is written.
        threads: torch/OpenCV threads inside the job.
    """

    job_id: str
    sequence: str
    cls: str
    sequence_file: str
    sequence_sha256: str
    frames: int
    fps: int
    codec: CodecSpec
    qp: int
    metrics: tuple[str, ...]
    stream_dir: str
    threads: int

    def key(self) -> dict[str, Any]:
        """What determines the result: a cached record is reused only if its key is equal."""
        return {
            "sequence": self.sequence,
            "sequence_sha256": self.sequence_sha256,
            "frames": self.frames,
            "fps": self.fps,
            "codec": self.codec.name,
            "codec_config": self.codec.job_key(),
            "qp": self.qp,
            "metrics": list(self.metrics),
        }


def limit_threads(threads: int) -> None:
    """Cap the intra-op threads of torch and OpenCV (one job per core: no oversubscription,
    and the same thread count everywhere, so floating-point results repeat)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import cv2
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    cv2.setNumThreads(threads)


def init_worker(threads: int, log_dir: str | None = None) -> None:
    """Initialiser of a local worker process: thread limit (:func:`limit_threads`) and, when
    ``log_dir`` is given, its stdout and stderr at the file-descriptor level into
    ``log_dir/worker-<pid>.log``, so that the native libraries' console messages (MediaPipe,
    TensorFlow Lite) are kept there instead of breaking the progress bar; job errors still
    reach the runner through the futures."""
    if log_dir is not None:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        fd = os.open(Path(log_dir) / f"worker-{os.getpid()}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    limit_threads(threads)


def _code(job: Job, frames: np.ndarray) -> tuple[bytes, np.ndarray, dict[str, Any]]:
    """Encode and decode; returns ``(bitstream, decoded RGB, rate/time fields)``."""
    codec = job.codec
    if codec.type == "gfvc":
        from refsw.decoder import decode_stream, segment_key_indices
        from refsw.encoder import encode_video

        t0 = time.perf_counter()
        # the CTC's rate points are key-picture QPs: every key picture at the job's QP, no rate cap
        stream, summary = encode_video(frames, float(job.fps), codec.encoder, qp=job.qp, max_kbps=0.0)
        t1 = time.perf_counter()
        result = decode_stream(
            stream, backend=codec.backend, translate_to=codec.translate_to, translator_kind=codec.translator
        )
        decoded = result.frames
        if codec.frozen:  # the frozen-frame baseline at the stream's own key pictures
            decoded = decoded[segment_key_indices([p.kind == "key" for p in result.pictures])]
        t2 = time.perf_counter()
        fields: dict[str, Any] = {
            "bits": summary.total_bits,
            "bits_key": summary.bits_key,
            "bits_gfv": summary.bits_gfv,
            "bits_other": summary.bits_other,
        }
    else:
        from refsw.codecs import create_backend

        backend = create_backend(codec.backend, **codec.backend_options)
        t0 = time.perf_counter()
        enc = backend.encode(frames, qp=job.qp, fps=float(job.fps), low_delay=codec.low_delay)
        t1 = time.perf_counter()
        decoded = backend.decode(enc.bitstream).frames
        t2 = time.perf_counter()
        stream = enc.bitstream
        fields = {"bits": enc.num_bits, "bits_key": None, "bits_gfv": None, "bits_other": None}
    fields["encode_s"] = t1 - t0
    fields["decode_s"] = t2 - t1
    return stream, decoded, fields


def _measure(names: tuple[str, ...], ref: np.ndarray, dist: np.ndarray, fps: float) -> dict[str, Any]:
    """Values of every metric; unavailable ones say so (never skipped).

    Per-picture metric: ``{"status": "ok", "mean", "per_frame", "missing", "seconds"}`` with
    NaN pictures stored as ``None`` and left out of the mean (``mean`` NaN if all are).
    Per-clip metric: ``{"status": "ok", "kind": "clip", "mean", "seconds"}`` (``mean`` may be
    NaN: undefined for the clip, e.g. a constant trace)."""
    from refsw.metrics import get_clip_metric, get_metric, is_clip_metric
    from refsw.metrics.common import MetricUnavailable

    out: dict[str, Any] = {}
    for name in names:
        t0 = time.perf_counter()
        try:
            if is_clip_metric(name):
                value = float(get_clip_metric(name)(ref, dist, fps))
                out[name] = {"status": "ok", "kind": "clip", "mean": value, "seconds": time.perf_counter() - t0}
                continue
            values = np.asarray(get_metric(name)(ref, dist), dtype=np.float64)
        except MetricUnavailable as exc:
            out[name] = {"status": NOT_AVAILABLE, "reason": str(exc).splitlines()[0]}
            continue
        if values.shape != (len(ref),):
            raise JobError(f"metric {name} returned shape {values.shape}, expected ({len(ref)},)")
        missing = np.isnan(values)
        out[name] = {
            "status": "ok",
            "mean": float(values[~missing].mean()) if not missing.all() else float("nan"),
            "per_frame": [None if m else float(v) for v, m in zip(values, missing)],
            "missing": int(missing.sum()),
            "seconds": time.perf_counter() - t0,
        }
    return out


def run_job(job: Job) -> dict[str, Any]:
    """Run one job: read the sequence, encode, decode, measure.

    Args:
        job: the job description.

    Returns:
        JSON-serialisable record: ``job_id``, ``key`` (:meth:`Job.key`), ``sequence``,
        ``class``, ``codec``, ``role``, ``backend``, ``qp``, ``frames``, ``fps``, ``bits``,
        ``kbps``, ``bits_key``/``bits_gfv``/``bits_other`` (GFVC only, else ``None``),
        ``encode_s``, ``decode_s``, ``metrics_s`` (seconds), ``metrics`` (name ->
        ``{"status": "ok", "mean", "per_frame", "missing", "seconds"}``, for a per-clip metric
        ``{"status": "ok", "kind": "clip", "mean", "seconds"}``, or ``{"status": "not
        available", "reason"}``), ``bitstream`` (file name in the stream directory), ``worker`` (host:pid).

    Raises:
        JobError: the decoder returned a wrong number or size of pictures.
        refsw.codecs.CodecError, refsw.metrics.MetricError, ...: the codec or a metric failed.
    """
    from refsw.media.video_io import read_video

    limit_threads(job.threads)
    frames = read_video(job.sequence_file, max_frames=job.frames).frames
    if len(frames) != job.frames:
        raise JobError(f"{job.sequence_file}: {len(frames)} pictures, expected {job.frames}")
    stream, decoded, fields = _code(job, frames)
    if decoded.shape != frames.shape:
        raise JobError(f"{job.job_id}: decoded {decoded.shape}, expected {frames.shape}")
    name = f"{job.job_id}.{_STREAM_EXT.get(job.codec.backend, 'bin')}"
    Path(job.stream_dir).mkdir(parents=True, exist_ok=True)
    (Path(job.stream_dir) / name).write_bytes(stream)
    t0 = time.perf_counter()
    metrics = _measure(job.metrics, frames, decoded, float(job.fps))
    metrics_s = time.perf_counter() - t0
    bits = int(fields.pop("bits"))
    return {
        "job_id": job.job_id,
        "key": job.key(),
        "sequence": job.sequence,
        "class": job.cls,
        "codec": job.codec.name,
        "role": job.codec.role,
        "type": job.codec.type,
        "backend": job.codec.backend,
        "qp": job.qp,
        "frames": job.frames,
        "fps": job.fps,
        "bits": bits,
        "kbps": bits * job.fps / job.frames / 1000.0,
        **fields,
        "metrics_s": metrics_s,
        "metrics": metrics,
        "bitstream": name,
        "worker": f"{os.uname().nodename}:{os.getpid()}",
        "codec_spec": asdict(job.codec),
    }
