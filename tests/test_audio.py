"""Audio reading: formats, pipes, segments, resampling, speed perturbation, corruption checks."""
from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import REPO
from dummies import write_wav
from speechproc.data.audio import (
    AudioError,
    audio_info,
    check_audio_file,
    read_audio,
    resample,
    speed_perturb_waveform,
    speed_spec,
)


def peak_hz(wave: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.fft.rfftfreq(len(wave), 1 / sr)[np.argmax(spec)])


@pytest.fixture()
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "a.wav"
    write_wav(path, 1.0, 16000, freq=440.0)
    return path


def test_wav_read_and_info(wav: Path) -> None:
    ref, _ = sf.read(wav, dtype="float32")
    wave, sr = read_audio(str(wav))
    assert sr == 16000 and wave.dtype == np.float32 and wave.shape == (16000,)
    assert np.array_equal(wave, ref)
    assert abs(peak_hz(wave, sr) - 440) < 2
    info = audio_info(str(wav))
    assert (info.sample_rate, info.num_frames, info.channels, info.duration) == (16000, 16000, 1, 1.0)


@pytest.mark.parametrize("fmt,ext", [("FLAC", "flac"), ("NIST", "sph")])
def test_flac_and_sphere(tmp_path: Path, wav: Path, fmt: str, ext: str) -> None:
    path = tmp_path / f"a.{ext}"
    write_wav(path, 1.0, 16000, freq=440.0, format=fmt)
    if fmt == "NIST":
        assert path.read_bytes()[:7] == b"NIST_1A"
    wave, sr = read_audio(str(path))
    assert sr == 16000 and wave.shape == (16000,)
    # same signal as the WAV, up to one 16-bit step (encoders round differently)
    assert np.abs(wave - read_audio(str(wav))[0]).max() <= 1.01 / 32768
    assert audio_info(str(path)).num_frames == 16000
    assert check_audio_file(str(path)).num_frames == 16000


def test_pipe(tmp_path: Path, wav: Path) -> None:
    wave, sr = read_audio(f"cat {shlex.quote(str(wav))} |")
    assert sr == 16000 and np.array_equal(wave, read_audio(str(wav))[0])
    assert audio_info(f"cat {wav} | cat |").num_frames == 16000
    part, _ = read_audio(f"cat {wav} |", start=0.25, end=0.5)
    assert np.array_equal(part, wave[4000:8000])


def test_failing_pipe_names_command_exit_code_and_stderr(tmp_path: Path) -> None:
    with pytest.raises(AudioError) as err:
        read_audio(f"cat {tmp_path}/nosuch.wav |")
    msg = str(err.value)
    assert f"command `cat {tmp_path}/nosuch.wav` failed with exit code 1" in msg
    assert "No such file or directory" in msg
    # pipefail: a failure early in the pipeline is not hidden by a later command
    with pytest.raises(AudioError, match="exit code 7"):
        read_audio("sh -c 'exit 7' | cat |")
    with pytest.raises(AudioError, match="wrote no audio"):
        read_audio("true |")


def test_segments(wav: Path) -> None:
    full, _ = read_audio(str(wav))
    part, sr = read_audio(str(wav), start=0.1, end=0.35)
    assert part.shape == (4000,) and np.array_equal(part, full[1600:5600])
    tail, _ = read_audio(str(wav), start=0.75, end=-1)
    assert np.array_equal(tail, full[12000:])
    clipped, _ = read_audio(str(wav), start=0.9, end=1.3)  # overshoot <= 0.5 s is clipped, as in Kaldi
    assert np.array_equal(clipped, full[14400:])
    with pytest.raises(AudioError, match="past the end"):
        read_audio(str(wav), start=0.5, end=2.0)
    with pytest.raises(AudioError, match="need 0 <= start < end"):
        read_audio(str(wav), start=0.5, end=0.2)


