"""book.models.seq2seq and book.data.sequence_tasks: the GRU encoder–decoder with dot attention on reversal."""
import numpy as np
import pytest
import torch

from book.data.sequence_tasks import BOS, DIGIT0, EOS, PAD, VOCAB_SIZE, decode_tokens, reversal_task
from book.models.seq2seq import (AttentionDecoder, Encoder, Seq2Seq, anti_diagonal_fraction, dot_attention,
                                 sequence_accuracy, train_seq2seq)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


def tensors(data):
    return [torch.as_tensor(a) for a in (data.source, data.decoder_input, data.target)]


def test_reversal_task_reverses_pads_and_repeats():
    data = reversal_task(50, length=6, min_length=2, seed=3)
    assert data.source.shape == (50, 6) and data.target.shape == data.decoder_input.shape == (50, 7)
    for src, k, dec, tgt in zip(data.source, data.lengths, data.decoder_input, data.target):
        assert 2 <= k <= 6 and np.all(src[:k] >= DIGIT0) and np.all(src[k:] == PAD)
        assert np.array_equal(tgt[:k], src[:k][::-1]) and tgt[k] == EOS and np.all(tgt[k + 1:] == PAD)
        assert dec[0] == BOS and np.array_equal(dec[1:k + 1], tgt[:k])
    assert len(set(data.lengths.tolist())) > 1
    again = reversal_task(50, length=6, min_length=2, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(data, again))
    assert not np.array_equal(reversal_task(50, seed=4).source, reversal_task(50, seed=3).source)
    assert decode_tokens([BOS, DIGIT0 + 7, EOS, PAD]) == ["<s>", "7", "</s>", "<pad>"]
    with pytest.raises(ValueError, match="min_length must be at most"):
        reversal_task(5, length=3, min_length=4)
    with pytest.raises(ValueError, match="decode_tokens"):
        decode_tokens([VOCAB_SIZE])


def test_dot_attention_equals_torch_sdpa_with_unit_scale_and_masks_exactly():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(3, 4, 5, generator=g, dtype=torch.float64), torch.randn(3, 6, 5, generator=g, dtype=torch.float64)
    mask = torch.arange(6) < torch.tensor([6, 3, 1])[:, None]
    context, weights = dot_attention(q, k, mask)
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, k, attn_mask=mask[:, None, :], scale=1.0)
    assert (context - expected).abs().max() < 1e-12
    assert torch.allclose(weights.sum(-1), torch.ones(3, 4, dtype=torch.float64), atol=1e-12)
    assert bool((weights[~mask[:, None, :].expand_as(weights)] == 0).all())   # exactly 0, not small
    with pytest.raises(ValueError, match=r"query \(N, T, H\) and keys \(N, S, H\)"):
        dot_attention(q, k[:, :, :4])
    with pytest.raises(ValueError, match=r"mask \(N, S\)"):
        dot_attention(q, k, mask[:, :5])


def test_shapes_weights_sum_to_one_and_padding_gets_none():
    data = reversal_task(5, length=6, min_length=2, seed=0)
    source, decoder_input, target = tensors(data)
    model = Seq2Seq(VOCAB_SIZE, embed_dim=8, hidden_size=16, seed=0)
    logits, weights = model(source, decoder_input)
    assert logits.shape == (5, 7, VOCAB_SIZE) and weights.shape == (5, 7, 6)
    assert torch.allclose(weights.sum(-1), torch.ones(5, 7), atol=1e-6)
    padded = (source == PAD)[:, None, :].expand_as(weights)
    assert bool(padded.any()) and bool((weights[padded] == 0).all())
    assert model.loss(source, decoder_input, target).ndim == 0


def test_padding_does_not_change_the_encoding():
    model = Seq2Seq(VOCAB_SIZE, embed_dim=8, hidden_size=16, seed=1).eval()
    short = torch.tensor([[5, 9, 4]])
    padded = torch.tensor([[5, 9, 4, PAD, PAD], [6, 7, 8, 9, 10]])
    out_short, h_short, _ = model.encoder(short)
    out_padded, h_padded, mask = model.encoder(padded)
    assert torch.allclose(h_padded[:, 0], h_short[:, 0], atol=1e-6)
    assert torch.allclose(out_padded[0, :3], out_short[0], atol=1e-6)
    assert mask.tolist()[0] == [True, True, True, False, False]
    # ... so the decoder's logits agree as well
    dec = torch.tensor([[BOS, 6, 7]])
    a, _ = model(short, dec)
    b, _ = model(padded[:1], dec)
    assert torch.allclose(a, b, atol=1e-5)
    with pytest.raises(ValueError, match="padding only at its end"):
        model.encoder(torch.tensor([[5, PAD, 4]]))
    with pytest.raises(ValueError, match="at least one token"):
        model.encoder(torch.tensor([[PAD, PAD]]))


def test_teacher_forced_pass_equals_step_by_step_decoding():
    data = reversal_task(4, length=5, seed=2)
    source, decoder_input, _ = tensors(data)
    model = Seq2Seq(VOCAB_SIZE, embed_dim=8, hidden_size=16, seed=2).eval()
    logits, weights = model(source, decoder_input)
    memory, hidden, mask = model.encoder(source)
    for t in range(decoder_input.shape[1]):
        step_logits, hidden, step_weights = model.decoder.step(decoder_input[:, t], hidden, memory, mask)
        assert torch.allclose(step_logits, logits[:, t], atol=1e-5)
        assert torch.allclose(step_weights, weights[:, t], atol=1e-6)
    with pytest.raises(ValueError, match=r"shape \(N,\)"):
        model.decoder.step(decoder_input[:, :2], hidden, memory, mask)


