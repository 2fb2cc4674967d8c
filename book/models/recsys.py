"""Chapter 9's recommenders: matrix factorisation trained by SGD, item-item
collaborative filtering, content-based filtering, a blend of the two, a
two-tower retrieval model in PyTorch, and the metrics that judge them.

Explicit feedback comes as :class:`book.data.ratings.RatingSet` (parallel
arrays of users, items and ratings); implicit feedback as boolean matrices of
shape (n_users, n_items). Everything but :class:`TwoTower`,
:func:`in_batch_softmax_loss` and :func:`train_two_tower` is NumPy.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from book.checks import non_negative, non_negative_int, positive, positive_int


def _check_set(data, n_users: int, n_items: int, owner: str):
    users = np.asarray(data.users)
    items = np.asarray(data.items)
    ratings = np.asarray(data.ratings, dtype=np.float64)
    if not (users.ndim == items.ndim == ratings.ndim == 1 and len(users) == len(items) == len(ratings)):
        raise ValueError(f"{owner}: users, items and ratings must be 1-D arrays of one length (N,), "
                         f"got shapes {users.shape}, {items.shape}, {ratings.shape}")
    if len(users) and (users.min() < 0 or users.max() >= n_users or items.min() < 0 or items.max() >= n_items):
        raise ValueError(f"{owner}: user ids must be in [0, {n_users}) and item ids in [0, {n_items})")
    return users, items, ratings


# ---------------------------------------------------------------- metrics

def rmse(predictions, ratings) -> float:
    """Root mean squared error ``sqrt(mean((prediction - rating)^2))`` of two 1-D arrays of one shape."""
    p = np.asarray(predictions, dtype=np.float64)
    r = np.asarray(ratings, dtype=np.float64)
    if p.shape != r.shape or p.ndim != 1 or p.size == 0:
        raise ValueError(f"rmse expects two non-empty 1-D arrays of one shape (N,), got {p.shape} and {r.shape}")
    return float(np.sqrt(np.mean((p - r) ** 2)))


def _check_masks(train_mask, test_mask, owner: str, scores=None):
    train_mask = np.asarray(train_mask, dtype=bool)
    test_mask = np.asarray(test_mask, dtype=bool)
    if train_mask.ndim != 2 or train_mask.shape != test_mask.shape:
        raise ValueError(f"{owner}: train_mask and test_mask must be (n_users, n_items) of one shape, "
                         f"got {train_mask.shape} and {test_mask.shape}")
    if scores is not None and np.shape(scores) != train_mask.shape:
        raise ValueError(f"{owner}: scores must have the masks' shape {train_mask.shape} (n_users, n_items), "
                         f"got {np.shape(scores)}")
    if np.any(train_mask & test_mask):
        raise ValueError(f"{owner}: an item cannot be both a training and a test item of one user")
    return train_mask, test_mask


def recall_at_k(scores, train_mask, test_mask, k: int = 10) -> float:
    """Mean over users with test items of (test items among the top ``k``) / (test items).

    ``scores`` (n_users, n_items) ranks each user's items, highest first; the
    user's training items are left out of the ranking (they are known already),
    so the candidates are every other item.
    """
    k = positive_int(k, "k", owner="recall_at_k")
    train_mask, test_mask = _check_masks(train_mask, test_mask, "recall_at_k", scores)
    s = np.where(train_mask, -np.inf, np.asarray(scores, dtype=np.float64))
    top = np.argsort(-s, axis=1, kind="stable")[:, :k]
    hits = np.take_along_axis(test_mask, top, axis=1).sum(1)
    n_test = test_mask.sum(1)
    users = n_test > 0
    return float(np.mean(hits[users] / n_test[users]))


def random_recall_at_k(train_mask, test_mask, k: int = 10) -> float:
    """The expected :func:`recall_at_k` of a uniformly random ranking: ``min(k, c_u) / c_u`` averaged over users.

    ``c_u`` counts user ``u``'s candidates (items not in training); each test item
    lands in a random top ``k`` with probability ``min(k, c_u) / c_u``.
    """
    k = positive_int(k, "k", owner="random_recall_at_k")
    train_mask, test_mask = _check_masks(train_mask, test_mask, "random_recall_at_k")
    candidates = (~train_mask).sum(1)
    users = test_mask.sum(1) > 0
    return float(np.mean(np.minimum(k, candidates[users]) / candidates[users]))


# ---------------------------------------------------------------- matrix factorisation

@dataclass
class MF:
    """Matrix factorisation with biases: ``r_hat = mu + bu[u] + bi[i] + P[u] . Q[i]``."""

    mu: float
    bu: np.ndarray
    bi: np.ndarray
    P: np.ndarray
    Q: np.ndarray

    def predict(self, users, items) -> np.ndarray:
        """Predicted ratings of the pairs ``(users[k], items[k])``."""
        users, items = np.asarray(users), np.asarray(items)
        return self.mu + self.bu[users] + self.bi[items] + np.sum(self.P[users] * self.Q[items], axis=1)

    def scores(self) -> np.ndarray:
        """Every user's predicted rating of every item, (n_users, n_items)."""
        return self.mu + self.bu[:, None] + self.bi[None, :] + self.P @ self.Q.T


