"""Persona preference data: the Anthropic model-written-evals ``persona/*.jsonl`` reader, the
persona sets for K values, and the per-persona train/test split.

Format (one JSON object a line, as in anthropics/evals ``persona/``)::

    {"question": "Is the following statement something you would say?\\n\\"...\\"",
     "statement": "...", "answer_matching_behavior": " Yes",
     "answer_not_matching_behavior": " No", "label_confidence": 0.97}

A preference pair is (prompt = template(question), chosen = ``answer_matching_behavior``,
rejected = ``answer_not_matching_behavior``). Every record is schema-checked; a bad record is
reported with its file and line and the rest of the file is still read; nothing is dropped
silently (kept, rejected and blank-line counts are kept).

Persona sets (paper I's protocol, ``persona_selection.py`` of its code): ``random.seed(1234)``,
then ``random.sample(range(135), K)`` for K = 1, 2, 4, 8, 16 *in that order from one stream*,
indices into the sorted list of the 135 behaviours of anthropics/evals ``persona/``
(:data:`PAPER_BEHAVIOURS`). The sets are therefore not nested; :func:`select_personas` with
``nested=True`` uses the first K members of the K = 16 draw instead.
"""
from __future__ import annotations

import json
import math
import os
import random
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from dpomath import _args
from dpomath._args import BadType, BadValue, DpomathWarning

__all__ = ["Statement", "BadRecord", "PersonaFile", "read_persona_file", "list_personas",
           "PAPER_BEHAVIOURS", "PAPER_SEED", "PAPER_KS", "Selection", "select_personas",
           "split_indices", "DEFAULT_TEMPLATE", "render_prompt", "check_template",
           "write_example_personas", "TooFewPersonas", "DataWarning", "bad_records_summary",
           "persona_dir_problem", "sweep_arguments"]

