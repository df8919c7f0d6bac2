"""TTS inference: :class:`Text2Speech` (``from_pretrained(exp_dir)``, ``__call__(text) -> waveform``),
synthesis of a data dir or a text file into a synthesis dir, and attention/mel PNGs.

A synthesis dir is a Kaldi data dir of the synthesized audio, so it can be scored like natural
speech: ``wav/<utt>.wav`` (16-bit PCM at the mel sample rate), ``wav.scp``, ``text``,
``utt2spk``, ``spk2utt``, ``utt2dur``; plus ``plots/<utt>_att.png`` (attention, decoder steps
down, tokens across) and ``plots/<utt>_mel.png``, and ``synth.json`` (model, vocoder, settings,
seconds of audio, synthesis time, real-time factor).

Reference systems with the same ``text -> waveform`` interface: the teacher :class:`HibariTTS`
(``hibari-tts`` wheel, 24 kHz) and :class:`CommandTTS` (``espeak-ng``, ``flite``).

>>> tts = Text2Speech.from_pretrained("exp/tacotron2")          # doctest: +SKIP
>>> wave = tts("Printing, in the only sense with which we are at present concerned.")  # doctest: +SKIP
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from speechproc.decode.vocoder import Vocoder, make_vocoder, vocoder_options
from speechproc.features.mel import MelConfig, load_mel_config
from speechproc.plot import save_attention_png, save_mel_png
from speechproc.utils import atomic_output_dir, PathLike, SpeechprocError

__all__ = ["Text2Speech", "synthesize_dir", "HibariTTS", "CommandTTS",
           "ENGINES", "make_engine", "CopySynthesis", "read_ljspeech_text", "select_sentences", "make_synthetic_corpus"]

logger = logging.getLogger(__name__)



class Text2Speech:
    """Text -> waveform with a trained acoustic model and a vocoder.

    Args:
        model: a :class:`~speechproc.models.tts.Tacotron2`.
        normalize: the :class:`~speechproc.features.cmvn.GlobalCMVN` the model was trained with
            (its inverse turns the model's output back into log-mel).
        tokenizer: the training tokenizer.
        mel_config: mel settings of the training data.
        vocoder: a :class:`~speechproc.decode.vocoder.Vocoder` (default Griffin-Lim).
        max_len_ratio / min_len_ratio: output frames per input token bounds.
        device: torch device.
    """

    def __init__(self, model, normalize, tokenizer, mel_config: Optional[MelConfig] = None,
                 vocoder: Optional[Vocoder] = None, max_len_ratio: float = 10.0, min_len_ratio: float = 0.0,
                 device: str = "cpu") -> None:
        self.model = model.to(device).eval()
        self.normalize = normalize.to(device).eval()
        self.tokenizer = tokenizer
        self.mel_config = mel_config or MelConfig()
        self.vocoder = vocoder or make_vocoder("griffin_lim", self.mel_config)
        self.max_len_ratio = max_len_ratio
        self.min_len_ratio = min_len_ratio
        self.device = device
        self.last: Dict[str, object] = {}

    @classmethod
    def from_pretrained(cls, exp_dir: PathLike, vocoder: str = "auto", device: str = "cpu",
                        vocoder_options: Optional[Dict[str, object]] = None, **kwargs: float) -> "Text2Speech":
        """Load ``exp_dir`` (``hparams.yaml`` + averaged ``model.pt``); the mel settings come from
        the training dump's ``mel.json``. ``vocoder_options`` go to :func:`make_vocoder`. With ``vocoder="auto"``
        and no checkpoint given, the GAN vocoder named by the run's ``vocoder_checkpoint`` setting (the recipe's
        choice at training time) is the default; a named one that is gone falls back to Griffin-Lim with a warning."""
        from speechproc.exp import load_trained_modules

        hparams, modules = load_trained_modules(exp_dir, device=device)
        if "model" not in modules or "normalize" not in modules:
            raise SpeechprocError(f"{exp_dir}/hparams.yaml: modules must hold 'model' and 'normalize' (a TTS run)")
        mel_config = MelConfig()
        train_data = hparams.get("train_data")
        if train_data and (Path(train_data) / "mel.json").is_file():
            mel_config = load_mel_config(train_data)
        options = dict(vocoder_options or {})
        default = hparams.get("vocoder_checkpoint")
        if vocoder == "auto" and not options.get("checkpoint") and default:
            if (Path(default) / "model.pt").is_file():
                options["checkpoint"] = str(default)
            else:
                logger.warning("%s: its vocoder_checkpoint %s has no model.pt; synthesising with Griffin-Lim "
                               "(give --vocoder-checkpoint to use another GAN vocoder)", exp_dir, default)
        voc = make_vocoder(vocoder, mel_config, **options)
        return cls(modules["model"], modules["normalize"], hparams["tokenizer"], mel_config, voc, device=device,
                   **kwargs)

    def mel(self, text: str) -> Tuple[torch.Tensor, torch.Tensor]:
        """Log-mel ``(T, n_mels)`` (de-normalised) and attention ``(steps, tokens)`` of ``text``."""
        from speechproc.text.tokenizer import encode_text

        tokens = encode_text(self.tokenizer, text)[None].to(self.device)
        with torch.no_grad():
            mel, lengths, align = self.model.infer(tokens, max_len_ratio=self.max_len_ratio,
                                                   min_len_ratio=self.min_len_ratio)
            n = int(lengths[0])
            mel = mel[0, :n] * self.normalize.std + self.normalize.mean
        steps = (n + self.model.r - 1) // self.model.r
        return mel.cpu(), align[0, :steps].cpu()

    def __call__(self, text: str) -> np.ndarray:
        """Waveform ``(N,)`` float32 at ``self.sample_rate``; ``self.last`` keeps the mel and attention."""
        mel, align = self.mel(text)
        wave = self.vocoder(mel)
        self.last = {"mel": mel, "alignment": align}
        return wave

    @property
    def sample_rate(self) -> int:
        """Output sample rate (Hz)."""
        return self.vocoder.sample_rate


def synthesize_dir(tts, texts: Dict[str, str], out_dir: PathLike, spk: Optional[Dict[str, str]] = None,
                   plots: int = 4, info: Optional[Dict[str, object]] = None, utts: Optional[Sequence[str]] = None,
                   inputs: Optional[Dict[str, object]] = None) -> Path:
    """Synthesize ``{utt: text}`` into the synthesis dir ``out_dir`` (written atomically).

    Args:
        tts: a :class:`Text2Speech` (or any callable ``text -> waveform`` with ``sample_rate``).
        texts: utterance id -> text.
        spk: utterance id -> speaker (default: the id up to its first ``-``, else ``synth``).
        plots: write attention/mel PNGs for the first ``plots`` utterances.
        info: extra entries for ``synth.json``.
        utts: the utterances to synthesize, in order (default all of ``texts``, C-sorted).
        inputs: what ``tts`` is called with per utterance (default the text; the utterance id for
            :class:`CopySynthesis`).
    """
    import soundfile as sf

    from speechproc.data import DataDir

    utts = sorted(texts, key=lambda s: s.encode("utf-8")) if utts is None else list(utts)
    out_dir = Path(out_dir)
    audio_s = synth_s = 0.0
    with atomic_output_dir(out_dir) as tmp:
        (tmp / "wav").mkdir()
        if plots:
            (tmp / "plots").mkdir()
        wav_scp, utt2dur = {}, {}
        for k, utt in enumerate(utts):
            t0 = time.perf_counter()
            source = info.get("source") if info else None
            try:
                wave = tts(texts[utt] if inputs is None else inputs[utt])
            except SpeechprocError as e:
                raise SpeechprocError(f"{source or 'input'}: utterance '{utt}': {e}") from e
            wave = np.asarray(wave)
            if wave.size == 0 or not np.isfinite(wave).all() or float(np.abs(wave).max()) < 1e-5:
                raise SpeechprocError(f"{source or 'input'}: utterance '{utt}' synthesized to an empty, silent or "
                                      f"non-finite waveform ({wave.size} samples); check its text/audio and the "
                                      f"model and vocoder ({getattr(tts, 'vocoder', None).__class__.__name__})")
            synth_s += time.perf_counter() - t0
            sr = tts.sample_rate
            sf.write(str(tmp / "wav" / f"{utt}.wav"), np.clip(wave, -1.0, 1.0), sr, subtype="PCM_16")
            wav_scp[utt] = str(out_dir.absolute() / "wav" / f"{utt}.wav")
            utt2dur[utt] = round(len(wave) / sr, 3)
            audio_s += len(wave) / sr
            last = getattr(tts, "last", None)
            if k < plots and last:
                mel_config = getattr(tts, "mel_config", None)
                save_attention_png(last["alignment"], tmp / "plots" / f"{utt}_att.png", title=f"{utt}: attention")
                save_mel_png(last["mel"], tmp / "plots" / f"{utt}_mel.png", title=f"{utt}: synthesised mel",
                             frame_seconds=mel_config.frame_shift_s if mel_config is not None else None)
        spk = spk or {u: (u.split("-", 1)[0] if "-" in u else "synth") for u in utts}
        text = {u: texts[u] for u in utts} if any(texts[u] for u in utts) else None  # copy synthesis: may be none
        DataDir(wav_scp=wav_scp, utt2spk={u: spk[u] for u in utts}, text=text, utt2dur=utt2dur).write_files(tmp)
        record = dict(info or {})
        record.update({"n_utts": len(utts), "audio_s": round(audio_s, 3), "synth_s": round(synth_s, 3),
                       "rtf": round(synth_s / audio_s, 4) if audio_s else None,
                       "threads": torch.get_num_threads()})
        vocoder = getattr(tts, "vocoder", None)
        if isinstance(vocoder, Vocoder):
            record.update(vocoder_options(vocoder))
        (tmp / "synth.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        if (out_dir / "eval" / "evaluate.json").is_file():
            # the previous evaluation stays: evaluate_tts checks its recorded inputs (the audio's content) and
            # reuses it only when this synthesis wrote the same audio
            shutil.copytree(out_dir / "eval", tmp / "eval")
    logger.info("synthesized %d utterances (%.1f s of audio) in %.1f s (RTF %.3f) into %s", len(utts), audio_s,
                synth_s, synth_s / audio_s if audio_s else float("nan"), out_dir)
    return out_dir


class CopySynthesis:
    """Analysis-synthesis through the vocoder: natural audio -> log-mel -> vocoder (an upper bound
    for any acoustic model using this mel front end and vocoder). Called with an utterance id.

    Args:
        data: the data dir holding the natural audio.
        vocoder: the vocoder (its ``mel_config`` is the analysis setting).
    """

    def __init__(self, data, vocoder: Vocoder) -> None:
        self.data = data
        self.vocoder = vocoder
        self.sample_rate = vocoder.sample_rate
        self.last: Dict[str, object] = {}

    def __call__(self, utt: str) -> np.ndarray:
        from speechproc.features.mel import compute_mel

        wave, _ = self.data.load_audio(utt, sample_rate=self.vocoder.mel_config.sample_rate)
        wave = np.asarray(wave, dtype=np.float32)
        if wave.ndim != 1:
            raise SpeechprocError(f"audio of shape {wave.shape}: copy synthesis needs mono audio")
        if len(wave) < self.vocoder.mel_config.n_fft or float(np.abs(wave).max(initial=0.0)) < 1e-5:
            raise SpeechprocError(f"{len(wave)} samples, peak {float(np.abs(wave).max(initial=0.0)):.2g}: the natural "
                                  f"audio is empty, shorter than one analysis window or silent; fix or drop the "
                                  f"utterance (fix_data_dir)")
        return self.vocoder(compute_mel(wave, self.vocoder.mel_config))


# ------------------------------------------------------------------------------------------------
# reference systems: the teacher TTS (hibari-tts wheel) and the rule-based espeak-ng and flite


class HibariTTS:
    """The ``hibari-tts`` teacher (PyPI wheel, ONNX): ``text -> waveform`` at 24 kHz.

    Args:
        voice: a voice of ``hibari.voices.VOICES``; ``heart`` (American English, female) ships in the wheel.
        seed: fixes the noise component, so the same text gives the same audio.
        threads: onnxruntime threads.
    """

    engine = "hibari"

    def __init__(self, voice: str = "heart", seed: int = 0, threads: int = 1) -> None:
        try:
            import hibari
        except ImportError:
            raise SpeechprocError("the teacher TTS needs the hibari-tts wheel: "
                                  "tools/venv/bin/pip install hibari-tts==0.2.1") from None
        self.tts = hibari.Hibari(voice=voice, threads=threads)
        self.sample_rate = int(hibari.SAMPLE_RATE)
        self.seed = seed
        self.version = getattr(hibari, "__version__", "unknown")
        self.voice = voice

    def __call__(self, text: str) -> np.ndarray:
        return np.asarray(self.tts(text, seed=self.seed), dtype=np.float32)


class CommandTTS:
    """A command-line synthesizer that writes a wav file: ``espeak-ng`` or ``flite``.

    Args:
        engine: ``espeak-ng`` (voice ``en-us``) or ``flite`` (voice ``slt``, female US).
        voice: override the voice.
    """

    def __init__(self, engine: str, voice: Optional[str] = None) -> None:
        import shutil

        if engine not in ("espeak-ng", "flite"):
            raise SpeechprocError(f"unknown command-line TTS '{engine}'; choose espeak-ng or flite")
        if shutil.which(engine) is None:
            raise SpeechprocError(f"{engine} is not installed (Debian: apt-get install {engine})")
        self.engine = engine
        self.voice = voice or ("en-us" if engine == "espeak-ng" else "slt")
        self.sample_rate = 22050 if engine == "espeak-ng" else 16000

    def __call__(self, text: str) -> np.ndarray:
        import subprocess
        import tempfile

        import soundfile as sf

        with tempfile.TemporaryDirectory() as tmp:
            wav = os.path.join(tmp, "out.wav")
            if self.engine == "espeak-ng":
                cmd = ["espeak-ng", "-v", self.voice, "-w", wav, text]
            else:
                cmd = ["flite", "-voice", self.voice, "-t", text, "-o", wav]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise SpeechprocError(f"{' '.join(cmd[:3])} ... failed ({proc.returncode}): {proc.stderr.strip()}")
            wave, sr = sf.read(wav, dtype="float32")
        if sr != self.sample_rate:
            self.sample_rate = sr
        return wave


ENGINES = ("hibari", "espeak-ng", "flite")


def make_engine(name: str, **kwargs: object):
    """A reference synthesizer by name (see :data:`ENGINES`)."""
    if name == "hibari":
        return HibariTTS(**kwargs)  # type: ignore[arg-type]
    return CommandTTS(name, **kwargs)  # type: ignore[arg-type]


def read_ljspeech_text(path: PathLike) -> Dict[str, str]:
    """``{clip id: normalised text}`` of an LJSpeech ``metadata.csv``-style file (``id|raw|normalised``)."""
    path = Path(path)
    if not path.is_file():
        raise SpeechprocError(f"{path}: not found; expected LJSpeech-1.1/metadata_full_text.csv of the corpus")
    out: Dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        cols = line.split("|")
        if len(cols) < 2:
            raise SpeechprocError(f"{path}:{n}: expected 'id|text|normalised text', got {line!r}")
        text = " ".join((cols[2] if len(cols) > 2 and cols[2].strip() else cols[1]).split())
        if text:
            out[cols[0].strip()] = text
    return out


def select_sentences(texts: Dict[str, str], sizes: Sequence[int], exclude: Sequence[str] = (), min_chars: int = 20,
                     max_chars: int = 200, seed: int = 0) -> List[List[str]]:
    """Disjoint random subsets of sentence ids of the requested ``sizes`` (each C-sorted).

    Sentences with fewer than ``min_chars`` or more than ``max_chars`` characters and the ids in
    ``exclude`` are never chosen. The choice depends only on the inputs and ``seed``.
    """
    skip = set(exclude)
    pool = sorted(u for u, t in texts.items() if u not in skip and min_chars <= len(t) <= max_chars)
    if sum(sizes) > len(pool):
        raise SpeechprocError(f"asked for {sum(sizes)} sentences but only {len(pool)} have {min_chars}-{max_chars} "
                              f"characters; lower --num-utts")
    order = np.random.default_rng(seed).permutation(len(pool))
    out, k = [], 0
    for n in sizes:
        out.append(sorted(pool[i] for i in order[k:k + n]))
        k += n
    return out


def _synth_part(engine: str, options: Dict[str, object], items: List[Tuple[str, str]],
                wav_dir: str) -> Tuple[Dict[str, float], float, int]:
    import soundfile as sf

    torch.set_num_threads(1)
    tts = make_engine(engine, **options)
    durs: Dict[str, float] = {}
    synth_s = 0.0
    for utt, text in items:
        t0 = time.perf_counter()
        wave = tts(text)
        synth_s += time.perf_counter() - t0
        if len(wave) == 0:
            raise SpeechprocError(f"{engine} produced no audio for {utt} ({text!r})")
        sf.write(os.path.join(wav_dir, f"{utt}.wav"), np.clip(wave, -1.0, 1.0), tts.sample_rate, subtype="PCM_16")
        durs[utt] = round(len(wave) / tts.sample_rate, 3)
    return durs, synth_s, tts.sample_rate


def make_synthetic_corpus(texts: Dict[str, str], out_dir: PathLike, sets: Dict[str, Sequence[str]],
                          engine: str = "hibari", options: Optional[Dict[str, object]] = None, speaker: str = "hibari",
                          nj: int = 1) -> Dict[str, object]:
    """Synthesize a single-speaker corpus: ``out_dir/wavs/<spk>-<id>.wav`` and one data dir per set.

    Args:
        texts: sentence id -> text.
        out_dir: receives ``wavs/`` (written under a temporary name, renamed when complete), the data
            dirs ``<set>/`` (``wav.scp text utt2spk spk2utt utt2dur``) and ``corpus.json``.
        sets: set name -> sentence ids.
        engine: :data:`ENGINES` name; options: its keyword arguments.
        speaker: speaker id, prefixed to each utterance id.
        nj: worker processes.

    Returns:
        the ``corpus.json`` record (hours per set, engine, synthesis real-time factor).
    """
    from concurrent.futures import ProcessPoolExecutor

    from speechproc.data import DataDir
    from speechproc.utils import atomic_write_text

    out_dir = Path(out_dir).absolute()
    options = dict(options or {})
    items = [(f"{speaker}-{u}", texts[u]) for name in sets for u in sets[name]]
    if len({u for u, _ in items}) != len(items):
        raise SpeechprocError("the sets of the synthetic corpus overlap; give disjoint sentence ids")
    nj = max(1, min(nj, len(items)))
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with atomic_output_dir(out_dir / "wavs") as tmp:
        parts = [items[i::nj] for i in range(nj)]
        if nj == 1:
            results = [_synth_part(engine, options, items, str(tmp))]
        else:
            import multiprocessing

            with ProcessPoolExecutor(nj, mp_context=multiprocessing.get_context("spawn")) as pool:
                results = list(pool.map(_synth_part, [engine] * nj, [options] * nj, parts, [str(tmp)] * nj))
    durs: Dict[str, float] = {}
    synth_s = 0.0
    for d, s, sr in results:
        durs.update(d)
        synth_s += s
    record: Dict[str, object] = {"engine": engine, "options": options, "speaker": speaker, "sample_rate": sr,
                                 "synth_s": round(synth_s, 2), "wall_s": round(time.perf_counter() - start, 2),
                                 "nj": nj, "sets": {}}
    for name, ids in sets.items():
        utts = [f"{speaker}-{u}" for u in ids]
        DataDir(wav_scp={u: str(out_dir / "wavs" / f"{u}.wav") for u in utts}, utt2spk={u: speaker for u in utts},
                text={u: texts[u.split("-", 1)[1]] for u in utts}, utt2dur={u: durs[u] for u in utts}).save(out_dir / name)
        record["sets"][name] = {"utts": len(utts), "hours": round(sum(durs[u] for u in utts) / 3600.0, 4)}  # type: ignore[index]
    audio_s = sum(durs.values())
    record["rtf"] = round(synth_s / audio_s, 4) if audio_s else None
    if engine == "hibari":
        import importlib.metadata as md

        record["hibari_tts"] = md.version("hibari-tts")
    atomic_write_text(out_dir / "corpus.json", json.dumps(record, indent=2) + "\n")
    logger.info("synthesized %d utterances (%.2f h) with %s in %.1f s (RTF %.4f) into %s", len(items),
                audio_s / 3600.0, engine, synth_s, synth_s / audio_s if audio_s else float("nan"), out_dir)
    return record