def test_resampling(wav: Path) -> None:
    for rate in (8000, 22050, 16000):
        wave, sr = read_audio(str(wav), sample_rate=rate)
        assert sr == rate and wave.dtype == np.float32
        assert wave.shape == (rate,)  # 1 s
        assert abs(peak_hz(wave, sr) - 440) < 2
    seg, sr = read_audio(str(wav), sample_rate=8000, start=0.5, end=0.75)
    assert seg.shape == (2000,)
    x = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    assert resample(x, 16000, 16000) is x


def test_stereo_is_averaged_and_flagged(tmp_path: Path) -> None:
    path = tmp_path / "st.wav"
    write_wav(path, 0.5, 16000, channels=2)
    data, _ = sf.read(path, dtype="float32")
    wave, _ = read_audio(str(path))
    assert wave.shape == (8000,) and np.allclose(wave, data.mean(axis=1))
    assert audio_info(str(path)).channels == 2
    assert check_audio_file(str(path)).channels == 2


def test_corrupt_and_truncated(tmp_path: Path, wav: Path) -> None:
    raw = wav.read_bytes()
    (tmp_path / "trunc.wav").write_bytes(raw[:20000])
    with pytest.raises(AudioError, match=r"truncated: its header declares 32044 bytes, the file has 20000"):
        check_audio_file(str(tmp_path / "trunc.wav"))
    (tmp_path / "junk.wav").write_bytes(b"\x00" * 100)
    with pytest.raises(AudioError, match="cannot decode audio"):
        check_audio_file(str(tmp_path / "junk.wav"))
    with pytest.raises(AudioError, match="cannot decode audio"):
        read_audio(str(tmp_path / "junk.wav"))
    write_wav(tmp_path / "a.flac", 1.0, 16000)
    flac = (tmp_path / "a.flac").read_bytes()
    (tmp_path / "trunc.flac").write_bytes(flac[: len(flac) // 2])
    with pytest.raises(AudioError):
        check_audio_file(str(tmp_path / "trunc.flac"))
    write_wav(tmp_path / "a.sph", 1.0, 16000, format="NIST")
    sph = (tmp_path / "a.sph").read_bytes()
    (tmp_path / "trunc.sph").write_bytes(sph[:20000])
    with pytest.raises(AudioError, match="truncated"):
        check_audio_file(str(tmp_path / "trunc.sph"))
    with pytest.raises(AudioError, match="does not exist"):
        read_audio(str(tmp_path / "nosuch.wav"))


def test_speed_perturbation(wav: Path) -> None:
    wave, sr = read_audio(str(wav))
    for f in (0.9, 1.1):
        out = speed_perturb_waveform(wave, f)
        assert len(out) == int(np.ceil(16000 / f))
        assert abs(peak_hz(out, sr) - 440 * f) < 3  # pitch moves with speed, as sox speed
        via_spec, sr2 = read_audio(speed_spec(str(wav), f))
        assert sr2 == sr and np.array_equal(via_spec, out)
        assert audio_info(speed_spec(str(wav), f)).num_frames == len(out)


def test_wav_speed_pipe_matches_in_process(tmp_path: Path, wav: Path) -> None:
    """The shell pipe (as Kaldi tools would run it) gives the in-process result (16-bit rounding aside)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    spec = speed_spec(str(wav), 0.9)
    proc = subprocess.run(spec[:-1] + f" > {tmp_path}/out.wav", shell=True, env=env, stderr=subprocess.PIPE)
    assert proc.returncode == 0, proc.stderr
    piped, sr = sf.read(tmp_path / "out.wav", dtype="float32")
    fast, _ = read_audio(spec)
    assert sr == 16000 and piped.shape == fast.shape == (17778,)
    assert np.abs(piped - fast).max() < 1e-4
    # a chained pipe reads WAV from stdin
    chained, _ = read_audio(speed_spec(f"cat {wav} |", 0.9))
    assert np.abs(chained - fast).max() < 1e-4
