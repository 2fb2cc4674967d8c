"""book.data.mlm: BERT's 15 % selection and its 80/10/10 split, measured over 100k tokens."""
import pytest
import torch

from book.data.mlm import IGNORE_INDEX, mask_tokens

VOCAB, MASK, CLS, SEP, PAD = 1000, 3, 1, 2, 0
SPECIAL = (PAD, CLS, SEP, MASK)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


def batch(seed=0, rows=100, cols=1000):
    """Ordinary ids in [4, VOCAB), a [CLS] first and a [SEP] last in every row, and some padding."""
    ids = torch.randint(4, VOCAB, (rows, cols), generator=torch.Generator().manual_seed(seed))
    ids[:, 0], ids[:, -1] = CLS, SEP
    ids[::7, -50:] = PAD
    return ids


def corrupt(ids, seed=1, **kw):
    return mask_tokens(ids, vocab_size=VOCAB, mask_token_id=MASK, special_ids=SPECIAL,
                       generator=torch.Generator().manual_seed(seed), **kw)


def test_statistics_over_100k_tokens_are_bert_s():
    ids = batch()
    corrupted, labels = corrupt(ids)
    special = torch.isin(ids, torch.tensor(SPECIAL))
    selected = labels != IGNORE_INDEX
    ordinary = int((~special).sum())
    assert ordinary > 95_000
    rate = int(selected.sum()) / ordinary
    assert abs(rate - 0.15) < 0.005  # the standard error over ~97k tokens is 0.0011
    n_sel = int(selected.sum())
    masked = int((corrupted[selected] == MASK).sum()) / n_sel
    kept = int((corrupted[selected] == ids[selected]).sum()) / n_sel
    randomised = 1 - masked - kept
    # a random draw lands on the original with probability 1/VOCAB: counted as kept
    assert abs(masked - 0.8) < 0.02
    assert abs(randomised - 0.1 * (1 - 1 / VOCAB)) < 0.02
    assert abs(kept - (0.1 + 0.1 / VOCAB)) < 0.02
    # random replacements come from the whole vocabulary
    assert int(corrupted[selected & (corrupted != MASK) & (corrupted != ids)].max()) > VOCAB - 20


def test_special_tokens_are_never_selected_and_labels_are_the_originals():
    ids = batch(seed=3)
    corrupted, labels = corrupt(ids, seed=4, mlm_probability=0.9)
    special = torch.isin(ids, torch.tensor(SPECIAL))
    selected = labels != IGNORE_INDEX
    assert not bool((selected & special).any())
    assert torch.equal(corrupted[special], ids[special])            # specials untouched
    assert torch.equal(labels[selected], ids[selected])              # labels: the originals, exactly
    assert torch.equal(corrupted[~selected], ids[~selected])         # unselected: unchanged
    assert bool((labels[~selected] == IGNORE_INDEX).all())
    assert abs(int(selected.sum()) / int((~special).sum()) - 0.9) < 0.01


def test_seeded_reproducibility_and_input_untouched():
    ids = batch(rows=20)
    copy = ids.clone()
    a, la = corrupt(ids, seed=5)
    b, lb = corrupt(ids, seed=5)
    c, _ = corrupt(ids, seed=6)
    assert torch.equal(a, b) and torch.equal(la, lb) and not torch.equal(a, c)
    assert torch.equal(ids, copy)
    assert a.shape == ids.shape and a.dtype == ids.dtype and la.dtype == ids.dtype


def test_int32_and_one_dimensional_input():
    ids = torch.arange(4, 504, dtype=torch.int32)
    corrupted, labels = mask_tokens(ids, vocab_size=VOCAB, mask_token_id=MASK, generator=torch.Generator().manual_seed(0))
    assert corrupted.shape == labels.shape == (500,) and corrupted.dtype == torch.int32
    assert 0 < int((labels != IGNORE_INDEX).sum()) < 200


@pytest.mark.parametrize("kwargs, match", [
    (dict(mlm_probability=0.0), "mlm_probability"),
    (dict(mlm_probability=1.5), "mlm_probability"),
    (dict(mask_token_id=VOCAB), "mask_token_id and special_ids"),
    (dict(special_ids=(VOCAB + 1,)), "mask_token_id and special_ids"),
    (dict(vocab_size=0), "vocab_size"),
    (dict(vocab_size=10), r"input_ids must lie in \[0, 10\)"),
])
def test_bad_arguments(kwargs, match):
    args = dict(vocab_size=VOCAB, mask_token_id=MASK)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        mask_tokens(batch(rows=2, cols=20), **args)
    with pytest.raises(ValueError, match="integer tensor"):
        mask_tokens(batch(rows=2).float(), vocab_size=VOCAB, mask_token_id=MASK)
