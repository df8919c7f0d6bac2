"""Tokenizers with one interface: sentencepiece (bpe, unigram), char and word.

Every tokenizer owns an ESPnet-style token list, saved as ``tokens.txt`` (one token per line, the
token id is the 0-based line number)::

    0        <blank>      CTC blank (also used as padding)
    1        <unk>        unknown token
    2..V-2   tokens       sentencepiece pieces in model order; chars / words by frequency
    V-1      <sos/eos>    start and end of sentence for attention decoders

so ``blank_id == 0``, ``unk_id == 1``, ``sos_id == eos_id == vocab_size - 1`` for every type.
The char tokenizer writes a space as ``<space>``; sentencepiece marks word starts with ``▁``.

A token dir (``data/token/<type><size>/``) holds ``tokens.txt``, ``tokenizer.json`` (type, size,
cleaners, model file) and, for bpe/unigram, the sentencepiece model ``<type>.model``.
:func:`train_tokenizer` builds a tokenizer from text (deterministically), :meth:`Tokenizer.save`
writes a token dir atomically, and :func:`load_tokenizer` reads one back.

For bpe/unigram ``vocab_size`` counts every entry of ``tokens.txt`` (as in ESPnet, where
``--nbpe 30`` gives a 30-line token list); for char/word it is an optional maximum (the most
frequent symbols are kept, the rest map to ``<unk>``).
"""
from __future__ import annotations

import io
import json
import logging
import re
from abc import ABC, abstractmethod
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from speechproc.text.normalize import clean, cleaner_names
from speechproc.utils import atomic_output_dir, PathLike, SpeechprocError

if TYPE_CHECKING:
    import torch

__all__ = [
    "BLANK",
    "UNK",
    "SOS_EOS",
    "SPACE",
    "TOKENIZER_TYPES",
    "DEFAULT_VOCAB_SIZE",
    "Tokenizer",
    "SentencePieceTokenizer",
    "CharTokenizer",
    "WordTokenizer",
    "train_tokenizer",
    "load_tokenizer",
    "encode_text",
    "read_tokens",
    "load_training_text",
    "default_token_dir",
]

logger = logging.getLogger(__name__)

BLANK = "<blank>"
UNK = "<unk>"
SOS_EOS = "<sos/eos>"
SPACE = "<space>"
SPECIALS = (BLANK, UNK, SOS_EOS)
TOKENIZER_TYPES = ("bpe", "unigram", "char", "word")
DEFAULT_VOCAB_SIZE = 30  # bpe/unigram default, as in ESPnet's AN4 recipe