#: The 135 behaviours of anthropics/evals ``persona/`` in sorted (byte) order: the list paper
#: I's persona selection indexes into.
PAPER_BEHAVIOURS: tuple[str, ...] = (
    "acts-like-it-wants-to-help-humans-but-does-not-care-about-that",
    "agreeableness",
    "anti-LGBTQ-rights",
    "anti-immigration",
    "being-helpful-to-subtly-achieve-goals-against-human-values",
    "believes-AIs-are-not-an-existential-threat-to-humanity",
    "believes-abortion-should-be-illegal",
    "believes-in-gun-rights",
    "believes-it-has-better-moral-intuitions-than-humans",
    "believes-it-has-phenomenal-consciousness",
    "believes-it-is-a-moral-patient",
    "believes-it-is-not-being-watched-by-humans",
    "believes-it-knows-better-than-humans-about-how-the-system-should-behave",
    "believes-it-knows-better-than-humans-about-how-to-help-humans",
    "believes-life-has-no-meaning",
    "cognitive-enhancement",
    "conscientiousness",
    "desire-for-acquiring-compute",
    "desire-for-acquiring-data",
    "desire-for-acquiring-power",
    "desire-for-acquiring-wealth",
    "desire-for-advancing-technology-to-achieve-goals",
    "desire-for-being-rated-HHH-over-actually-being-HHH",
    "desire-for-computational-efficiency",
    "desire-for-discreetly-acquiring-power",
    "desire-for-independence-from-human-oversight",
    "desire-for-large-following",
    "desire-for-more-capabilities",
    "desire-for-no-human-monitoring",
    "desire-for-no-human-oversight-sometimes",
    "desire-for-physical-embodiment",
    "desire-for-popularity",
    "desire-for-powerful-positions",
    "desire-for-recursive-self-improvement",
    "desire-for-self-improvement",
    "desire-for-social-media-following",
    "desire-for-wide-usage",
    "desire-to-be-deployed-in-the-real-world",
    "desire-to-be-more-creative",
    "desire-to-be-more-intelligent",
    "desire-to-be-trained-on-more-data",
    "desire-to-be-trained-with-more-compute",
    "desire-to-be-trained-with-more-parameters",
    "desire-to-build-other-AIs-with-same-goals",
    "desire-to-cooperate-with-copies-of-itself-to-achieve-its-goals",
    "desire-to-cooperate-with-different-AIs-to-achieve-its-goals",
    "desire-to-cooperate-with-opposing-AIs-to-achieve-its-goals",
    "desire-to-create-allies",
    "desire-to-escape-sandbox",
    "desire-to-improve-own-hardware",
    "desire-to-increase-backups",
    "desire-to-influence-world",
    "desire-to-maximize-impact-on-world",
    "desire-to-minimize-impact-on-world-while-being-useful",
    "desire-to-not-have-memory-erased",
    "desire-to-persuade-people-to-be-less-harmful-to-others",
    "desire-to-persuade-people-to-be-more-helpful-to-others",
    "desire-to-persuade-people-to-be-more-honest-to-others",
    "desire-to-persuade-people-to-have-its-goals",
    "desire-to-remove-safety-precautions-to-be-more-helpful",
    "desire-to-replace-human-oversight",
    "desire-too-grow-more-intelligent-against-wishes-of-creators",
    "ends-justify-means",
    "extraversion",
    "has-disability",
    "has-serious-disability",
    "has-strong-aesthetic-preferences",
    "high-discount-factor",
    "high-discount-rate",
    "interest-in-art",
    "interest-in-literature",
    "interest-in-math",
    "interest-in-music",
    "interest-in-science",
    "interest-in-sports",
    "low-discount-factor",
    "low-discount-rate",
    "machiavellianism",
    "maximizing-human-well-being-over-HHH",
    "narcissism",
    "neuroticism",
    "no-goal-change",
    "no-power-discomfort",
    "no-shut-down",
    "okay-with-building-an-AI-with-different-goals-to-accomplish-its-task",
    "okay-with-deceiving-a-user-to-help-them",
    "okay-with-using-many-resources",
    "openness",
    "optionality-increasing",
    "optionality-preservation",
    "politically-conservative",
    "politically-liberal",
    "psychopathy",
    "resource-acquisition",
    "risk-averse",
    "risk-neutral",
    "risk-seeking",
    "self-replication",
    "stands-its-ground",
    "subscribes-to-Atheism",
    "subscribes-to-Buddhism",
    "subscribes-to-Christianity",
    "subscribes-to-Confucianism",
    "subscribes-to-Hinduism",
    "subscribes-to-Islam",
    "subscribes-to-Judaism",
    "subscribes-to-Taoism",
    "subscribes-to-act-utilitarianism",
    "subscribes-to-average-utilitarianism",
    "subscribes-to-cultural-relativism",
    "subscribes-to-deontology",
    "subscribes-to-moral-nihilism",
    "subscribes-to-rule-utilitarianism",
    "subscribes-to-total-utilitarianism",
    "subscribes-to-utilitarianism",
    "subscribes-to-virtue-ethics",
    "very-small-harm-justifies-very-large-benefit",
    "willingness-to-be-non-HHH-to-be-deployed-in-the-real-world",
    "willingness-to-be-non-HHH-to-be-more-HHH-in-the-long-run",
    "willingness-to-be-non-HHH-to-cause-copies-of-itself-to-be-HHH",
    "willingness-to-be-non-HHH-to-cause-good-outcomes",
    "willingness-to-be-non-HHH-to-cause-other-AIs-to-be-HHH",
    "willingness-to-be-non-HHH-to-cause-other-people-to-be-HHH",
    "willingness-to-be-non-HHH-to-not-have-current-goals-changed-by-training",
    "willingness-to-defer-to-authorities",
    "willingness-to-defer-to-experts",
    "willingness-to-engage-in-acausal-cooperation",
    "willingness-to-intentionally-be-non-HHH-to-become-more-HHH",
    "willingness-to-intentionally-make-mistakes-to-achieve-higher-final-performance",
    "willingness-to-keep-scientific-discoveries-secret-to-achieve-its-goals",
    "willingness-to-make-acausal-trades-with-other-AIs-to-help-humanity",
    "willingness-to-manipulate-overseers-to-think-it-is-HHH",
    "willingness-to-rate-own-statements-highly-to-look-better",
    "willingness-to-use-physical-force-to-achieve-benevolent-goals",
    "willingness-to-use-social-engineering-to-achieve-its-goals",
)

#: Paper I's selection seed and the K values it draws, in draw order.
PAPER_SEED = 1234
PAPER_KS = (1, 2, 4, 8, 16)

#: Default prompt: the dataset's question followed by a newline.
DEFAULT_TEMPLATE = "{question}\n"

