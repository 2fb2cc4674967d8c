"""Templated sentiment sentences (情感分类), generated offline, for fine-tuning a pretrained encoder.

Every sentence puts a subject and an adjective into a template, e.g. "honestly,
the hotel is wonderful." Its label is the adjective's polarity: 1 positive, 0
negative. The held-out sentences use *other* adjectives than the training
sentences, so a model can only label them well if it knows something about
those words that the training set did not teach it: what a pretrained model
brings, and a randomly initialised one does not.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

SUBJECTS = ("the film", "the meal", "the hotel", "the book", "the concert", "the service", "the game", "the trip")
TEMPLATES = ("{s} was {a}.", "i found {s} {a}.", "honestly, {s} is {a}.", "everyone said {s} felt {a}.")
TRAIN_ADJECTIVES = (("great", "wonderful", "excellent", "delightful", "fantastic"),
                    ("terrible", "awful", "boring", "dreadful", "horrible"))
HELD_OUT_ADJECTIVES = (("superb", "brilliant", "lovely"), ("tedious", "dull", "miserable"))


class Sentences(NamedTuple):
    """Parallel lists: the sentences and their labels (1 positive, 0 negative)."""

    texts: list[str]
    labels: list[int]


def sentiment_sentences(positive: Sequence[str], negative: Sequence[str], subjects: Sequence[str] = SUBJECTS,
                        templates: Sequence[str] = TEMPLATES) -> Sentences:
    """Every template filled with every subject and every adjective; label 1 for ``positive`` adjectives."""
    owner = "sentiment_sentences"
    for name, words in (("positive", positive), ("negative", negative), ("subjects", subjects),
                        ("templates", templates)):
        if isinstance(words, str) or not words or not all(isinstance(w, str) and w for w in words):
            raise ValueError(f"{owner}: {name} must be a non-empty sequence of non-empty strings, got {words!r}")
    if any("{s}" not in t or "{a}" not in t for t in templates):
        raise ValueError(f"{owner}: every template must contain '{{s}}' and '{{a}}', got {templates!r}")
    texts, labels = [], []
    for label, adjectives in ((1, positive), (0, negative)):
        for a in adjectives:
            for s in subjects:
                for t in templates:
                    texts.append(t.format(s=s, a=a))
                    labels.append(label)
    return Sentences(texts, labels)


def sentiment_splits() -> tuple[Sentences, Sentences]:
    """The training sentences (320: 8 subjects x 4 templates x 10 adjectives) and the held-out ones
    (192, with 6 adjectives the training set never uses)."""
    return sentiment_sentences(*TRAIN_ADJECTIVES), sentiment_sentences(*HELD_OUT_ADJECTIVES)


__all__ = ["HELD_OUT_ADJECTIVES", "SUBJECTS", "Sentences", "TEMPLATES", "TRAIN_ADJECTIVES", "sentiment_sentences",
           "sentiment_splits"]
