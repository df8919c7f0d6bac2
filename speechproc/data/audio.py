"""Audio reading for ``wav.scp`` values: files (WAV, FLAC, NIST sphere), ``cmd |`` pipes, segments.

A ``wav.scp`` value is either a path that soundfile (libsndfile) can open, or a shell command
ending in ``|`` that writes a WAV file to stdout (run with ``bash -o pipefail``). Speed-perturbed
entries written by :meth:`speechproc.data.datadir.DataDir.speed_perturb` are shell pipes through
``python -m speechproc.bin.wav_speed``; when such an entry reads a plain file it is decoded
in-process (no subprocess), and the result is the same as running the pipe.

Waveforms are returned as float32 mono arrays of shape ``(T,)``; multi-channel audio is averaged
to mono (``validate_data_dir --check-audio`` flags it as an error in data dirs).
"""
from __future__ import annotations

import io
import logging
import os
import shlex
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from typing import Optional, Tuple, Union

import numpy as np
import soundfile as sf

from speechproc.utils import SpeechprocError

__all__ = [
    "AudioInfo",
    "AudioError",
    "is_pipe",
    "read_audio",
    "audio_info",
    "resample",
    "speed_perturb_waveform",
    "speed_spec",
    "write_wav_bytes",
    "check_audio_file",
    "read_audio_file_or_stdin",
    "MAX_OVERSHOOT",
    "NONSPEECH_KINDS",
    "nonspeech_clip",
]

logger = logging.getLogger(__name__)

#: Segment ends may overshoot the recording by this much (seconds) and are clipped, as in Kaldi's
#: ``extract-segments --max-overshoot``.
MAX_OVERSHOOT = 0.5

_SPEED_MODULE = "speechproc.bin.wav_speed"


class AudioError(SpeechprocError):
    """Audio that cannot be read: missing, corrupt, truncated, or a failing pipe."""


@dataclass(frozen=True)
class AudioInfo:
    """Header information of one recording.

    Attributes:
        sample_rate: samples per second.
        num_frames: samples per channel.
        channels: number of channels.
        duration: ``num_frames / sample_rate`` in seconds.
    """

    sample_rate: int
    num_frames: int
    channels: int

    @property
    def duration(self) -> float:
        return self.num_frames / self.sample_rate if self.sample_rate else 0.0


def is_pipe(spec: str) -> bool:
    """True when the ``wav.scp`` value is a shell command ending in ``|``."""
    return spec.rstrip().endswith("|")


def _bash() -> list:
    bash = shutil.which("bash")
    return [bash, "-o", "pipefail", "-c"] if bash else ["/bin/sh", "-c"]