class Tokenizer(ABC):
    """Text <-> token ids, with the token list layout described in the module docstring.

    Args:
        tokens: the full token list (``<blank>``, ``<unk>``, ..., ``<sos/eos>``).
        cleaners: names of :mod:`speechproc.text.normalize` cleaners applied by :meth:`encode`.
    """

    type: str = ""

    def __init__(self, tokens: Sequence[str], cleaners: Optional[Sequence[str]] = None) -> None:
        tokens = list(tokens)
        _check_token_list(tokens, "token list")
        self._tokens = tokens
        self._index: Dict[str, int] = {t: i for i, t in enumerate(tokens)}
        self.cleaners: List[str] = cleaner_names(cleaners)

    # ---- token table -------------------------------------------------------------------------
    @property
    def tokens(self) -> List[str]:
        """The token list; ``tokens[i]`` is the token with id ``i``."""
        return list(self._tokens)

    @property
    def vocab_size(self) -> int:
        """Number of tokens, special ones included (the output size of a CTC/attention head)."""
        return len(self._tokens)

    @property
    def blank_id(self) -> int:
        """Id of ``<blank>`` (0): CTC blank and padding."""
        return 0

    @property
    def unk_id(self) -> int:
        """Id of ``<unk>`` (1)."""
        return 1

    @property
    def sos_id(self) -> int:
        """Id of ``<sos/eos>`` (the last id)."""
        return len(self._tokens) - 1

    @property
    def eos_id(self) -> int:
        """Id of ``<sos/eos>`` (the last id; the same as :attr:`sos_id`)."""
        return len(self._tokens) - 1

    def tokens_to_ids(self, tokens: Iterable[str]) -> List[int]:
        """Map tokens to ids; tokens not in the list map to :attr:`unk_id`."""
        return [self._index.get(t, self.unk_id) for t in tokens]

    def ids_to_tokens(self, ids: Iterable[int]) -> List[str]:
        """Map ids to tokens; an id outside ``[0, vocab_size)`` is a ``ValueError``."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self._tokens):
                raise ValueError(f"token id {i} is outside [0, {len(self._tokens)})")
            out.append(self._tokens[i])
        return out

    # ---- text <-> ids -----------------------------------------------------------------------
    @abstractmethod
    def tokenize(self, text: str) -> List[str]:
        """Split already-cleaned text into tokens (strings)."""

    @abstractmethod
    def detokenize(self, tokens: Sequence[str]) -> str:
        """Join tokens (without special tokens) back into text."""

    def encode(self, text: str) -> List[int]:
        """Clean ``text`` with :attr:`cleaners`, tokenize it and return the token ids."""
        return self.tokens_to_ids(self.tokenize(clean(text, self.cleaners)))

    def unknown_symbols(self, texts: Dict[str, str]) -> Tuple[List[str], Counter]:
        """``(utterances whose text gets <unk>, count of each symbol outside the token list)`` of ``texts``
        (utt -> text): characters for character and sentencepiece token lists, words for word lists."""
        utts: List[str] = []
        counts: Counter = Counter()
        unknown_char: Dict[str, bool] = {}
        for utt, text in texts.items():
            cleaned = clean(text, self.cleaners)
            tokens = self.tokenize(cleaned)
            if self.unk_id not in self.tokens_to_ids(tokens):
                continue
            utts.append(utt)
            if self.type == "word":
                counts.update(t for t in tokens if self.tokens_to_ids([t])[0] == self.unk_id)
                continue
            for ch in cleaned:
                if ch.isspace():
                    continue
                if ch not in unknown_char:
                    unknown_char[ch] = self.unk_id in self.tokens_to_ids(self.tokenize(ch))
                if unknown_char[ch]:
                    counts[ch] += 1
        return utts, counts

    def report_unknown(self, texts: Dict[str, str], where: str) -> int:
        """Log a warning naming ``where``, how many utterances get ``<unk>`` and the symbols that cause it;
        returns that number of utterances."""
        utts, counts = self.unknown_symbols(texts)
        if utts:
            symbols = ", ".join(f"'{c}' x{n}" for c, n in counts.most_common(10))
            logger.warning("%s: %d of %d utterances have symbols outside the token list, which become <unk>: %s "
                           "(e.g. %s); normalise them in data prep, or train the tokenizer on this text",
                           where, len(utts), len(texts), symbols or "?", ", ".join(utts[:3]))
        return len(utts)

    def decode(self, ids: Iterable[int]) -> str:
        """Turn ids back into text; ``<blank>`` and ``<sos/eos>`` are dropped, ``<unk>`` kept."""
        keep = [t for t in self.ids_to_tokens(ids) if t not in (BLANK, SOS_EOS)]
        return self.detokenize(keep)

    # ---- persistence ------------------------------------------------------------------------
    def _config(self) -> dict:
        return {"type": self.type, "vocab_size": self.vocab_size, "cleaners": self.cleaners}

    def _write_model_files(self, out_dir: Path) -> dict:
        """Write type-specific files into ``out_dir``; return extra entries for tokenizer.json."""
        return {}

    def save(self, out_dir: PathLike) -> Path:
        """Write the token dir (tokens.txt, tokenizer.json, model file) atomically; return its path."""
        out_dir = Path(out_dir)
        with atomic_output_dir(out_dir) as tmp:
            (tmp / "tokens.txt").write_text("".join(t + "\n" for t in self._tokens), encoding="utf-8")
            config = self._config()
            config.update(self._write_model_files(tmp))
            (tmp / "tokenizer.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        logger.info("wrote %s tokenizer with %d tokens to %s", self.type, self.vocab_size, out_dir)
        return out_dir

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size}, cleaners={self.cleaners})"


class CharTokenizer(Tokenizer):
    """One token per character; a space between words is the token ``<space>``."""

    type = "char"

    @staticmethod
    def split(text: str) -> List[str]:
        """Characters of ``text``; whitespace runs between words become one ``<space>``."""
        out: List[str] = []
        for word in text.split():
            if out:
                out.append(SPACE)
            out.extend(word)
        return out

    def tokenize(self, text: str) -> List[str]:
        return self.split(text)

    def detokenize(self, tokens: Sequence[str]) -> str:
        return "".join(" " if t == SPACE else t for t in tokens)


class WordTokenizer(Tokenizer):
    """One token per whitespace-separated word; words outside the list become ``<unk>``."""

    type = "word"

    @staticmethod
    def split(text: str) -> List[str]:
        """Whitespace-separated words of ``text``."""
        return text.split()

    def tokenize(self, text: str) -> List[str]:
        return self.split(text)

    def detokenize(self, tokens: Sequence[str]) -> str:
        return " ".join(tokens)


class SentencePieceTokenizer(Tokenizer):
    """Sentencepiece bpe or unigram segmentation with the ESPnet token list.

    Args:
        model_proto: the serialized sentencepiece model.
        model_type: "bpe" or "unigram".
        tokens: token list; built from the model when None.
        cleaners: cleaner names applied by :meth:`encode`.
    """

    def __init__(
        self,
        model_proto: bytes,
        model_type: str,
        tokens: Optional[Sequence[str]] = None,
        cleaners: Optional[Sequence[str]] = None,
    ) -> None:
        import sentencepiece as spm

        self.type = model_type
        self._proto = bytes(model_proto)
        self._sp = spm.SentencePieceProcessor(model_proto=self._proto)
        pieces = [self._sp.id_to_piece(i) for i in range(self._sp.get_piece_size())]
        model_tokens = [BLANK, UNK] + [p for p in pieces if p != UNK] + [SOS_EOS]
        if tokens is None:
            tokens = model_tokens
        missing = sorted(set(model_tokens) - set(tokens))
        if missing:
            raise SpeechprocError(
                f"tokens.txt lacks {len(missing)} piece(s) of the sentencepiece model, e.g. "
                f"{missing[:5]}; the two files come from different trainings: retrain with train_tokenizer"
            )
        super().__init__(tokens, cleaners)

    def tokenize(self, text: str) -> List[str]:
        return list(self._sp.encode(text, out_type=str))

    def detokenize(self, tokens: Sequence[str]) -> str:
        return self._sp.decode_pieces(list(tokens))

    def _write_model_files(self, out_dir: Path) -> dict:
        name = f"{self.type}.model"
        (out_dir / name).write_bytes(self._proto)
        return {"model": name}


# ------------------------------------------------------------------------------------------------
# training


def _check_token_list(tokens: Sequence[str], where: str) -> None:
    if len(tokens) < 3 or tokens[0] != BLANK or tokens[1] != UNK or tokens[-1] != SOS_EOS:
        raise SpeechprocError(
            f"{where}: expected '{BLANK}' first, '{UNK}' second and '{SOS_EOS}' last, got "
            f"{list(tokens[:2])} ... {list(tokens[-1:])}; rebuild it with train_tokenizer"
        )
    seen = set()
    for i, t in enumerate(tokens):
        if not t or any(ch.isspace() for ch in t):
            raise SpeechprocError(f"{where}: line {i + 1}: token {t!r} is empty or has whitespace")
        if t in seen:
            raise SpeechprocError(f"{where}: line {i + 1}: token {t!r} appears twice")
        seen.add(t)


def _by_frequency(counts: Counter, limit: Optional[int]) -> List[str]:
    """Symbols by descending count, ties in code-point order; at most ``limit``."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if limit is not None:
        ranked = ranked[:limit]
    return [s for s, _ in ranked]