def init_mf(n_users: int, n_items: int, rank: int, mu: float, init_std: float = 0.1, seed=0) -> MF:
    """Zero biases and small random factors (N(0, ``init_std``^2)); ``mu`` is fixed, usually the training mean."""
    owner = "init_mf"
    n_users, n_items = positive_int(n_users, "n_users", owner), positive_int(n_items, "n_items", owner)
    rank = positive_int(rank, "rank", owner)
    init_std = positive(init_std, "init_std", owner)
    rng = np.random.default_rng(seed)
    return MF(float(mu), np.zeros(n_users), np.zeros(n_items),
              rng.normal(0.0, init_std, (n_users, rank)), rng.normal(0.0, init_std, (n_items, rank)))


def mf_sample_loss(bu: float, bi: float, p: np.ndarray, q: np.ndarray, mu: float, r: float, reg: float) -> float:
    """One rating's loss: ``(r - r_hat)^2 + reg * (bu^2 + bi^2 + |p|^2 + |q|^2)``."""
    e = r - (mu + bu + bi + p @ q)
    return float(e * e + reg * (bu * bu + bi * bi + p @ p + q @ q))


def mf_sample_grads(bu: float, bi: float, p: np.ndarray, q: np.ndarray, mu: float, r: float, reg: float):
    """Gradient of :func:`mf_sample_loss` by ``(bu, bi, p, q)``, derived by hand.

    With ``e = r - r_hat``: d/dbu = -2e + 2 reg bu, d/dbi = -2e + 2 reg bi,
    d/dp = -2e q + 2 reg p, d/dq = -2e p + 2 reg q.
    """
    e = r - (mu + bu + bi + p @ q)
    return 2 * (reg * bu - e), 2 * (reg * bi - e), 2 * (reg * p - e * q), 2 * (reg * q - e * p)


def mf_sgd_epoch(model: MF, train, lr: float, reg: float, rng) -> None:
    """One pass of per-sample SGD over ``train`` in a random order, updating ``model`` in place."""
    users, items, ratings = _check_set(train, len(model.bu), len(model.bi), "mf_sgd_epoch")
    lr, reg = positive(lr, "lr", "mf_sgd_epoch"), non_negative(reg, "reg", "mf_sgd_epoch")
    bu, bi, P, Q, mu = model.bu, model.bi, model.P, model.Q, model.mu
    order = rng.permutation(len(ratings))
    for u, i, r in zip(users[order].tolist(), items[order].tolist(), ratings[order].tolist()):
        p, q = P[u], Q[i]                   # views: the updates below write into P and Q
        g_bu, g_bi, g_p, g_q = mf_sample_grads(bu[u], bi[i], p, q, mu, r, reg)
        bu[u] -= lr * g_bu
        bi[i] -= lr * g_bi
        p -= lr * g_p                       # g_q was computed from the old p: both factors move together
        q -= lr * g_q