def test_greedy_decoding_stops_at_the_end_token_and_pads_after_it():
    model = Seq2Seq(VOCAB_SIZE, embed_dim=8, hidden_size=16, seed=0)
    source = torch.as_tensor(reversal_task(3, length=4, seed=0).source)
    with torch.no_grad():  # make EOS the only choice: decoding must stop after one step
        model.decoder.head.bias.fill_(-1e4)
        model.decoder.head.bias[EOS] = 1e4
    tokens, weights = model.greedy_decode(source, 9, BOS, EOS)
    assert tokens.tolist() == [[EOS]] * 3 and weights.shape == (3, 1, 4)
    assert model.training  # restored
    with torch.no_grad():  # never EOS: it runs max_len steps
        model.decoder.head.bias[EOS] = -1e4
        model.decoder.head.bias[DIGIT0] = 1e4
    tokens, weights = model.greedy_decode(source, 6, BOS, EOS)
    assert tokens.shape == (3, 6) and bool((tokens == DIGIT0).all())
    assert torch.allclose(weights.sum(-1), torch.ones(3, 6), atol=1e-6)
    with torch.no_grad():  # row 0 ends at once, the others go on: row 0 is padded, its weights zeroed
        model.decoder.head.bias.zero_()
        model.decoder.head.weight.zero_()
        model.decoder.head.bias[DIGIT0] = 1.0
    model.decoder.head.register_forward_hook(lambda m, i, out: out + 1e4 * torch.nn.functional.one_hot(
        torch.tensor([EOS, DIGIT0, DIGIT0])[: out.shape[0]], VOCAB_SIZE).view(out.shape[0], *[1] * (out.ndim - 2), -1))
    tokens, weights = model.greedy_decode(source, 4, BOS, EOS)
    assert tokens[0].tolist() == [EOS, PAD, PAD, PAD] and bool((weights[0, 1:] == 0).all())
    assert tokens[1].tolist() == [DIGIT0] * 4
    with pytest.raises(ValueError, match="eos_id must be < vocab_size"):
        model.greedy_decode(source, 4, BOS, VOCAB_SIZE)


def test_teacher_forced_loss_decreases_quickly():
    data = reversal_task(500, length=4, seed=0)
    model = Seq2Seq(VOCAB_SIZE, embed_dim=16, hidden_size=32, seed=0)
    losses = train_seq2seq(model, data, steps=30, batch_size=32, lr=1e-2, seed=0)
    assert len(losses) == 30
    assert losses[0] == pytest.approx(np.log(VOCAB_SIZE), rel=0.1)  # a near-uniform guess at first
    assert np.mean(losses[-5:]) < 0.6 * losses[0]   # 6 seeds: ratio 0.48-0.52


def test_a_small_reversal_task_is_learned_and_attention_runs_on_the_anti_diagonal():
    train, test = reversal_task(2000, length=4, seed=10), reversal_task(300, length=4, seed=11)
    model = Seq2Seq(VOCAB_SIZE, embed_dim=16, hidden_size=32, seed=0)
    train_seq2seq(model, train, steps=150, batch_size=32, lr=1e-2, seed=0)
    exact, token = sequence_accuracy(model, test, bos_id=BOS, eos_id=EOS)
    assert exact >= 0.85 and token >= exact   # 6 seeds: 0.983-1.000 exact, 0.950-0.990 on the anti-diagonal
    _, weights = model.greedy_decode(torch.as_tensor(test.source), 5, BOS, EOS)
    assert anti_diagonal_fraction(weights, test.lengths) >= 0.85
    assert weights[:, :4].mean(0).argmax(-1).tolist() == [3, 2, 1, 0]  # the mean map: exactly the anti-diagonal


def test_anti_diagonal_fraction_counts_peaks():
    perfect = np.stack([np.eye(4)[::-1], np.eye(4)[::-1]])
    perfect = np.concatenate([perfect, np.zeros((2, 1, 4))], axis=1)   # the end-token step is not counted
    assert anti_diagonal_fraction(perfect, [4, 4]) == 1.0
    assert anti_diagonal_fraction(np.roll(perfect, 1, axis=2), [4, 4]) == 0.0
    short = np.zeros((1, 3, 4))
    short[0, [0, 1], [1, 0]] = 1  # length 2: steps 0 and 1 should peak at positions 1 and 0
    assert anti_diagonal_fraction(short, [2]) == 1.0
    with pytest.raises(ValueError, match="lengths must lie in"):
        anti_diagonal_fraction(short, [5])


def test_bad_arguments():
    with pytest.raises(ValueError, match="Encoder: hidden_size"):
        Encoder(5, 4, 0)
    with pytest.raises(ValueError, match="AttentionDecoder: vocab_size"):
        AttentionDecoder(True, 4, 4)
    model = Seq2Seq(VOCAB_SIZE, embed_dim=4, hidden_size=4)
    with pytest.raises(ValueError, match=r"source as integer ids of shape \(N, T\)"):
        model(torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"ids in \[0, 13\)"):
        model(torch.full((1, 3), VOCAB_SIZE), torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="train_seq2seq: steps"):
        train_seq2seq(model, reversal_task(4), steps=0)
