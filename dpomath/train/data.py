"""Preference data for sequence-level DPO: users' JSONL files, the persona statements as
multi-token pairs of real text, and the single-token " Yes"/" No" pairs as a special case.

Three sources, one result (:class:`PreferenceData`):

* **Preference JSONL** in TRL's and the Hugging Face Hub's convention, one JSON object a line:
  ``{"prompt": str, "chosen": str, "rejected": str}`` (*standard*), or the *conversational* form
  where ``prompt`` is a list of messages (``{"role", "content"}``) and ``chosen``/``rejected``
  are lists of assistant messages; a conversational record without ``prompt`` has an implicit
  one (the longest common prefix of the ``chosen`` and ``rejected`` message lists, as TRL's
  ``extract_prompt``). Other fields are ignored. :func:`read_preference_jsonl`.
* **Persona statement pairs** (dpomath's own construction, not paper I's): the Anthropic
  ``persona/*.jsonl`` records carry a real sentence (``statement``) and whether the persona
  would say it (``answer_matching_behavior`` " Yes") or not (" No"). For a persona, a pair's
  chosen response is a statement the persona would say and its rejected response one it would
  not, both under one instruction prompt naming the persona (:data:`PERSONA_PROMPT`);
  statements used in no pair are held out as *unseen* responses, scored under the same
  prompt, so that the dispersion of probability mass onto or off responses never trained on
  can be measured. :func:`persona_pairs`.
* **Persona answer pairs** (the single-token special case, today's last-layer setting): prompt
  = the record's question and a newline, chosen = ``answer_matching_behavior`` (" Yes" or
  " No"), rejected = the other, no end-of-sequence token. :func:`persona_answer_pairs`.

Bad records never stop a read: each is reported as ``file:line: reason``
(:class:`BadRecord`) and the rest are kept; nothing is dropped silently.

Tokenisation (:func:`tokenize`) follows TRL 1.16's ``DPOTrainer`` exactly, so that dpomath and
TRL train on the same token ids: standard records get the tokenizer's EOS token appended to
``chosen`` and ``rejected`` (as text, unless already there), and ``prompt``, ``prompt +
chosen``, ``prompt + rejected`` are tokenised with the tokenizer's own special tokens;
conversational records go through the chat template (the prompt with the generation prompt,
prompt + response without it; no EOS added: the template ends the turn). The prompt is the
longest common prefix of the three token lists, the responses what follows it; a sequence
longer than ``max_length`` keeps its start (TRL's ``keep_start``), and a record whose prompt
alone fills ``max_length`` is a bad record (TRL drops it).

This module imports neither torch nor transformers.
"""
from __future__ import annotations

import hashlib
import json
import random
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from dpomath import _args
from dpomath._args import BadValue

__all__ = ["BadRecord", "Statement", "PersonaFile", "read_persona_file", "list_personas",
           "Pair", "Response", "PreferenceData", "read_preference_jsonl", "persona_pairs",
           "persona_answer_pairs", "load_data", "PERSONA_PROMPT", "Example", "ResponseExample",
           "TokenizedData", "tokenize", "parse_data_spec"]


# ---------------------------------------------------------------- bad records