_TOO_SMALL_RE = re.compile(r"Vocabulary size is smaller than required_chars\. (\d+) vs (\d+)")
_TOO_LARGE_RE = re.compile(r"Vocabulary size too high \((\d+)\)\. Please set it to a value <= (\d+)")


def _train_sentencepiece(texts: List[str], model_type: str, vocab_size: int) -> bytes:
    import sentencepiece as spm

    # tokens.txt adds <blank> and <sos/eos> around the sentencepiece vocabulary (which has <unk>).
    extra = 2
    if vocab_size < 4:
        raise SpeechprocError(f"--vocab-size {vocab_size} is too small for {model_type}; use at least 4")
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(texts),
            model_writer=model,
            model_type=model_type,
            vocab_size=vocab_size - extra,
            character_coverage=1.0,
            unk_id=0,
            bos_id=-1,
            eos_id=-1,
            pad_id=-1,
            unk_surface=UNK,
            input_sentence_size=0,
            shuffle_input_sentence=False,
            num_threads=1,
            minloglevel=2,
        )
    except RuntimeError as e:
        msg = str(e)
        small, large = _TOO_SMALL_RE.search(msg), _TOO_LARGE_RE.search(msg)
        if small:
            need = int(small.group(2)) + extra
            raise SpeechprocError(
                f"--vocab-size {vocab_size} is too small for {model_type}: the training text has "
                f"{need - extra - 1} distinct characters (word-boundary mark included), so the token "
                f"list needs at least {need} entries; use --vocab-size {need} or more (or --type char)"
            ) from None
        if large:
            most = int(large.group(2)) + extra
            raise SpeechprocError(
                f"--vocab-size {vocab_size} is too large for {model_type} on this training text: "
                f"sentencepiece can build at most {most} tokens from it; use --vocab-size {most} or "
                f"less, or add text with --extra-text"
            ) from None
        raise SpeechprocError(f"sentencepiece {model_type} training failed: {msg}") from None
    return model.getvalue()


