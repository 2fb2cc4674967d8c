"""A tiny synthetic instruction-following format, for supervised fine-tuning a character model.

Each example is a prompt that states a task and a word, and the response the
task asks for::

    Q: reverse cab
    A: bac

The prompt is ``"Q: <task> <word>\\nA: "`` (ending with the space after
``A:``) and the response is the answer alone; a model fine-tuned on it learns
to write the answer, then the end-of-sequence token. The tasks, each a rule a
small Transformer can learn from a few thousand examples:

=========== ======================= ============
task        answer                  ``cab`` →
=========== ======================= ============
``reverse`` the letters backwards   ``bac``
``sort``    the letters in order    ``abc``
``upper``   the letters in capitals ``CAB``
``repeat``  the word twice          ``cabcab``
=========== ======================= ============

Words are drawn from a small ``alphabet`` of lowercase letters.
:class:`InstructionVocab` turns text into token ids: ``<pad>`` is 0, ``<eos>``
is 1, then a newline, a space, a colon and the 52 ASCII letters. Pure Python
and NumPy; the fine-tuning itself is in :mod:`book.training.sft`.
"""
from __future__ import annotations

import string
from typing import NamedTuple

import numpy as np

from book.checks import non_negative_int, positive_int

TASKS = ("reverse", "sort", "upper", "repeat")
PAD, EOS = 0, 1


def answer(task: str, word: str) -> str:
    """What ``task`` asks for ``word`` (see the table in the module docstring)."""
    if task not in TASKS:
        raise ValueError(f"answer: task must be one of {TASKS}, got {task!r}")
    if not isinstance(word, str) or not word or not word.isalpha() or not word.islower():
        raise ValueError(f"answer: word must be a non-empty string of lowercase letters, got {word!r}")
    if task == "reverse":
        return word[::-1]
    if task == "sort":
        return "".join(sorted(word))
    if task == "upper":
        return word.upper()
    return word + word


class Instruction(NamedTuple):
    """One example: its ``task`` and ``word``, the ``prompt`` text and the ``response`` text."""

    task: str
    word: str
    prompt: str
    response: str

    @property
    def text(self) -> str:
        """Prompt and response together, as the model reads them."""
        return self.prompt + self.response


def make_instruction(task: str, word: str) -> Instruction:
    """The example for ``task`` applied to ``word``: prompt ``"Q: <task> <word>\\nA: "``, response the answer."""
    response = answer(task, word)
    return Instruction(task, word, f"Q: {task} {word}\nA: ", response)


def instruction_dataset(n: int, tasks=TASKS, alphabet: str = "abcdef", min_length: int = 2, max_length: int = 5,
                        seed: int = 0) -> list[Instruction]:
    """``n`` random examples: a task drawn uniformly from ``tasks``, a word of ``min_length`` to
    ``max_length`` letters drawn uniformly and independently from ``alphabet``, with ``seed``.

    Two datasets with different seeds can share words; hold words out by
    filtering on :attr:`Instruction.word` if a test must not.
    """
    owner = "instruction_dataset"
    n = positive_int(n, "n", owner=owner)
    tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
    if not tasks or any(t not in TASKS for t in tasks):
        raise ValueError(f"{owner}: tasks must be a non-empty selection of {TASKS}, got {tasks!r}")
    if (not isinstance(alphabet, str) or not alphabet or not alphabet.isalpha() or not alphabet.islower()
            or len(set(alphabet)) != len(alphabet)):
        raise ValueError(f"{owner}: alphabet must be distinct lowercase letters, got {alphabet!r}")
    min_length = positive_int(min_length, "min_length", owner=owner)
    max_length = positive_int(max_length, "max_length", owner=owner)
    if min_length > max_length:
        raise ValueError(f"{owner}: min_length must be at most max_length={max_length}, got {min_length}")
    rng = np.random.default_rng(non_negative_int(seed, "seed", owner=owner))
    letters = list(alphabet)
    examples = []
    for _ in range(n):
        task = tasks[rng.integers(len(tasks))]
        length = int(rng.integers(min_length, max_length + 1))
        word = "".join(letters[i] for i in rng.integers(len(letters), size=length))
        examples.append(make_instruction(task, word))
    return examples


class InstructionVocab:
    """Token ids for the instruction format: ``<pad>`` 0, ``<eos>`` 1, then ``\\n``, space, ``:``,
    ``a``–``z`` and ``A``–``Z`` (57 tokens)."""

    specials = ("<pad>", "<eos>")
    chars = "\n :" + string.ascii_lowercase + string.ascii_uppercase

    def __init__(self):
        self.pad_id, self.eos_id = PAD, EOS
        self.index = {ch: i + len(self.specials) for i, ch in enumerate(self.chars)}

    @property
    def size(self) -> int:
        """How many tokens there are (the model's ``vocab_size``)."""
        return len(self.specials) + len(self.chars)

    def __len__(self) -> int:
        return self.size

    def encode(self, text: str) -> list[int]:
        """The ids of the characters of ``text`` (no end-of-sequence token is added)."""
        if not isinstance(text, str):
            raise ValueError(f"InstructionVocab.encode expects a str, got {type(text).__name__}")
        try:
            return [self.index[ch] for ch in text]
        except KeyError as err:
            raise ValueError(f"InstructionVocab.encode: character {err.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids) -> str:
        """The text of ``ids`` (a sequence, array or tensor); specials are written ``<pad>`` and ``<eos>``."""
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        out = []
        for i in ids:
            if not (isinstance(i, (int, np.integer)) and 0 <= i < self.size):
                raise ValueError(f"InstructionVocab.decode expects ids in [0, {self.size}), got {i!r}")
            out.append(self.specials[i] if i < len(self.specials) else self.chars[i - len(self.specials)])
        return "".join(out)

    def __repr__(self) -> str:
        return f"InstructionVocab({self.size} tokens)"


__all__ = ["EOS", "PAD", "TASKS", "Instruction", "InstructionVocab", "answer", "instruction_dataset",
           "make_instruction"]