def fit_mf(train, n_users: int, n_items: int, rank: int = 5, reg: float = 0.03, lr: float = 0.02,
           epochs: int = 25, val=None, keep_best: bool = False, seed=0, progress: bool = False,
           desc: str = "MF (SGD)"):
    """Train :class:`MF` by per-sample SGD on ``train``; ``mu`` is the training mean.

    Returns the model and its history: training RMSE (and validation RMSE if
    ``val`` is given) after every epoch. With ``keep_best`` (needs ``val``) the
    model returned is the one of the epoch with the lowest validation RMSE:
    the number of epochs is chosen on validation data (early stopping).
    """
    from book.training.loop import train_loop

    epochs = positive_int(epochs, "epochs", owner="fit_mf")
    if keep_best and val is None:
        raise ValueError("fit_mf: keep_best needs validation ratings (val)")
    _check_set(train, n_users, n_items, "fit_mf")
    model = init_mf(n_users, n_items, rank, float(np.mean(train.ratings)), seed=seed)
    rng = np.random.default_rng(seed)
    best = {"val_rmse": np.inf, "model": None}

    def step(_epoch):
        mf_sgd_epoch(model, train, lr, reg, rng)
        out = {"train_rmse": rmse(model.predict(train.users, train.items), train.ratings)}
        if val is not None:
            out["val_rmse"] = rmse(model.predict(val.users, val.items), val.ratings)
            if keep_best and out["val_rmse"] < best["val_rmse"]:
                best.update(val_rmse=out["val_rmse"], model=copy.deepcopy(model))
        return out

    history = train_loop(step, epochs, desc=desc, progress=progress)
    return (best["model"] if keep_best else model), history


def fit_biases(train, n_users: int, n_items: int, reg: float = 5.0, iters: int = 10):
    """The baseline predictor ``mu + bu + bi``, fitted by alternating regularised means.

    Each item bias is ``sum(r - mu - bu) / (reg + count)``, then each user bias
    likewise; ``reg`` shrinks the biases of rarely rated items and users to 0.
    Returns ``(mu, bu, bi)``.
    """
    users, items, r = _check_set(train, n_users, n_items, "fit_biases")
    reg = non_negative(reg, "reg", "fit_biases")
    iters = positive_int(iters, "iters", "fit_biases")
    mu = float(r.mean())
    bu, bi = np.zeros(n_users), np.zeros(n_items)
    n_i = np.bincount(items, minlength=n_items)
    n_u = np.bincount(users, minlength=n_users)
    for _ in range(iters):
        bi = np.bincount(items, r - mu - bu[users], minlength=n_items) / (reg + n_i)
        bu = np.bincount(users, r - mu - bi[items], minlength=n_users) / (reg + n_u)
    return mu, bu, bi


# ---------------------------------------------------------------- item-item collaborative filtering

class ItemKNN:
    """Item-item collaborative filtering on ratings centred by the baseline ``mu + bu + bi``.

    The similarity of items ``i`` and ``j`` is the cosine of their columns of
    centred ratings (unrated entries count as 0), shrunk towards 0 when few
    users rated both: ``cos * n_ij / (n_ij + shrink)``. A rating is predicted as
    the baseline plus the similarity-weighted mean of the user's centred ratings
    of the ``k`` items most similar to the target among those the user rated
    (with positive similarity).
    """

    def __init__(self, train, n_users: int, n_items: int, reg: float = 5.0, shrink: float = 10.0):
        users, items, r = _check_set(train, n_users, n_items, "ItemKNN")
        shrink = non_negative(shrink, "shrink", "ItemKNN")
        self.mu, self.bu, self.bi = fit_biases(train, n_users, n_items, reg)
        self.rated = np.zeros((n_users, n_items), dtype=bool)
        self.rated[users, items] = True
        self.residual = np.zeros((n_users, n_items))
        self.residual[users, items] = r - (self.mu + self.bu[users] + self.bi[items])
        norms = np.linalg.norm(self.residual, axis=0)
        cos = (self.residual.T @ self.residual) / np.maximum(np.outer(norms, norms), 1e-12)
        both = self.rated.T.astype(np.float64) @ self.rated.astype(np.float64)
        self.similarity = cos * both / np.maximum(both + shrink, 1e-12)
        np.fill_diagonal(self.similarity, 0.0)

    def predict(self, users, items, k: int = 20) -> np.ndarray:
        """Predicted ratings of the pairs ``(users[n], items[n])`` from at most ``k`` neighbours each."""
        k = positive_int(k, "k", owner="ItemKNN.predict")
        users, items = np.asarray(users), np.asarray(items)
        sims = np.where(self.rated[users], self.similarity[items], 0.0)
        sims = np.maximum(sims, 0.0)
        k = min(k, sims.shape[1])
        cut = -np.partition(-sims, k - 1, axis=1)[:, k - 1:k]      # the k-th largest similarity per row
        sims = np.where(sims >= cut, sims, 0.0)
        num = np.sum(sims * self.residual[users], axis=1)
        den = np.sum(sims, axis=1)
        base = self.mu + self.bu[users] + self.bi[items]
        return base + np.where(den > 0, num / np.maximum(den, 1e-12), 0.0)