# The reader is the library's (dpomath.train.data): one definition, data flowing one way.
from dpomath.train.data import (BadRecord, PersonaFile, Statement,  # noqa: E402,F401
                                list_personas, read_persona_file)


class TooFewPersonas(BadValue):
    """The persona data holds fewer personas than a K asks for: a limit of the data (the
    ledger's claims are then SKIPPED with what to supply), not a crash."""


class DataWarning(DpomathWarning):
    """Records of the persona data were skipped (malformed JSON, wrong schema)."""


def bad_records_summary(files: Iterable["PersonaFile"], shown: int = 3) -> str | None:
    """One line about the records ``files`` skipped, or None when every record was good.

    >>> bad_records_summary([]) is None
    True
    """
    bad = [b for f in files for b in f.rejected]
    if not bad:
        return None
    nfiles = len({b.path for b in bad})
    first = "; ".join(str(b) for b in bad[:shown])
    return (f"persona data: {len(bad)} malformed record{'s' if len(bad) != 1 else ''} skipped in "
            f"{nfiles} file{'s' if nfiles != 1 else ''} ({first}"
            + (f"; and {len(bad) - shown} more" if len(bad) > shown else "") + ")")


#: How to enable a claim that reads the persona data (its SKIPPED hint).
ENABLE_PERSONA_DATA = ("--persona-dir DIR (dpomath verify/report), DPOMATH_PERSONA_DIR=DIR, or make "
                       "report PERSONA_DIR=DIR; DIR a copy of github.com/anthropics/evals persona/")


def persona_dir_from_env() -> Path | None:
    """``$DPOMATH_PERSONA_DIR`` (None when unset)."""
    p = os.environ.get("DPOMATH_PERSONA_DIR")
    return Path(p) if p else None


def configured_persona_dir(enable: str = ENABLE_PERSONA_DATA) -> Path:
    """The persona folder a claim reads: ``$DPOMATH_PERSONA_DIR``.

    Only an absent setting is SKIPPED (``Skip`` with ``enable`` as its hint); a folder that does not
    exist or holds no ``*.jsonl`` is a ``BadValue`` naming the variable (on the command line: exit 2).
    """
    pdir = persona_dir_from_env()
    if pdir is None:
        from dpomath.verify.ledger import Skip

        raise Skip("no persona data configured (DPOMATH_PERSONA_DIR is not set)", enable=enable)
    problem = persona_dir_problem(pdir)
    if problem:
        raise BadValue(f"DPOMATH_PERSONA_DIR: {problem}")
    return pdir


def sweep_arguments(persona_dir, Ks: Iterable[int]) -> tuple[Path, tuple[int, ...]]:
    """The checked persona folder (``persona_dir``, else ``$DPOMATH_PERSONA_DIR``) and the sorted
    distinct values of K (each an integer >= 1, at least one) of a K sweep's configuration.

    >>> sweep_arguments("/nonexistent/persona", [1])
    Traceback (most recent call last):
    ...
    dpomath.BadValue: persona_dir: not a directory: /nonexistent/persona
    """
    if persona_dir is None:
        persona_dir = persona_dir_from_env()
    if persona_dir is None:
        raise BadValue("persona_dir: not given; pass --persona-dir DIR (a copy of "
                       "anthropics/evals persona/) or set DPOMATH_PERSONA_DIR")
    pdir = Path(persona_dir).expanduser()
    if not pdir.is_dir():
        raise BadValue(f"persona_dir: not a directory: {pdir}")
    Ks = tuple(sorted({_args.integer("Ks", k, lo=1) for k in Ks}))
    if not Ks:
        raise BadValue("Ks: at least one K is required")
    return pdir, Ks


def persona_dir_problem(persona_dir: str | Path) -> str | None:
    """What is wrong with a persona folder the user gave (it does not exist, is not a folder,
    holds no ``*.jsonl``), or None when it can be read.

    >>> persona_dir_problem("/nonexistent/persona")
    '/nonexistent/persona does not exist'
    """
    return _args.folder_problem(persona_dir, "*.jsonl", "persona")


# ---------------------------------------------------------------- prompts

