"""Chapter 9's recommenders: the hand-written MF gradient against torch autograd and finite
differences, the ranking and rating metrics on cases checked by hand, and the data generator."""
import numpy as np
import pytest
import torch

from book.data.ratings import RatingSet, implicit_feedback, make_ratings
from book.gradcheck import numerical_gradient, rel_error
from book.models import recsys as rs


def _sample(seed=0, rank=4):
    rng = np.random.default_rng(seed)
    return rng.normal(), rng.normal(), rng.normal(size=rank), rng.normal(size=rank), 3.5, 4.0 + rng.normal()


def test_mf_gradient_matches_autograd_and_finite_differences():
    for seed in range(3):
        bu, bi, p, q, mu, r = _sample(seed)
        reg = 0.07
        grads = rs.mf_sample_grads(bu, bi, p, q, mu, r, reg)
        t = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (bu, bi, p, q)]
        r_hat = mu + t[0] + t[1] + t[2] @ t[3]
        loss = (r - r_hat) ** 2 + reg * (t[0] ** 2 + t[1] ** 2 + t[2] @ t[2] + t[3] @ t[3])
        loss.backward()
        assert abs(loss.item() - rs.mf_sample_loss(bu, bi, p, q, mu, r, reg)) < 1e-12
        for mine, theirs in zip(grads, t):
            assert rel_error(mine, theirs.grad.numpy()) < 1e-10
        theta = np.concatenate([[bu, bi], p, q])
        k = len(p)

        def f(x):
            return rs.mf_sample_loss(x[0], x[1], x[2:2 + k], x[2 + k:], mu, r, reg)

        numeric = numerical_gradient(f, theta)
        assert rel_error(np.concatenate([[grads[0], grads[1]], grads[2], grads[3]]), numeric) < 1e-7


def test_one_sgd_epoch_on_one_rating_is_one_torch_sgd_step():
    train = RatingSet(np.array([1]), np.array([2]), np.array([4.5]))
    model = rs.init_mf(3, 4, 3, mu=3.0, init_std=0.5, seed=1)
    model.bu[1], model.bi[2] = 0.2, -0.4
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True)
              for v in (model.bu[1], model.bi[2], model.P[1].copy(), model.Q[2].copy())]
    opt = torch.optim.SGD(params, lr=0.05)
    bu, bi, p, q = params
    loss = (4.5 - (3.0 + bu + bi + p @ q)) ** 2 + 0.1 * (bu ** 2 + bi ** 2 + p @ p + q @ q)
    loss.backward()
    opt.step()
    rs.mf_sgd_epoch(model, train, lr=0.05, reg=0.1, rng=np.random.default_rng(0))
    for mine, theirs in zip((model.bu[1], model.bi[2], model.P[1], model.Q[2]), params):
        assert rel_error(mine, theirs.detach().numpy()) < 1e-12


def test_rmse_and_recall_on_hand_checked_cases():
    assert rs.rmse(np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 2.0, 3.0, 2.0])) == pytest.approx(np.sqrt(5 / 4))
    scores = np.array([[0.9, 0.8, 0.1, 0.5, 0.3],
                       [0.1, 0.2, 0.3, 0.4, 0.5]])
    train = np.array([[True, False, False, False, False],
                      [False, False, False, False, True]])
    test = np.array([[False, False, True, True, False],
                     [False, False, False, False, False]])
    # user 0: item 0 is a training item, so the top 2 are items 1 and 3: one of two test items found
    assert rs.recall_at_k(scores, train, test, k=2) == pytest.approx(0.5)
    assert rs.recall_at_k(scores, train, test, k=3) == pytest.approx(0.5)
    assert rs.recall_at_k(scores, train, test, k=4) == pytest.approx(1.0)
    # a random order puts each test item in the top 2 of 4 candidates with probability 1/2
    assert rs.random_recall_at_k(train, test, k=2) == pytest.approx(0.5)
    rng = np.random.default_rng(0)
    monte_carlo = np.mean([rs.recall_at_k(rng.random(scores.shape), train, test, k=2) for _ in range(4000)])
    assert abs(monte_carlo - 0.5) < 0.03
    with pytest.raises(ValueError, match="recall_at_k"):
        rs.recall_at_k(scores, train, train, k=2)
    with pytest.raises(ValueError, match="rmse"):
        rs.rmse(np.zeros((2, 1)), np.zeros(2))