def _run_pipe(spec: str) -> bytes:
    """Run the command of a pipe spec; return its stdout, or raise :class:`AudioError`."""
    cmd = spec.rstrip()[:-1].strip()
    if not cmd:
        raise AudioError(f"empty command in pipe '{spec}'; fix: put a command before the '|'")
    proc = subprocess.run(_bash() + [cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-5:]
        tail_text = " | ".join(tail) if tail else "(no stderr)"
        raise AudioError(
            f"command `{cmd}` failed with exit code {proc.returncode}; stderr tail: {tail_text}; "
            "fix: run the command by hand and correct it"
        )
    if not proc.stdout:
        raise AudioError(f"command `{cmd}` wrote no audio to stdout; fix: it must write a WAV file to stdout")
    return proc.stdout


def _speed_fast_path(spec: str) -> Optional[Tuple[float, str]]:
    """``(factor, path)`` if ``spec`` is exactly a :func:`speed_spec` pipe over a plain file."""
    if not is_pipe(spec):
        return None
    try:
        toks = shlex.split(spec.rstrip()[:-1])
    except ValueError:
        return None
    if len(toks) == 6 and toks[1:4] == ["-m", _SPEED_MODULE, "--factor"] and toks[5] != "-":
        try:
            return float(toks[4]), toks[5]
        except ValueError:
            return None
    return None


def speed_spec(spec: str, factor: float) -> str:
    """The ``wav.scp`` value that plays ``spec`` at ``factor`` times the speed (sox ``speed``).

    A plain path becomes ``<python> -m speechproc.bin.wav_speed --factor F <path> |``; a pipe gets
    the same command appended, reading ``-`` (stdin).
    """
    py = shlex.quote(sys.executable)
    f = repr(float(factor))
    if is_pipe(spec):
        return f"{spec.rstrip()} {py} -m {_SPEED_MODULE} --factor {f} - |"
    return f"{py} -m {_SPEED_MODULE} --factor {f} {shlex.quote(spec)} |"


def _open_source(spec: str) -> Union[str, io.BytesIO]:
    """A path or an in-memory WAV for soundfile; raises :class:`AudioError` when missing."""
    if is_pipe(spec):
        return io.BytesIO(_run_pipe(spec))
    if not os.path.isfile(spec):
        raise AudioError(f"audio file '{spec}' does not exist; fix: correct the path or remove the entry")
    return spec


def _sf_error(spec: str, e: Exception) -> AudioError:
    hint = "fix: re-create the file"
    if isinstance(spec, str) and spec.lower().endswith((".sph", ".nist")):
        hint = "fix: if it is shorten-compressed sphere, decode it with a pipe (`sph2pipe -f wav FILE |`)"
    return AudioError(f"cannot decode audio '{spec}': {e}; {hint}")


def audio_info(spec: str) -> AudioInfo:
    """Header information (sample rate, frames, channels) of a ``wav.scp`` value.

    Pipes are run and their whole output is inspected; speed-perturbed entries are computed from
    the source header.
    """
    fast = _speed_fast_path(spec)
    if fast is not None:
        factor, path = fast
        src = audio_info(path)
        frames = _speed_frames(src.num_frames, factor)
        return AudioInfo(src.sample_rate, frames, src.channels)
    source = _open_source(spec)
    try:
        info = sf.info(source)
    except Exception as e:  # libsndfile errors are RuntimeErrors; malformed headers may raise others
        raise _sf_error(spec, e) from e
    return AudioInfo(int(info.samplerate), int(info.frames), int(info.channels))


def _declared_bytes(path: str) -> Optional[Tuple[int, int]]:
    """``(declared end of audio data, file size)`` for WAV and NIST files, else None."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(4096)
        if head[:4] in (b"RIFF", b"RIFX") and head[8:12] == b"WAVE":
            endian = "<" if head[:4] == b"RIFF" else ">"
            pos = 12
            f.seek(pos)
            while True:
                hdr = f.read(8)
                if len(hdr) < 8:
                    return None
                cid, csize = hdr[:4], struct.unpack(endian + "I", hdr[4:])[0]
                if cid == b"data":
                    if csize == 0 or csize >= 0x7FFFF000:  # written to a stream: size unknown
                        return None
                    return pos + 8 + csize, size
                pos += 8 + csize + (csize & 1)
                f.seek(pos)
        if head[:7] == b"NIST_1A":
            fields = {}
            lines = head.split(b"\n")
            try:
                hsize = int(lines[1])
            except (IndexError, ValueError):
                return None
            for line in lines[2:]:
                parts = line.split()
                if parts[:1] == [b"end_head"]:
                    break
                if len(parts) >= 3:
                    fields[parts[0]] = parts[2]
            coding = fields.get(b"sample_coding", b"pcm")
            try:
                n = int(fields[b"sample_count"]) * int(fields.get(b"channel_count", 1)) * int(fields[b"sample_n_bytes"])
            except (KeyError, ValueError):
                return None
            if b"shorten" in coding or b"wavpack" in coding:
                return None
            return hsize + n, size
    return None


def check_audio_file(spec: str) -> AudioInfo:
    """Decode the whole recording; raise :class:`AudioError` if it is missing, corrupt or truncated.

    Returns its :class:`AudioInfo` (from the decoded data).
    """
    fast = _speed_fast_path(spec)
    path = fast[1] if fast is not None else spec
    source = _open_source(path)
    if isinstance(source, str):
        declared = _declared_bytes(source)
        if declared is not None and declared[0] > declared[1]:
            raise AudioError(
                f"audio file '{source}' is truncated: its header declares {declared[0]} bytes, "
                f"the file has {declared[1]}; fix: re-create or re-download it"
            )
    try:
        data, sr = sf.read(source, dtype="float32", always_2d=True)
    except Exception as e:
        raise _sf_error(spec, e) from e
    frames = data.shape[0]
    if fast is not None:
        frames = _speed_frames(frames, fast[0])
    return AudioInfo(int(sr), int(frames), int(data.shape[1]))


def resample(wave: np.ndarray, orig_sr: int, new_sr: int) -> np.ndarray:
    """Resample ``wave`` ``(T,)`` from ``orig_sr`` to ``new_sr`` with ``torchaudio.functional.resample``."""
    if orig_sr == new_sr:
        return wave
    import torch
    import torchaudio.functional as taf

    out = taf.resample(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)), int(orig_sr), int(new_sr))
    return out.numpy().astype(np.float32, copy=False)


NONSPEECH_KINDS = ("zeros", "white", "brown", "hum")


def nonspeech_clip(seconds: float, sample_rate: int, kind: str, level_dbfs: float = -60.0,
                   generator: Optional[np.random.Generator] = None) -> np.ndarray:
    """A clip with no speech in it, ``(round(seconds * sample_rate),)`` float32: ``zeros`` (digital silence),
    ``white`` or ``brown`` (integrated white, a room-like low-frequency rumble) noise, or ``hum`` (50 or 60 Hz
    mains and its first harmonics plus a little white noise), at an RMS of ``level_dbfs`` (dB re full scale).
    Used to teach a recogniser that silence has an empty transcript and to test that it does."""
    n = int(round(float(seconds) * sample_rate))
    if n <= 0:
        raise SpeechprocError(f"nonspeech_clip: {seconds} s is not a positive duration")
    if kind not in NONSPEECH_KINDS:
        raise SpeechprocError(f"nonspeech_clip: unknown kind '{kind}'; use one of {', '.join(NONSPEECH_KINDS)}")
    rng = generator if generator is not None else np.random.default_rng(0)
    if kind == "zeros":
        return np.zeros(n, dtype=np.float32)
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "brown":
        x = np.cumsum(rng.standard_normal(n))
        x -= np.convolve(x, np.ones(801) / 801, mode="same")  # remove the random-walk drift (below ~20 Hz)
    else:
        t = np.arange(n) / sample_rate
        f0 = 50.0 if rng.random() < 0.5 else 60.0
        x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi)) / k for k in (1, 2, 3))
        x = x + 0.1 * rng.standard_normal(n)
    rms = float(np.sqrt(np.mean(x ** 2))) or 1.0
    return (x * (10 ** (level_dbfs / 20) / rms)).astype(np.float32)


def _speed_ratio(factor: float) -> Fraction:
    if factor <= 0:
        raise SpeechprocError(f"speed factor must be positive, got {factor}; fix: use e.g. 0.9, 1.0 or 1.1")
    return Fraction(factor).limit_denominator(1000)


def _speed_frames(frames: int, factor: float) -> int:
    r = _speed_ratio(factor)
    # torchaudio.functional.resample returns ceil(new * T / orig)
    return -(-frames * r.denominator // r.numerator)


def speed_perturb_waveform(wave: np.ndarray, factor: float) -> np.ndarray:
    """Play ``wave`` ``(T,)`` ``factor`` times faster (tempo and pitch, like sox ``speed``).

    Returns ``(ceil(T / factor),)`` at the same sample rate.
    """
    if factor == 1.0:
        return wave
    r = _speed_ratio(factor)
    return resample(wave, r.numerator, r.denominator)


def write_wav_bytes(wave: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> bytes:
    """Encode ``wave`` ``(T,)`` or ``(T, C)`` as WAV bytes (for pipes)."""
    buf = io.BytesIO()
    sf.write(buf, wave, sample_rate, format="WAV", subtype=subtype)
    return buf.getvalue()


def _to_mono(data: np.ndarray) -> np.ndarray:
    if data.ndim == 2:
        data = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1)
    return np.ascontiguousarray(data, dtype=np.float32)


def read_audio(
    spec: str, sample_rate: Optional[int] = None, start: float = 0.0, end: Optional[float] = None
) -> Tuple[np.ndarray, int]:
    """Read a ``wav.scp`` value.

    Args:
        spec: a path (WAV/FLAC/NIST sphere, anything libsndfile reads) or ``'cmd |'``.
        sample_rate: resample to this rate when given (``torchaudio.functional.resample``).
        start: start of the segment in seconds.
        end: end of the segment in seconds; None (or a negative value) reads to the end.
            An end past the recording by at most :data:`MAX_OVERSHOOT` seconds is clipped.

    Returns:
        ``(wave, sr)``: float32 mono waveform of shape ``(T,)`` and its sample rate.

    Raises:
        AudioError: missing, undecodable or truncated audio, a failing pipe, or a segment outside
            the recording.
    """
    if end is not None and end < 0:
        end = None
    if start < 0 or (end is not None and end <= start):
        raise AudioError(f"bad segment start={start} end={end} for '{spec}'; fix: need 0 <= start < end")
    fast = _speed_fast_path(spec)
    if fast is not None:
        factor, path = fast
        wave, sr = read_audio(path)
        wave = speed_perturb_waveform(wave, factor)
        wave, sr = _cut(wave, sr, start, end, spec)
    else:
        source = _open_source(spec)
        try:
            if isinstance(source, str) and (start > 0 or end is not None):
                info = sf.info(source)
                sr = int(info.samplerate)
                b, e = _bounds(info.frames, sr, start, end, spec)
                data, sr = sf.read(source, start=b, stop=e, dtype="float32", always_2d=True)
                wave = _to_mono(data)
            else:
                data, sr = sf.read(source, dtype="float32", always_2d=True)
                wave, sr = _cut(_to_mono(data), int(sr), start, end, spec)
        except AudioError:
            raise
        except Exception as e:
            raise _sf_error(spec, e) from e
    sr = int(sr)
    if sample_rate is not None and sample_rate != sr:
        wave = resample(wave, sr, sample_rate)
        sr = int(sample_rate)
    return wave, sr


def _bounds(frames: int, sr: int, start: float, end: Optional[float], spec: str) -> Tuple[int, int]:
    b = int(round(start * sr))
    e = frames if end is None else int(round(end * sr))
    if e > frames:
        if (e - frames) / sr > MAX_OVERSHOOT:
            raise AudioError(
                f"segment end {end} s is past the end of '{spec}' ({frames / sr:.3f} s); "
                "fix: correct the segments file"
            )
        e = frames
    if b >= e:
        raise AudioError(
            f"segment start {start} s is at or past the end of '{spec}' ({frames / sr:.3f} s); "
            "fix: correct the segments file"
        )
    return b, e


def _cut(wave: np.ndarray, sr: int, start: float, end: Optional[float], spec: str) -> Tuple[np.ndarray, int]:
    if start == 0 and end is None:
        return wave, sr
    b, e = _bounds(len(wave), sr, start, end, spec)
    return wave[b:e], sr


def read_audio_file_or_stdin(path: str) -> Tuple[np.ndarray, int]:
    """Read a plain path, or WAV bytes from stdin when ``path`` is ``-``; ``(wave (T,), sr)``."""
    if path == "-":
        raw = sys.stdin.buffer.read()
        if not raw:
            raise AudioError("no audio on stdin; fix: pipe a WAV file into the command")
        try:
            data, sr = sf.read(io.BytesIO(raw), dtype="float32", always_2d=True)
        except Exception as e:
            raise _sf_error("-", e) from e
        return _to_mono(data), int(sr)
    return read_audio(path)