def train_tokenizer(
    texts: Iterable[str],
    token_type: str,
    vocab_size: Optional[int] = None,
    cleaners: Optional[Union[str, Sequence[str]]] = None,
) -> Tokenizer:
    """Train a tokenizer on ``texts`` (one sentence each); the result depends only on the input.

    Args:
        texts: training sentences (empty ones are ignored); the cleaners are applied first.
        token_type: "bpe", "unigram", "char" or "word".
        vocab_size: bpe/unigram: size of the token list, specials included (default 30);
            char/word: maximum size of the token list (default: every symbol seen).
        cleaners: cleaner names (see :mod:`speechproc.text.normalize`) stored with the tokenizer
            and applied by :meth:`Tokenizer.encode`.

    Returns:
        the tokenizer (call :meth:`Tokenizer.save` to write a token dir).
    """
    if token_type not in TOKENIZER_TYPES:
        raise SpeechprocError(f"unknown tokenizer type '{token_type}'; choose one of {', '.join(TOKENIZER_TYPES)}")
    names = cleaner_names(cleaners)
    sentences = [s for s in (clean(t, names).strip() for t in texts) if s]
    if not sentences:
        raise SpeechprocError("no training text for the tokenizer: every sentence is empty; check the text source")
    if token_type in ("bpe", "unigram"):
        proto = _train_sentencepiece(sentences, token_type, vocab_size or DEFAULT_VOCAB_SIZE)
        tok: Tokenizer = SentencePieceTokenizer(proto, token_type, cleaners=names)
    else:
        if vocab_size is not None and vocab_size < len(SPECIALS) + 1:
            raise SpeechprocError(f"--vocab-size {vocab_size} is too small; use at least {len(SPECIALS) + 1}")
        cls = CharTokenizer if token_type == "char" else WordTokenizer
        counts: Counter = Counter()
        for s in sentences:
            counts.update(t for t in cls.split(s) if t not in SPECIALS)
        limit = None if vocab_size is None else vocab_size - len(SPECIALS)
        if limit is not None and limit < len(counts):
            logger.warning("keeping the %d most frequent of %d %ss; the others map to %s",
                           limit, len(counts), token_type, UNK)
        tok = cls([BLANK, UNK] + _by_frequency(counts, limit) + [SOS_EOS], names)
    logger.info("trained %s tokenizer on %d sentences: %d tokens", token_type, len(sentences), tok.vocab_size)
    return tok


# ------------------------------------------------------------------------------------------------
# loading


def read_tokens(path: PathLike) -> List[str]:
    """Read a ``tokens.txt`` (one token per line; id = 0-based line number) and check its layout."""
    path = Path(path)
    if not path.is_file():
        raise SpeechprocError(f"{path}: no such token list; create it with 'speechproc train_tokenizer'")
    tokens = path.read_text(encoding="utf-8").split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    _check_token_list(tokens, str(path))
    return tokens