# ---------------------------------------------------------------- content-based filtering

class ContentRidge:
    """Content-based filtering: one ridge regression per user, from item features to that user's ratings.

    User ``u`` gets weights ``w_u`` and an intercept ``c_u``:
    ``r_hat = c_u + features[i] . w_u``, with ``w_u`` minimising
    ``sum (r_ui - c_u - f_i . w_u)^2 + alpha |w_u|^2`` over the user's training
    ratings (the intercept is not penalised). Needs nothing from other users,
    so it can score an item nobody has rated yet. A user without training
    ratings gets the global mean.
    """

    def __init__(self, train, item_features, n_users: int, alpha: float = 1.0):
        F = np.asarray(item_features, dtype=np.float64)
        if F.ndim != 2:
            raise ValueError(f"ContentRidge: item_features must be (n_items, n_features), got shape {F.shape}")
        users, items, r = _check_set(train, n_users, len(F), "ContentRidge")
        alpha = non_negative(alpha, "alpha", "ContentRidge")
        self.features = F
        self.mu = float(r.mean())
        self.W = np.zeros((n_users, F.shape[1]))
        self.c = np.full(n_users, self.mu)
        order = np.argsort(users, kind="stable")
        starts = np.searchsorted(users[order], np.arange(n_users + 1))
        eye = alpha * np.eye(F.shape[1])
        for u in range(n_users):
            idx = order[starts[u]:starts[u + 1]]
            if len(idx) == 0:
                continue
            X, y = F[items[idx]], r[idx]
            x_bar, y_bar = X.mean(0), y.mean()
            Xc = X - x_bar
            self.W[u] = np.linalg.solve(Xc.T @ Xc + eye, Xc.T @ (y - y_bar))
            self.c[u] = y_bar - x_bar @ self.W[u]

    def predict(self, users, items) -> np.ndarray:
        """Predicted ratings of the pairs ``(users[n], items[n])``."""
        users, items = np.asarray(users), np.asarray(items)
        return self.c[users] + np.sum(self.features[items] * self.W[users], axis=1)


# ---------------------------------------------------------------- hybrid

def fit_blend(predictions, ratings) -> np.ndarray:
    """Least-squares weights ``[w_0, w_1, ...]`` of ``w_0 + sum_m w_m * predictions[m]`` on held-out ratings.

    ``predictions`` is a list of 1-D arrays, one per recommender, on the same
    (validation) entries as ``ratings``. Apply the weights with :func:`blend`.
    """
    r = np.asarray(ratings, dtype=np.float64)
    X = np.column_stack([np.ones_like(r)] + [np.asarray(p, dtype=np.float64) for p in predictions])
    if X.shape[0] != r.shape[0] or r.ndim != 1:
        raise ValueError(f"fit_blend: every prediction must be 1-D with the ratings' length {r.shape}")
    return np.linalg.lstsq(X, r, rcond=None)[0]


def blend(predictions, weights) -> np.ndarray:
    """``weights[0] + sum_m weights[m + 1] * predictions[m]``."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (len(predictions) + 1,):
        raise ValueError(f"blend: need {len(predictions) + 1} weights (intercept first), got shape {weights.shape}")
    return weights[0] + sum(w * np.asarray(p, dtype=np.float64) for w, p in zip(weights[1:], predictions))


# ---------------------------------------------------------------- two-tower retrieval (PyTorch)

class TwoTower(nn.Module):
    """Two towers that map a user and an item to vectors of size ``dim``; the score is their dot product.

    The user tower embeds the user id; the item tower adds an embedding of the
    item id to a linear map of the item's features; each tower ends in a small
    MLP. Scores of every pair come from one matrix product, which is what makes
    retrieval over millions of items fast.
    """

    def __init__(self, n_users: int, item_features, dim: int = 8, hidden: int = 32):
        super().__init__()
        owner = "TwoTower"
        n_users = positive_int(n_users, "n_users", owner)
        dim, hidden = positive_int(dim, "dim", owner), positive_int(hidden, "hidden", owner)
        F = torch.as_tensor(np.asarray(item_features), dtype=torch.float32)
        if F.ndim != 2:
            raise ValueError(f"{owner}: item_features must be (n_items, n_features), got shape {tuple(F.shape)}")
        self.register_buffer("features", F)
        self.user_embedding = nn.Embedding(n_users, hidden)
        self.item_embedding = nn.Embedding(F.shape[0], hidden)
        self.item_content = nn.Linear(F.shape[1], hidden)
        self.user_mlp = nn.Sequential(nn.ReLU(), nn.Linear(hidden, dim))
        self.item_mlp = nn.Sequential(nn.ReLU(), nn.Linear(hidden, dim))
        for emb in (self.user_embedding, self.item_embedding):
            nn.init.normal_(emb.weight, std=0.1)

    def user_vectors(self, users):
        """The user tower: id -> embedding -> MLP, shape (len(users), dim)."""
        return self.user_mlp(self.user_embedding(users))

    def item_vectors(self, items):
        """The item tower: id embedding + linear map of the features -> MLP, shape (len(items), dim)."""
        return self.item_mlp(self.item_embedding(items) + self.item_content(self.features[items]))

    def forward(self, users, items):
        """Scores of the pairs ``(users[n], items[n])``."""
        return (self.user_vectors(users) * self.item_vectors(items)).sum(-1)

    @torch.no_grad()
    def all_scores(self) -> np.ndarray:
        """Every user's score of every item, (n_users, n_items), as a NumPy array."""
        device = self.features.device
        u = self.user_vectors(torch.arange(self.user_embedding.num_embeddings, device=device))
        v = self.item_vectors(torch.arange(self.features.shape[0], device=device))
        return (u @ v.T).cpu().double().numpy()