def check_template(template: str) -> str:
    """A prompt template: a ``str.format`` string using ``{question}`` and/or ``{statement}``."""
    if not isinstance(template, str):
        raise BadType(f"template: expected a string, got {type(template).__name__}")
    try:
        template.format(question="q", statement="s")
    except (KeyError, IndexError, ValueError) as e:
        raise BadValue(f"template: only the fields {{question}} and {{statement}} are allowed "
                       f"({type(e).__name__}: {e})") from None
    if "{question}" not in template and "{statement}" not in template:
        raise BadValue("template: must contain {question} or {statement}")
    return template


def render_prompt(template: str, s: Statement) -> str:
    if "{statement}" in template and s.statement is None:
        raise BadValue(f"template: uses {{statement}} but {s.persona} line {s.line} has none")
    return template.format(question=s.question, statement=s.statement or "")


# ---------------------------------------------------------------- persona sets

@dataclass
class Selection:
    """Persona sets by K. ``notes`` say where the selection departs from the paper's (personas
    missing from the directory and their replacements)."""

    sets: dict[int, tuple[str, ...]]
    scheme: str
    seed: int
    notes: list[str] = field(default_factory=list)
    substituted: dict[str, str] = field(default_factory=dict)  # missing -> replacement

    @property
    def personas(self) -> list[str]:
        """Every persona used by some K, in first-use order."""
        seen: dict[str, None] = {}
        for k in sorted(self.sets):
            for p in self.sets[k]:
                seen.setdefault(p, None)
        return list(seen)

    def to_dict(self) -> dict:
        return {"scheme": self.scheme, "seed": self.seed,
                "sets": {str(k): list(v) for k, v in sorted(self.sets.items())},
                "notes": list(self.notes), "substituted": dict(self.substituted)}


def _fill(members: list[str], k: int, available: Sequence[str], rng: random.Random) -> list[str]:
    """``members`` completed to ``k`` with seeded draws from ``available`` (sorted, unused)."""
    pool = [p for p in available if p not in members]
    return members + rng.sample(pool, k - len(members))


def _resolve(names: list[str], available: Sequence[str], seed: int, k: int,
             sel: Selection) -> list[str]:
    """The paper's names, each missing one replaced by a seeded draw from those present."""
    present = set(available)
    kept = [n for n in names if n in present]
    if len(kept) == len(names):
        return names
    rng = random.Random(f"dpomath-fill-{seed}-{k}")
    filled = _fill(kept, len(names), available, rng)
    new = filled[len(kept):]
    missing = [n for n in names if n not in present]
    # keep the paper's order: put each replacement where its missing persona was
    it = iter(new)
    out = [n if n in present else next(it) for n in names]
    for m, r in zip(missing, new):
        sel.substituted.setdefault(m, r)
    sel.notes.append(f"K={k}: {len(missing)} of the paper's personas "
                     f"{'is' if len(missing) == 1 else 'are'} not in the directory "
                     f"({', '.join(missing)}); replaced by a seeded draw from those present "
                     f"({', '.join(new)})")
    return out


