"""Tests of book.models.transfer, book.data.sentiment and book.plotting.transfer: the data split and
few-shot draw, the three arms (a frozen backbone stays bit-identical and its optimizer holds the head
only; fine-tuning uses two learning rates), the Hugging Face fine-tuning loop on a tiny random BERT,
the sentence templates, and the figures."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from book.data.sentiment import HELD_OUT_ADJECTIVES, sentiment_sentences, sentiment_splits  # noqa: E402
from book.models.transfer import (DigitsNet, accuracy, bert_classifier, classifier_accuracy,  # noqa: E402
                                  digits_transfer_data,
                                  few_labels, finetune_sequence_classifier, make_arm, pretrain, run_arm,
                                  train_full_batch)
from book.plotting import missing_glyphs  # noqa: E402
from book.plotting.transfer import lora_figure, transfer_arms_figure  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


@pytest.fixture(scope="module")
def data():
    return digits_transfer_data(n_source=900, noise=0.2, seed=0)


def test_split_sizes_noise_and_class_shift(data):
    assert data.X_source.shape == (900, 1, 8, 8) and data.X_target.shape == (897, 1, 8, 8)
    assert data.X_source.min() >= 0 and data.X_source.max() <= 1
    assert data.X_target.min() < -0.2            # the target carries noise
    shifted = digits_transfer_data(noise=0.0, source_classes=range(5))
    assert set(shifted.y_source.tolist()) == set(range(5)) == set(shifted.y_target.tolist())
    with pytest.raises(ValueError, match="n_source"):
        digits_transfer_data(n_source=1797)
    with pytest.raises(ValueError, match="proper subset"):
        digits_transfer_data(source_classes=range(10))


def test_few_labels_draws_per_class_and_partitions(data):
    labelled, rest = few_labels(data.y_target, 3, seed=1)
    assert len(labelled) == 30 and torch.bincount(data.y_target[labelled]).tolist() == [3] * 10
    assert len(labelled) + len(rest) == len(data.y_target)
    assert not set(labelled.tolist()) & set(rest.tolist())
    assert torch.equal(few_labels(data.y_target, 3, seed=1)[0], labelled)


def test_digits_net_shapes_and_seed():
    x = torch.rand(4, 1, 8, 8)
    assert DigitsNet(seed=0)(x).shape == (4, 10)
    assert torch.equal(DigitsNet(seed=3)(x), DigitsNet(seed=3)(x))
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\)"):
        DigitsNet()(torch.rand(4, 64))


def test_frozen_arm_keeps_backbone_bit_identical_and_trains_the_head(data):
    source = pretrain(data.X_source[:200], data.y_source[:200], epochs=1, seed=0)
    model, opt = make_arm("frozen", source, seed=0)
    assert {id(p) for g in opt.param_groups for p in g["params"]} == {id(p) for p in model.head.parameters()}
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    head_before = model.head.weight.clone()
    labelled, _ = few_labels(data.y_target, 1, seed=0)
    losses = train_full_batch(model, opt, data.X_target[labelled], data.y_target[labelled], 20)
    assert all(torch.equal(before[k], v) for k, v in model.backbone.state_dict().items())
    assert not model.backbone.training and not torch.equal(head_before, model.head.weight)
    assert losses[-1] < losses[0]


def test_finetune_arm_has_two_learning_rates_and_copies_the_backbone(data):
    source = DigitsNet(seed=5)
    model, opt = make_arm("finetune", source, seed=0, lr_backbone=1e-4, lr_head=1e-2)
    assert [g["lr"] for g in opt.param_groups] == [1e-4, 1e-2]
    for a, b in zip(model.backbone.parameters(), source.backbone.parameters()):
        assert torch.equal(a, b) and a is not b
    assert not torch.equal(model.head.weight, source.head.weight)   # a new head
    with pytest.raises(ValueError, match="pretrained"):
        make_arm("frozen", None)
    with pytest.raises(ValueError, match="arm"):
        make_arm("linear-probe", source)


def test_run_arm_returns_an_accuracy(data):
    acc = run_arm("scratch", data, None, 1, seed=0, steps=5)
    assert 0.0 <= acc <= 1.0
    assert accuracy(DigitsNet(seed=0), data.X_target[:10], data.y_target[:10]) <= 1.0


def test_sentences_held_out_adjectives_are_unseen():
    train, test = sentiment_splits()
    assert len(train.texts) == 320 and len(test.texts) == 192
    assert sum(train.labels) == 160 and sum(test.labels) == 96
    words = {w for t in train.texts for w in t.strip(".").replace(",", "").split()}
    assert not words & {a for side in HELD_OUT_ADJECTIVES for a in side}
    with pytest.raises(ValueError, match="template"):
        sentiment_sentences(["good"], ["bad"], templates=["{s} only"])


def test_finetune_sequence_classifier_on_a_tiny_bert():
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=16, num_labels=2)
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 30, (32, 6), generator=g)
    labels = (ids[:, 0] > 17).long()
    encoded = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    losses = finetune_sequence_classifier(model, encoded, labels, epochs=15, batch_size=8, lr=3e-3, seed=0)
    assert len(losses) == 60 and not model.training
    assert sum(losses[-8:]) < sum(losses[:8])
    assert classifier_accuracy(model, encoded, labels) > 0.8
    with pytest.raises(ValueError, match="one entry per sentence"):
        finetune_sequence_classifier(model, encoded, labels[:5])


def test_bert_classifier_loads_the_folder_or_draws_random_weights(tmp_path):
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=16)
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(tmp_path)
    saved = transformers.BertModel.from_pretrained(tmp_path).state_dict()
    pre, pre_again = bert_classifier(tmp_path, seed=1), bert_classifier(tmp_path, seed=1)
    rand = bert_classifier(tmp_path, pretrained=False, num_labels=3, seed=1, freeze_word_embeddings=False)
    encoder = "encoder.layer.0.attention.self.query.weight"
    assert torch.equal(pre.bert.state_dict()[encoder], saved[encoder])         # pretrained weights loaded
    assert not torch.equal(rand.bert.state_dict()[encoder], saved[encoder])    # random ones drawn
    assert torch.equal(pre.classifier.weight, pre_again.classifier.weight)     # the new head repeats with the seed
    assert pre.classifier.out_features == 2 and rand.classifier.out_features == 3
    assert not pre.bert.embeddings.word_embeddings.weight.requires_grad
    assert rand.bert.embeddings.word_embeddings.weight.requires_grad
    with pytest.raises(ValueError, match="num_labels"):
        bert_classifier(tmp_path, num_labels=0)


def test_figures_render():
    for fig in (transfer_arms_figure(), lora_figure(384, 384, 8)):
        assert missing_glyphs(fig) == set()
        plt.close(fig)
    texts = [t.get_text() for t in lora_figure(100, 50, 4).axes[0].texts]
    assert any("600 trainable" in t for t in texts)
    with pytest.raises(ValueError, match="rank"):
        lora_figure(10, 10, 11)
    plt.close("all")