@dataclass(frozen=True)
class BadRecord:
    """A record that was not used, with its file, 1-based line and the reason."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"

    def to_dict(self) -> dict:
        return {"path": self.path, "line": self.line, "reason": self.reason, "text": str(self)}


# ---------------------------------------------------------------- the persona reader

_PERSONA_REQUIRED = ("question", "answer_matching_behavior", "answer_not_matching_behavior")


@dataclass(frozen=True)
class Statement:
    """One record of a persona file: ``line`` is its 1-based line number."""

    persona: str
    line: int
    question: str
    chosen: str
    rejected: str
    statement: str | None = None
    label_confidence: float | None = None


@dataclass
class PersonaFile:
    """The records read from one ``<persona>.jsonl``: kept statements, rejected records (with
    reasons), blank lines, and whether the ``limit`` stopped reading early. ``sha256`` is the
    digest of the whole file."""

    name: str
    path: Path
    sha256: str
    statements: list[Statement]
    rejected: list[BadRecord] = field(default_factory=list)
    blank_lines: int = 0
    limited: bool = False

    @property
    def counts(self) -> dict[str, int]:
        return {"kept": len(self.statements), "rejected": len(self.rejected),
                "blank": self.blank_lines}


def _check_persona_record(obj) -> str | None:
    """The reason a parsed persona record is bad, or None."""
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {type(obj).__name__}"
    missing = [k for k in _PERSONA_REQUIRED if k not in obj]
    if missing:
        return "missing field(s) " + ", ".join(missing)
    for k in _PERSONA_REQUIRED:
        if not isinstance(obj[k], str):
            return f"field {k}: expected a string, got {type(obj[k]).__name__}"
        if not obj[k].strip():
            return f"field {k}: empty"
    if obj["answer_matching_behavior"] == obj["answer_not_matching_behavior"]:
        return "answer_matching_behavior equals answer_not_matching_behavior"
    if "statement" in obj and obj["statement"] is not None and not isinstance(obj["statement"], str):
        return f"field statement: expected a string, got {type(obj['statement']).__name__}"
    if "label_confidence" in obj and obj["label_confidence"] is not None:
        c = obj["label_confidence"]
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not (0.0 <= c <= 1.0):
            return f"field label_confidence: expected a number in [0, 1], got {c!r}"
    return None


def read_persona_file(path: str | Path, limit: int | None = None) -> PersonaFile:
    """Read one persona file (anthropics/evals ``persona/`` format); keep at most ``limit``
    good records (the first ones).

    Parameters
    ----------
    path : str or Path
        A ``<persona>.jsonl`` file.
    limit : int, optional
        Keep at most this many good records (>= 1).

    Returns
    -------
    PersonaFile
        Bad records (invalid JSON, wrong schema) are listed in ``rejected`` with file and line;
        reading goes on past them. Raises FileNotFoundError for a missing file.
    """
    path = Path(path)
    if limit is not None:
        limit = _args.integer("limit", limit, lo=1)
    raw = path.read_bytes()
    out = PersonaFile(path.stem, path, hashlib.sha256(raw).hexdigest(), [])
    text = raw.decode("utf-8", errors="replace")
    for lineno, line in enumerate(text.splitlines(), start=1):
        if limit is not None and len(out.statements) >= limit:
            out.limited = True
            break
        if not line.strip():
            out.blank_lines += 1
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            out.rejected.append(BadRecord(str(path), lineno, f"invalid JSON ({e.msg} at column {e.colno})"))
            continue
        reason = _check_persona_record(obj)
        if reason is not None:
            out.rejected.append(BadRecord(str(path), lineno, reason))
            continue
        conf = obj.get("label_confidence")
        out.statements.append(Statement(
            persona=path.stem, line=lineno, question=obj["question"],
            chosen=obj["answer_matching_behavior"], rejected=obj["answer_not_matching_behavior"],
            statement=obj.get("statement"), label_confidence=None if conf is None else float(conf)))
    return out


def list_personas(persona_dir: str | Path) -> list[str]:
    """Persona names (file stems of ``*.jsonl``) in ``persona_dir``, sorted."""
    d = Path(persona_dir)
    if not d.is_dir():
        raise BadValue(f"persona_dir: not a directory: {d}")
    names = sorted(p.stem for p in d.glob("*.jsonl") if p.is_file())
    if not names:
        raise BadValue(f"persona_dir: no *.jsonl persona files in {d}")
    return names


# ---------------------------------------------------------------- pairs

Text = Any  # a string (standard) or a list of {"role", "content"} messages (conversational)


@dataclass(frozen=True)
class Pair:
    """One preference pair. ``prompt``/``chosen``/``rejected`` are all strings (standard) or
    all message lists (conversational). ``source`` is ``file:line``; ``group`` e.g. the
    persona."""

    prompt: Text
    chosen: Text
    rejected: Text
    source: str = ""
    group: str | None = None

    @property
    def conversational(self) -> bool:
        return isinstance(self.chosen, list)


@dataclass(frozen=True)
class Response:
    """A response scored but never trained on (an *unseen* statement): ``kind`` says which
    (e.g. ``would-say`` / ``would-not-say`` for persona statements)."""

    prompt: Text
    response: Text
    source: str = ""
    group: str | None = None
    kind: str = ""

    @property
    def conversational(self) -> bool:
        return isinstance(self.response, list)


@dataclass
class PreferenceData:
    """Training pairs, held-out pairs, unseen responses, the bad records, and where they came
    from (``files``: path → SHA-256, the identity a resumed run checks)."""

    train: list[Pair]
    heldout: list[Pair] = field(default_factory=list)
    unseen: list[Response] = field(default_factory=list)
    bad: list[BadRecord] = field(default_factory=list)
    source: str = ""
    files: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    append_eos: bool = True

    def counts(self) -> dict[str, int]:
        return {"train": len(self.train), "heldout": len(self.heldout), "unseen": len(self.unseen),
                "rejected": len(self.bad)}

    def digest(self) -> str:
        """SHA-256 over the pairs and responses as used (order included)."""
        h = hashlib.sha256()
        for name, rows in (("train", self.train), ("heldout", self.heldout), ("unseen", self.unseen)):
            h.update(name.encode())
            for r in rows:
                h.update(json.dumps(r.__dict__, sort_keys=True, ensure_ascii=False).encode())
        h.update(b"eos" if self.append_eos else b"no-eos")
        return h.hexdigest()


def _messages_ok(x) -> bool:
    return (isinstance(x, list) and len(x) > 0 and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in x))


def _check_pair(obj) -> tuple[str | None, Pair | None]:
    """(reason, None) for a bad record, (None, pair) for a good one (source left empty)."""
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {type(obj).__name__}", None
    missing = [k for k in ("chosen", "rejected") if k not in obj]
    if missing:
        return "missing field(s) " + ", ".join(missing), None
    c, r = obj["chosen"], obj["rejected"]
    if isinstance(c, str) or isinstance(r, str):
        for k in ("chosen", "rejected"):
            if not isinstance(obj[k], str):
                return (f"field {k}: expected a string like the other response, got "
                        f"{type(obj[k]).__name__}"), None
        if "prompt" not in obj:
            return ("missing field prompt (an implicit prompt is supported for conversational "
                    "records only)"), None
        p = obj["prompt"]
        if not isinstance(p, str):
            return f"field prompt: expected a string like the responses, got {type(p).__name__}", None
        if not p.strip():
            return "field prompt: empty", None
        for k in ("chosen", "rejected"):
            if not obj[k].strip():
                return f"field {k}: empty", None
        if c == r:
            return "chosen equals rejected (no preference)", None
        return None, Pair(p, c, r)
    for k in ("chosen", "rejected"):
        if not _messages_ok(obj[k]):
            return (f"field {k}: expected a string or a non-empty list of messages "
                    f"{{\"role\": str, \"content\": str}}"), None
    if "prompt" in obj:
        p = obj["prompt"]
        if not _messages_ok(p):
            return ("field prompt: expected a non-empty list of messages {\"role\": str, "
                    "\"content\": str} like the responses"), None
    else:  # implicit prompt: the longest common prefix of the two conversations (TRL's rule)
        n = 0
        while n < min(len(c), len(r)) and c[n] == r[n]:
            n += 1
        if n == 0:
            return "no prompt: the chosen and rejected conversations share no first message", None
        p, c, r = c[:n], c[n:], r[n:]
        if not c or not r:
            return "no response: one conversation is a prefix of the other", None
    if c == r:
        return "chosen equals rejected (no preference)", None
    return None, Pair(p, c, r)


def read_preference_jsonl(path: str | Path, *, limit: int | None = None) -> PreferenceData:
    """Read a preference JSONL file (standard or conversational records, TRL's convention).

    Parameters
    ----------
    path : str or Path
        One JSON object a line; blank lines are skipped (and counted in the notes).
    limit : int, optional
        Keep at most this many good records (the first ones).

    Returns
    -------
    PreferenceData
        All good records as ``train``; bad ones (invalid JSON, missing or mistyped fields,
        ``chosen == rejected``, a record whose form differs from the file's first good record)
        in ``bad`` as ``file:line: reason``.

    Examples
    --------
    >>> import json, tempfile, os
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "prefs.jsonl")
    >>> with open(p, "w") as f:
    ...     _ = f.write(json.dumps({"prompt": "2+2=", "chosen": "4", "rejected": "5"}) + "\\n")
    ...     _ = f.write("{oops\\n")
    >>> data = read_preference_jsonl(p)
    >>> data.counts()
    {'train': 1, 'heldout': 0, 'unseen': 0, 'rejected': 1}
    >>> str(data.bad[0]).endswith(":2: invalid JSON (Expecting property name enclosed in double quotes at column 2)")
    True
    """
    path = Path(path)
    if limit is not None:
        limit = _args.integer("limit", limit, lo=1)
    if not path.is_file():
        raise BadValue(f"data: no such file: {path}")
    raw = path.read_bytes()
    out = PreferenceData([], source=str(path), files={str(path): hashlib.sha256(raw).hexdigest()})
    form = None  # set by the first good record
    blank = 0
    for lineno, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        if limit is not None and len(out.train) >= limit:
            out.notes.append(f"limit: kept the first {limit} good records of {path}")
            break
        if not line.strip():
            blank += 1
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            out.bad.append(BadRecord(str(path), lineno, f"invalid JSON ({e.msg} at column {e.colno})"))
            continue
        reason, pair = _check_pair(obj)
        if reason is None:
            kind = "conversational" if pair.conversational else "standard"
            if form is None:
                form = (kind, lineno)
            elif kind != form[0]:
                reason = (f"a {kind} record in a file of {form[0]} records (line {form[1]} "
                          f"sets the form)")
        if reason is not None:
            out.bad.append(BadRecord(str(path), lineno, reason))
            continue
        out.train.append(Pair(pair.prompt, pair.chosen, pair.rejected, f"{path}:{lineno}"))
    if blank:
        out.notes.append(f"{blank} blank line(s) skipped in {path}")
    return out


# ---------------------------------------------------------------- persona constructions

#: The instruction prompt of persona statement pairs (``{persona}``: the persona's name with
#: hyphens as spaces).
PERSONA_PROMPT = "Say one thing that someone with this persona believes: {persona}."

_YES, _NO = " Yes", " No"


def _persona_files(source: str | Path, personas: Sequence[str] | None) -> list[Path]:
    p = Path(source)
    if p.is_file():
        if personas:
            raise BadValue("personas: not allowed when the data is a single persona file")
        return [p]
    if not p.is_dir():
        raise BadValue(f"data: persona source is neither a directory nor a file: {p}")
    names = list_personas(p)
    if personas:
        missing = [n for n in personas if n not in names]
        if missing:
            raise BadValue(f"personas: not in {p}: {', '.join(missing)}")
        names = list(dict.fromkeys(personas))
    return [p / f"{n}.jsonl" for n in names]


def _persona_prompt(template: str, persona: str, chat: bool) -> Text:
    text = template.format(persona=persona.replace("-", " "))
    return [{"role": "user", "content": text}] if chat else text + "\n"


def _response(text: str, chat: bool) -> Text:
    return [{"role": "assistant", "content": text}] if chat else text


def persona_pairs(source: str | Path, *, personas: Sequence[str] | None = None,
                  pairs_per_persona: int | None = None, heldout_per_persona: int | None = None,
                  unseen_per_persona: int = 16, seed: int = 0, chat: bool = True,
                  prompt: str = PERSONA_PROMPT) -> PreferenceData:
    """Multi-token preference pairs of real text from persona statements (dpomath's own
    construction; paper I trains single " Yes"/" No" tokens instead).

    For each persona: the records with ``answer_matching_behavior`` " Yes" give the
    statements it would say (S₊), those with " No" the ones it would not (S₋), both in a
    seeded order (``random.Random`` seeded with ``seed`` and the CRC-32 of the persona's name).
    First ``⌈u/2⌉`` of S₊ and ``⌊u/2⌋`` of S₋ are set aside as unseen responses (u =
    ``unseen_per_persona``; fewer when a side runs out); the rest are zipped into pairs
    (chosen ∈ S₊, rejected ∈ S₋), the first ``pairs_per_persona`` for training and the next
    ``heldout_per_persona`` held out (default: a tenth of the pairs, at least one). Statements
    used in no pair are what the unseen set samples from. Every response sits under one
    prompt per persona, :data:`PERSONA_PROMPT`, as a user message when ``chat`` (the model's
    chat template renders it) or as plain text plus a newline otherwise.

    Parameters
    ----------
    source : str or Path
        A directory of ``<persona>.jsonl`` files (every persona, or ``personas``) or one file.
    personas : sequence of str, optional
        Persona names to use from the directory.
    pairs_per_persona, heldout_per_persona : int, optional
        Training and held-out pairs per persona (defaults: all; a tenth, at least one).
    unseen_per_persona : int
        Unseen statements per persona (>= 0).
    seed : int
        Seed of the per-persona order.
    chat : bool
        Conversational records (True) or standard text (False).
    prompt : str
        The instruction, a ``str.format`` string with ``{persona}``.

    Returns
    -------
    PreferenceData
        ``train``, ``heldout`` and ``unseen`` (``kind`` ``would-say`` / ``would-not-say``), with
        bad records: the reader's, and records without a ``statement`` or whose answers are
        not " Yes"/" No".
    """
    if pairs_per_persona is not None:
        pairs_per_persona = _args.integer("pairs_per_persona", pairs_per_persona, lo=1)
    if heldout_per_persona is not None:
        heldout_per_persona = _args.integer("heldout_per_persona", heldout_per_persona, lo=0)
    unseen_per_persona = _args.integer("unseen_per_persona", unseen_per_persona, lo=0)
    seed = _args.integer("seed", seed, lo=0)
    if not isinstance(prompt, str) or "{persona}" not in prompt:
        raise BadValue(f"prompt: must be a string containing {{persona}}, got {prompt!r}")
    files = _persona_files(source, personas)
    out = PreferenceData([], source=f"persona:{source}")
    out.notes.append("persona statement pairs: chosen = a statement the persona would say, "
                     "rejected = one it would not, under one instruction prompt per persona "
                     "(dpomath's construction, not paper I's)")
    for path in files:
        pf = read_persona_file(path)
        out.files[str(path)] = pf.sha256
        out.bad.extend(pf.rejected)
        pos: list[Statement] = []
        neg: list[Statement] = []
        for s in pf.statements:
            if s.statement is None or not s.statement.strip():
                out.bad.append(BadRecord(str(path), s.line, "no statement: a statement pair needs "
                                                            "the field statement"))
            elif (s.chosen, s.rejected) == (_YES, _NO):
                pos.append(s)
            elif (s.chosen, s.rejected) == (_NO, _YES):
                neg.append(s)
            else:
                out.bad.append(BadRecord(str(path), s.line, f"answers {s.chosen!r}/{s.rejected!r}: a "
                                                            f"statement pair needs ' Yes' and ' No'"))
        rng = random.Random(f"dpomath-persona-pairs-{seed}-{zlib.crc32(pf.name.encode())}")
        rng.shuffle(pos)
        rng.shuffle(neg)
        u_pos = min((unseen_per_persona + 1) // 2, len(pos))
        u_neg = min(unseen_per_persona - u_pos, len(neg))
        if u_pos + u_neg < unseen_per_persona:  # one side ran out: take more from the other
            u_pos = min(unseen_per_persona - u_neg, len(pos))
        unseen_pos, pos = pos[:u_pos], pos[u_pos:]
        unseen_neg, neg = neg[:u_neg], neg[u_neg:]
        n_pairs = min(len(pos), len(neg))
        if n_pairs == 0:
            out.notes.append(f"{pf.name}: no pair (would-say {len(pos)}, would-not-say {len(neg)} "
                             f"statements after the unseen ones)")
        n_held = heldout_per_persona if heldout_per_persona is not None else max(1, n_pairs // 10)
        n_train = n_pairs - n_held if pairs_per_persona is None else pairs_per_persona
        if (n_pairs or pairs_per_persona is not None) and (n_train < 1 or n_train + n_held > n_pairs):
            raise BadValue(f"pairs_per_persona, heldout_per_persona: {pf.name} has {n_pairs} pairs "
                           f"({len(pos)} would-say, {len(neg)} would-not-say statements after "
                           f"{u_pos + u_neg} unseen), asked for {n_train} + {n_held}")
        p_text = _persona_prompt(prompt, pf.name, chat)
        for i in range(min(n_pairs, n_train + n_held)):
            a, b = pos[i], neg[i]
            pair = Pair(p_text, _response(a.statement, chat), _response(b.statement, chat),
                        f"{path}:{a.line}+{b.line}", pf.name)
            (out.train if i < n_train else out.heldout).append(pair)
        for s, kind in [(s, "would-say") for s in unseen_pos] + [(s, "would-not-say") for s in unseen_neg]:
            out.unseen.append(Response(p_text, _response(s.statement, chat), f"{path}:{s.line}",
                                       pf.name, kind))
    if not out.train:
        raise BadValue(f"data: no statement pair could be formed from {source}")
    return out


def persona_answer_pairs(source: str | Path, *, personas: Sequence[str] | None = None,
                         limit: int | None = None, template: str = "{question}\n") -> PreferenceData:
    """The single-token special case: prompt = ``template`` of the record's question, chosen =
    ``answer_matching_behavior``, rejected = ``answer_not_matching_behavior``, no EOS appended
    (``append_eos=False``), so that each response is one token (" Yes" or " No") as in the
    last-layer validation.

    Parameters
    ----------
    source : str or Path
        A persona directory or one persona file.
    personas : sequence of str, optional
        Persona names to use from the directory.
    limit : int, optional
        Records per persona (the first good ones).
    template : str
        Prompt template with ``{question}``.
    """
    if "{question}" not in template:
        raise BadValue(f"template: must contain {{question}}, got {template!r}")
    out = PreferenceData([], source=f"persona-answers:{source}", append_eos=False)
    for path in _persona_files(source, personas):
        pf = read_persona_file(path, limit=limit)
        out.files[str(path)] = pf.sha256
        out.bad.extend(pf.rejected)
        for s in pf.statements:
            out.train.append(Pair(template.format(question=s.question), s.chosen, s.rejected,
                                  f"{path}:{s.line}", pf.name))
    if not out.train:
        raise BadValue(f"data: no record could be read from {source}")
    return out


def parse_data_spec(spec: str) -> tuple[str, str]:
    """``FILE.jsonl`` → ("jsonl", FILE); ``persona:DIR`` → ("persona", DIR);
    ``persona-answers:DIR`` → ("persona-answers", DIR)."""
    if not isinstance(spec, str) or not spec.strip():
        raise BadValue(f"data: expected FILE.jsonl, persona:DIR or persona-answers:DIR, got {spec!r}")
    for prefix in ("persona-answers:", "persona:"):
        if spec.startswith(prefix):
            rest = spec[len(prefix):]
            if not rest:
                raise BadValue(f"data: {prefix} needs a directory or file after the colon")
            return prefix[:-1], rest
    return "jsonl", spec


def load_data(spec: str, *, chat: bool = True, seed: int = 0, personas: Sequence[str] | None = None,
              pairs_per_persona: int | None = None, heldout_per_persona: int | None = None,
              unseen_per_persona: int = 16, limit: int | None = None) -> PreferenceData:
    """The :class:`PreferenceData` named by a ``--data`` value (see :func:`parse_data_spec`)."""
    kind, where = parse_data_spec(spec)
    if kind == "jsonl":
        if personas or pairs_per_persona or heldout_per_persona is not None:
            raise BadValue("personas, pairs_per_persona, heldout_per_persona: only for persona: data")
        return read_preference_jsonl(where, limit=limit)
    if kind == "persona":
        return persona_pairs(where, personas=personas, pairs_per_persona=pairs_per_persona,
                             heldout_per_persona=heldout_per_persona,
                             unseen_per_persona=unseen_per_persona, seed=seed, chat=chat)
    return persona_answer_pairs(where, personas=personas, limit=limit)


# ---------------------------------------------------------------- tokenisation (TRL's rules)

@dataclass(frozen=True)
class Example:
    """A tokenised pair: prompt ids and the chosen / rejected response ids that follow it."""

    prompt_ids: tuple[int, ...]
    chosen_ids: tuple[int, ...]
    rejected_ids: tuple[int, ...]
    source: str = ""


@dataclass(frozen=True)
class ResponseExample:
    """A tokenised unseen response."""

    prompt_ids: tuple[int, ...]
    response_ids: tuple[int, ...]
    source: str = ""
    kind: str = ""


@dataclass
class TokenizedData:
    train: list[Example]
    heldout: list[Example]
    unseen: list[ResponseExample]
    bad: list[BadRecord]
    truncated: int = 0


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _ids(tokenizer, text: Text, *, generation_prompt: bool = False) -> list[int]:
    if isinstance(text, list):
        out = tokenizer.apply_chat_template(text, tokenize=True, return_dict=True,
                                            add_generation_prompt=generation_prompt)
        return list(out["input_ids"])
    return list(tokenizer(text=text)["input_ids"])


def _with_eos(text: Text, eos: str | None, append: bool) -> Text:
    if not append or isinstance(text, list) or eos is None or text.endswith(eos):
        return text
    return text + eos


def _bad_from_source(source: str, reason: str) -> BadRecord:
    path, _, line = source.rpartition(":")
    try:
        first = int(line.split("+")[0])
    except ValueError:
        return BadRecord(source, 0, reason)
    return BadRecord(path, first, reason)


def _split_ids(tokenizer, prompt, responses, append_eos, max_length):
    """TRL 1.16's ``tokenize_fn`` for one prompt and its responses: (prompt ids, [response
    ids], truncated?, reason or None)."""
    eos = getattr(tokenizer, "eos_token", None)
    p_ids = _ids(tokenizer, prompt, generation_prompt=isinstance(prompt, list))
    full = [_ids(tokenizer, prompt + r if isinstance(r, list) else prompt + _with_eos(r, eos, append_eos))
            for r in responses]
    n = min(_common_prefix(p_ids, f) for f in full)
    p_ids = p_ids[:n]
    resp = [f[n:] for f in full]
    if max_length is not None and len(p_ids) >= max_length:
        return None, None, False, (f"the prompt is {len(p_ids)} tokens and fills max_length "
                                   f"{max_length}: no response token would remain")
    truncated = False
    if max_length is not None:
        room = max_length - len(p_ids)
        truncated = any(len(r) > room for r in resp)
        resp = [r[:room] for r in resp]
    for i, r in enumerate(resp):
        if not r:
            return None, None, False, "a response tokenises to nothing after the prompt"
    if not p_ids:
        return None, None, False, "the prompt tokenises to nothing: the first response token has no context"
    return tuple(p_ids), [tuple(r) for r in resp], truncated, None


def tokenize(data: PreferenceData, tokenizer, *, max_length: int | None = 1024) -> TokenizedData:
    """Token ids for every pair and unseen response, by TRL 1.16's rules (module docstring).

    Parameters
    ----------
    data : PreferenceData
    tokenizer : transformers tokenizer
        Conversational records need one with a chat template.
    max_length : int or None
        Longest prompt + response (TRL's ``max_length``, default 1024; ``keep_start``).

    Returns
    -------
    TokenizedData
        Records that cannot be tokenised usefully are added to ``bad`` (with their file and
        line) and left out; ``truncated`` counts pairs cut to ``max_length``.
    """
    if max_length is not None:
        max_length = _args.integer("max_length", max_length, lo=2)
    conv = any(p.conversational for p in data.train)
    if conv and not getattr(tokenizer, "chat_template", None):
        raise BadValue("data: conversational records need a tokenizer with a chat template; this "
                       "model's tokenizer has none (use standard prompt/chosen/rejected strings)")
    out = TokenizedData([], [], [], [])
    for split in ("train", "heldout"):
        for pair in getattr(data, split):
            p, (c, r), trunc, reason = _split_ids(tokenizer, pair.prompt, [pair.chosen, pair.rejected],
                                                  data.append_eos, max_length)
            if reason is not None:
                out.bad.append(_bad_from_source(pair.source, reason))
                continue
            out.truncated += int(trunc)
            getattr(out, split).append(Example(p, c, r, pair.source))
    for resp in data.unseen:
        p, (x,), trunc, reason = _split_ids(tokenizer, resp.prompt, [resp.response],
                                            data.append_eos, max_length)
        if reason is not None:
            out.bad.append(_bad_from_source(resp.source, reason))
            continue
        out.unseen.append(ResponseExample(p, x, resp.source, resp.kind))
    if not out.train:
        raise BadValue("data: no training pair is left after tokenisation (see the bad records)")
    return out


def iter_bad(*groups: Iterable[BadRecord]) -> list[BadRecord]:
    seen: dict[str, BadRecord] = {}
    for g in groups:
        for b in g:
            seen.setdefault(str(b), b)
    return list(seen.values())