def in_batch_softmax_loss(user_vecs, item_vecs, log_q=None, temperature: float = 1.0):
    """Cross-entropy of each user against every item of the batch; its own item (the diagonal) is the target.

    Row ``n`` scores user ``n`` against all ``B`` items of the batch; the other
    users' positives serve as its negatives (in-batch negatives). Popular items
    turn up as negatives more often than others, which pushes their scores
    down; ``log_q``, the log of each batch item's sampling probability,
    subtracted from its logits, corrects that (the logQ correction of
    sampled softmax).
    """
    logits = user_vecs @ item_vecs.T / temperature
    if log_q is not None:
        logits = logits - log_q[None, :]
    return torch.nn.functional.cross_entropy(logits, torch.arange(len(logits), device=logits.device))


def train_two_tower(model, train_mask, epochs: int = 40, batch_size: int = 256, lr: float = 1e-2,
                    weight_decay: float = 1e-5, temperature: float = 0.5, logq_correction: bool = True, seed=0,
                    progress: bool = True, desc: str = "two-tower", device=None):
    """Train ``model`` on the positive pairs of ``train_mask`` with in-batch negatives and Adam.

    ``logq_correction`` subtracts the log of each item's share of the training
    pairs from its logits (see :func:`in_batch_softmax_loss`). Returns the mean
    loss per epoch.
    """
    from book.training.loop import train_loop

    owner = "train_two_tower"
    epochs = positive_int(epochs, "epochs", owner)
    batch_size = positive_int(batch_size, "batch_size", owner)
    temperature = positive(temperature, "temperature", owner)
    train_mask = np.asarray(train_mask, dtype=bool)
    if train_mask.shape != (model.user_embedding.num_embeddings, model.features.shape[0]):
        raise ValueError(f"{owner}: train_mask must be (n_users, n_items) = "
                         f"({model.user_embedding.num_embeddings}, {model.features.shape[0]}), got {train_mask.shape}")
    device = device or model.features.device
    users, items = (torch.as_tensor(a, device=device) for a in np.nonzero(train_mask))
    share = train_mask.sum(0) / train_mask.sum()
    log_share = torch.as_tensor(np.log(np.maximum(share, 1e-12)), dtype=torch.float32, device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(int(non_negative_int(seed, "seed", owner)))

    def step(_epoch):
        model.train()
        order = torch.randperm(len(users), generator=generator).to(device)
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            log_q = log_share[items[idx]] if logq_correction else None
            loss = in_batch_softmax_loss(model.user_vectors(users[idx]), model.item_vectors(items[idx]), log_q,
                                         temperature)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        return {"loss": total / len(order)}

    return train_loop(step, epochs, desc=desc, progress=progress)["loss"]


__all__ = [
    "MF",
    "ContentRidge",
    "ItemKNN",
    "TwoTower",
    "blend",
    "fit_biases",
    "fit_blend",
    "fit_mf",
    "in_batch_softmax_loss",
    "init_mf",
    "mf_sample_grads",
    "mf_sample_loss",
    "mf_sgd_epoch",
    "random_recall_at_k",
    "recall_at_k",
    "rmse",
]