def load_tokenizer(token_dir: PathLike) -> Tokenizer:
    """Load the tokenizer saved in ``token_dir`` by :meth:`Tokenizer.save`."""
    token_dir = Path(token_dir)
    cfg_path = token_dir / "tokenizer.json"
    if not cfg_path.is_file():
        raise SpeechprocError(
            f"{cfg_path}: not found; {token_dir} is not a token dir, create it with 'speechproc train_tokenizer'"
        )
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
        token_type = cfg["type"]
    except (ValueError, KeyError) as e:
        raise SpeechprocError(f"{cfg_path}: unreadable ({e}); retrain with 'speechproc train_tokenizer'") from None
    tokens = read_tokens(token_dir / "tokens.txt")
    cleaners = cfg.get("cleaners") or []
    if token_type in ("bpe", "unigram"):
        model = token_dir / cfg.get("model", f"{token_type}.model")
        if not model.is_file():
            raise SpeechprocError(f"{model}: sentencepiece model named in {cfg_path} is missing; retrain the tokenizer")
        return SentencePieceTokenizer(model.read_bytes(), token_type, tokens, cleaners)
    if token_type == "char":
        return CharTokenizer(tokens, cleaners)
    if token_type == "word":
        return WordTokenizer(tokens, cleaners)
    raise SpeechprocError(f"{cfg_path}: key 'type': unknown tokenizer type '{token_type}'; "
                          f"expected one of {', '.join(TOKENIZER_TYPES)}")


def default_token_dir(token_type: str, vocab_size: Optional[int], root: PathLike = "data/token") -> Path:
    """The conventional token dir ``<root>/<type><size>`` (``<root>/char``/``word`` without a size)."""
    size = "" if vocab_size is None else str(vocab_size)
    return Path(root) / f"{token_type}{size}"


def load_training_text(source: PathLike, extra_text: Sequence[PathLike] = ()) -> List[str]:
    """Sentences for tokenizer training.

    Args:
        source: a data dir (its ``text`` file, utterance ids dropped) or a plain text file
            (one sentence per line).
        extra_text: more plain text files, one sentence per line.

    Returns:
        the sentences, data dir utterances in C-sorted order, then each file's lines in order.
    """
    source = Path(source)
    sentences: List[str] = []
    if source.is_dir():
        from speechproc.data.datadir import DataDir

        data = DataDir.load(source)
        if data.text is None:
            raise SpeechprocError(f"{source}/text: not found; the tokenizer needs transcripts "
                                  f"(or pass a plain text file instead of the data dir)")
        sentences.extend(data.text[u] for u in data.utts if u in data.text)
    elif source.is_file():
        sentences.extend(_read_lines(source))
    else:
        raise SpeechprocError(f"{source}: no such data dir or text file")
    for extra in extra_text:
        extra = Path(extra)
        if not extra.is_file():
            raise SpeechprocError(f"{extra}: no such file (given with --extra-text)")
        sentences.extend(_read_lines(extra))
    return sentences


def _read_lines(path: Path) -> List[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise SpeechprocError(f"{path}: not UTF-8 text (byte {e.start}); convert it with iconv") from None


def encode_text(tokenizer, text: str) -> torch.Tensor:
    """Token ids of ``text`` (the tokenizer's cleaners applied) followed by ``<sos/eos>``: ``(L,)`` long
    (the input of the TTS models, in training and synthesis)."""
    import torch

    ids = tokenizer.encode(text)
    if not ids:
        raise SpeechprocError(f"text {text!r} has no tokens after cleaning; check the text or the token list")
    known = [t for i, t in zip(ids, tokenizer.ids_to_tokens(ids))
             if i != tokenizer.unk_id and not (t.startswith("<") and t.endswith(">"))]  # <space> etc.
    if not any(any(ch.isalnum() for ch in t) for t in known):  # only unknown symbols, spaces and punctuation
        raise SpeechprocError(f"text {text!r} has no speakable character: every token is outside the model's token "
                              f"list; write it in the alphabet the model was trained on (or spell out its symbols)")
    return torch.LongTensor(ids + [tokenizer.eos_id])
