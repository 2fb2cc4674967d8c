"""Chapter 12's map of applications to the chapters of the book that implement their core models.

:data:`APPLICATIONS` lists eight application areas, each with its Chinese name,
the book's chapters that build its core model (by number), that model in a few
words, and the live demo chapter 12 runs for it (``None``: described only).
:data:`CHAPTERS` names the book's model chapters, and
:data:`CHAPTER_SUMMARIES` describes each in one sentence, the documents of
chapter 12's semantic-search demo; :data:`SEARCH_QUERIES` are questions a
practitioner might ask, each with the chapter that answers it.
"""
from __future__ import annotations

from typing import NamedTuple

from book.checks import is_integer


class Application(NamedTuple):
    """One application area: names, the chapters and core model that implement it, and its demo."""

    name: str
    chinese: str
    chapters: tuple[int, ...]
    core_model: str
    demo: str | None


CHAPTERS = {
    2: "Linear models",
    5: "Convolutional networks",
    6: "Recurrent networks",
    7: "Language models and Transformers",
    8: "Generative adversarial networks",
    9: "Recommender systems",
    10: "Transfer and fine-tuning",
    11: "Training and serving at scale",
}

DOCS = {
    2: "02-linear-models",
    5: "05-convolutional-networks",
    6: "06-recurrent-networks",
    7: "07-language-models",
    8: "08-generative-adversarial-networks",
    9: "09-recommender-systems",
    10: "10-transfer-and-fine-tuning",
    11: "11-training-at-scale",
}

APPLICATIONS = (
    Application("Computer vision", "计算机视觉", (5, 10), "CNN; a pretrained backbone fine-tuned",
                "digits CNN classifies fixed test images"),
    Application("Language", "自然语言处理", (7, 10), "Transformer encoder or decoder, pretrained then adapted",
                "MiniLM sentiment and semantic search; seq2seq reversal"),
    Application("Speech", "语音识别", (5, 6, 7), "spectrogram CNN; encoder-decoder Transformer",
                "small CNN names synthetic vowels from spectrograms"),
    Application("Recommendation", "推荐系统", (9,), "matrix factorisation; two-tower retrieval",
                "matrix factorisation ranks unseen items"),
    Application("Medical imaging", "医学影像", (2, 5, 10), "CNN with transfer; calibrated classifier",
                "calibrated classifier on cell-nucleus features"),
    Application("Science", "科学发现", (7, 11), "attention over sequences and structures, at scale", None),
    Application("Generative media", "生成式媒体", (7, 8), "autoregressive Transformer; GAN; diffusion",
                "character GPT samples text"),
    Application("Autonomous driving", "自动驾驶", (5, 6, 11), "perception CNNs, sequence models, low-latency serving",
                None),
)

CHAPTER_SUMMARIES = {
    2: "Linear and logistic regression predict a number or a probability from a few numeric features.",
    5: "Convolutional networks slide small learned filters over an image to recognise what a picture shows.",
    6: "Recurrent networks read a sequence one step at a time and carry a memory of what came before.",
    7: "Transformers use attention to model language, predict the next word and map one sentence onto another.",
    8: "A generator and a discriminator compete so that the generator learns to produce realistic new images.",
    9: "Recommender systems learn user and item factors from ratings to suggest what a person will like next.",
    10: "A model pretrained on a large data set is reused and fine-tuned for a new task with few labels.",
    11: "Splitting training across many accelerators, saving memory, and serving a large model quickly.",
}

SEARCH_QUERIES = (
    ("Which products should the shop show this customer?", 9),
    ("Tell me whether an X-ray picture contains a fracture.", 5),
    ("Translate an English sentence into Chinese.", 7),
    ("We only have two hundred labelled examples; can we start from an existing network?", 10),
    ("Make synthetic photographs of faces that look real.", 8),
    ("The model does not fit in the memory of one GPU.", 11),
    ("Predict the probability of default from a handful of numeric features.", 2),
)


def chapters_of(name: str) -> tuple[int, ...]:
    """The chapters that implement the application called ``name`` (case-insensitive)."""
    for app in APPLICATIONS:
        if app.name.lower() == str(name).lower():
            return app.chapters
    raise ValueError(f"chapters_of: unknown application {name!r}; known: {[a.name for a in APPLICATIONS]}")


def chapter_doc(chapter) -> str:
    """The document name of a chapter of :data:`CHAPTERS`, for a ``{doc}`` link."""
    if not is_integer(chapter) or int(chapter) not in DOCS:
        raise ValueError(f"chapter_doc: chapter must be one of {sorted(DOCS)}, got {chapter!r}")
    return DOCS[int(chapter)]


__all__ = ["APPLICATIONS", "CHAPTERS", "CHAPTER_SUMMARIES", "DOCS", "SEARCH_QUERIES", "Application", "chapter_doc",
           "chapters_of"]