def test_biases_content_and_blend_recover_what_generated_them():
    users = np.repeat(np.arange(3), 4)
    items = np.tile(np.arange(4), 3)
    bu, bi = np.array([0.5, -0.5, 0.0]), np.array([1.0, 0.0, -1.0, 0.0])
    ratings = 3.0 + bu[users] + bi[items]
    mu, fbu, fbi = rs.fit_biases(RatingSet(users, items, ratings), 3, 4, reg=0.0, iters=50)
    assert np.allclose(mu + fbu[users] + fbi[items], ratings, atol=1e-8)
    F = np.random.default_rng(0).normal(size=(6, 2))
    w = np.array([[1.0, -2.0], [0.5, 0.5]])
    users = np.repeat(np.arange(2), 6)
    items = np.tile(np.arange(6), 2)
    ratings = 3 + np.sum(F[items] * w[users], axis=1) + users
    model = rs.ContentRidge(RatingSet(users, items, ratings), F, n_users=2, alpha=0.0)
    assert np.allclose(model.predict(users, items), ratings, atol=1e-10)
    a, b = np.random.default_rng(1).normal(size=(2, 50))
    weights = rs.fit_blend([a, b], 0.3 + 0.25 * a + 0.75 * b)
    assert np.allclose(weights, [0.3, 0.25, 0.75])
    assert np.allclose(rs.blend([a, b], weights), 0.3 + 0.25 * a + 0.75 * b)


def test_item_knn_similarity_is_a_cosine_of_centred_columns():
    users = np.array([0, 0, 1, 1, 2, 2])
    items = np.array([0, 1, 0, 1, 0, 2])
    ratings = np.array([5.0, 4.0, 1.0, 2.0, 3.0, 3.0])
    knn = rs.ItemKNN(RatingSet(users, items, ratings), 3, 3, reg=0.0, shrink=0.0)
    res = knn.residual
    expected = res[:, 0] @ res[:, 1] / (np.linalg.norm(res[:, 0]) * np.linalg.norm(res[:, 1]))
    assert knn.similarity[0, 1] == pytest.approx(expected) and knn.similarity[1, 0] == pytest.approx(expected)
    assert knn.similarity[0, 0] == 0.0
    # user 2 rated item 0 only: item 1 is predicted from item 0's centred rating if they are similar
    pred = knn.predict(np.array([2]), np.array([1]), k=5)[0]
    base = knn.mu + knn.bu[2] + knn.bi[1]
    assert pred == pytest.approx(base + (res[2, 0] if expected > 0 else 0.0))


def test_make_ratings_splits_and_truth():
    d = make_ratings(seed=3)
    seen = set()
    for part in (d.train, d.val, d.test, d.cold):
        pairs = set(zip(part.users.tolist(), part.items.tolist()))
        assert not pairs & seen
        seen |= pairs
    assert not np.isin(d.train.items, d.cold_items).any() and np.isin(d.cold.items, d.cold_items).all()
    assert abs(len(seen) / (d.n_users * d.n_items) - 0.2) < 0.02
    truth = d.true_scores()
    noise = d.train.ratings - truth[d.train.users, d.train.items]
    assert abs(noise.std() - 0.3) < 0.02
    assert d.item_features.shape == (150, 12) and np.allclose(d.item_features.std(0), 1)
    with pytest.raises(ValueError, match="make_ratings: fractions"):
        make_ratings(fractions=(0.5, 0.5, 0.5))
    train, test = implicit_feedback(d, per_user=10, n_test=3, seed=0)
    assert (train.sum(1) == 7).all() and (test.sum(1) == 3).all() and not (train & test).any()


def test_two_tower_scores_and_in_batch_loss():
    torch.manual_seed(0)
    F = np.random.default_rng(0).normal(size=(7, 3))
    model = rs.TwoTower(5, F, dim=4, hidden=6)
    users, items = torch.tensor([0, 3, 4]), torch.tensor([6, 1, 2])
    all_scores = model.all_scores()
    assert all_scores.shape == (5, 7)
    assert np.allclose(model(users, items).detach().numpy(), all_scores[[0, 3, 4], [6, 1, 2]], atol=1e-6)
    u, v = model.user_vectors(users), model.item_vectors(items)
    log_q = torch.tensor([-1.0, -2.0, -0.5])
    logits = u @ v.T / 0.5 - log_q
    manual = -(logits.diag() - torch.logsumexp(logits, dim=1)).mean()
    assert torch.allclose(rs.in_batch_softmax_loss(u, v, log_q, temperature=0.5), manual)
    train = np.zeros((5, 7), dtype=bool)
    train[np.arange(5), np.arange(5)] = True
    losses = rs.train_two_tower(model, train, epochs=30, batch_size=5, progress=False)
    assert losses[-1] < losses[0]
    with pytest.raises(ValueError, match="train_two_tower"):
        rs.train_two_tower(model, train[:, :3], epochs=1, progress=False)


def test_holdout_interactions_moves_n_per_user():
    from book.data.ratings import holdout_interactions

    mask = np.zeros((3, 6), dtype=bool)
    mask[0, :5] = True
    mask[1, :2] = True
    rest, held = holdout_interactions(mask, n_holdout=3, seed=0)
    assert held.sum(1).tolist() == [3, 1, 0] and rest.sum(1).tolist() == [2, 1, 0]
    assert not (rest & held).any() and ((rest | held) == mask).all()