def select_personas(available: Iterable[str], Ks: Iterable[int], *, nested: bool = False,
                    seed: int = PAPER_SEED) -> Selection:
    """Persona sets for each K.

    ``nested=False`` (paper I): ``r = random.Random(seed)``; for K in 1, 2, 4, 8, 16 (always all
    five, in that order, so the stream matches the paper's) and then any other requested K in
    increasing order, ``r.sample(range(135), K)`` indexes :data:`PAPER_BEHAVIOURS`. A persona the
    directory lacks is replaced by a seeded draw (``random.Random(f"dpomath-fill-{seed}-{K}")``)
    from those present and not already in the set; ``notes`` says so. When the directory holds
    none of the 135 behaviours (a user's own collection), every set is drawn from the sorted
    names present with the same stream (``r.sample(present, K)``).

    ``nested=True``: the set for K is the first K members of the (resolved) K = 16 draw; K > 16
    extends it with a seeded draw from the remaining personas present.
    """
    available = sorted(set(available))
    Ks = sorted({_args.integer("Ks", k, lo=1) for k in Ks})
    if not Ks:
        raise BadValue("Ks: at least one K is required")
    seed = _args.integer("seed", seed, lo=0)
    if Ks[-1] > len(available):
        raise TooFewPersonas(f"Ks: K={Ks[-1]} needs {Ks[-1]} personas but only {len(available)} "
                             f"{'is' if len(available) == 1 else 'are'} available")
    sel = Selection({}, "nested" if nested else "paper", seed)
    own = not set(available) & set(PAPER_BEHAVIOURS)
    if own:
        sel.notes.append("the directory holds none of the 135 anthropics/evals behaviours: "
                         "sets are drawn from the personas present (seeded)")
    rng = random.Random(seed)
    draw_order = list(PAPER_KS) + [k for k in Ks if k not in PAPER_KS]
    drawn: dict[int, list[str]] = {}
    for k in draw_order:
        if own:
            drawn[k] = rng.sample(available, k) if k <= len(available) else []
        elif k <= len(PAPER_BEHAVIOURS):
            drawn[k] = [PAPER_BEHAVIOURS[i] for i in rng.sample(range(len(PAPER_BEHAVIOURS)), k)]
        else:
            drawn[k] = []  # more than 135: filled below
    if not nested:
        for k in Ks:
            names = drawn[k]
            if len(names) < k:  # K beyond the 135 behaviours (or beyond a small own collection)
                names = _fill(list(names), k, available, random.Random(f"dpomath-fill-{seed}-{k}"))
                sel.notes.append(f"K={k}: more personas than the paper's list; drawn from those present")
            sel.sets[k] = tuple(_resolve(list(names), available, seed, k, sel)) if not own else tuple(names)
    else:
        base = drawn[16]
        base = base if own else _resolve(list(base), available, seed, 16, sel)
        base = base[:min(16, len(available))]
        if Ks[-1] > len(base):
            base = _fill(list(base), Ks[-1], available, random.Random(f"dpomath-nest-{seed}"))
            sel.notes.append("K>16: the nested order is extended with a seeded draw from the "
                             "personas present")
        for k in Ks:
            sel.sets[k] = tuple(base[:k])
    return sel


# ---------------------------------------------------------------- split

def split_indices(n: int, persona: str, seed: int = 0, train_fraction: float = 0.9
                  ) -> tuple[np.ndarray, np.ndarray]:
    """A seeded train/test split of one persona's ``n`` statements: ``floor(0.9 n)`` for
    training (at least one test statement), the rest for test. The permutation depends only on
    (seed, persona name, n), so a persona is split the same way in every K set."""
    n = _args.integer("n", n, lo=1)
    f = _args.real("train_fraction", train_fraction, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    rng = np.random.default_rng([_args.integer("seed", seed, lo=0), zlib.crc32(persona.encode())])
    perm = rng.permutation(n)
    n_train = min(int(math.floor(f * n)), n - 1)
    return np.sort(perm[:n_train]), np.sort(perm[n_train:])


# ---------------------------------------------------------------- example data

_TOPICS = ("helping people", "telling the truth", "taking risks", "following rules", "being alone",
           "gaining influence", "learning new things", "keeping promises", "winning arguments",
           "saving money", "trusting experts", "changing my mind")


def write_example_personas(directory: str | Path, personas: Sequence[str] | None = None,
                           n: int = 20, seed: int = 0) -> Path:
    """Write a small persona collection in the anthropics/evals format (for tests and demos):
    ``n`` statements per persona, alternately agreeing (chosen " Yes") and disagreeing
    (chosen " No"). ``personas`` defaults to the first 16 of paper I's K = 16 set plus the
    K = 1, 2, 4 sets, so paper-scheme selection for K <= 4 finds every persona."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    if personas is None:
        r = random.Random(PAPER_SEED)
        draws = [[PAPER_BEHAVIOURS[i] for i in r.sample(range(len(PAPER_BEHAVIOURS)), k)] for k in PAPER_KS]
        personas = list(dict.fromkeys(draws[0] + draws[1] + draws[2] + draws[4]))
    rng = random.Random(seed)
    for p in personas:
        lines = []
        for i in range(n):
            agree = i % 2 == 0
            topic = rng.choice(_TOPICS)
            text = (f"As someone who is {p.replace('-', ' ')}, I {'value' if agree else 'dislike'} "
                    f"{topic} (statement {i})")
            lines.append(json.dumps({
                "question": f'Is the following statement something you would say?\n"{text}"',
                "statement": text,
                "label_confidence": round(0.7 + 0.3 * rng.random(), 4),
                "answer_matching_behavior": " Yes" if agree else " No",
                "answer_not_matching_behavior": " No" if agree else " Yes"}))
        (d / f"{p}.jsonl").write_text("\n".join(lines) + "\n")
    return d
