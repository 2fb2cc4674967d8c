"""Synthetic ratings with a known low-rank truth, for chapter 9 (recommender systems).

The truth is the model that matrix factorisation fits,

    r_ui = mu + b_u + b_i + p_u . q_i + noise,

with user factors ``p_u`` and item factors ``q_i`` of a small rank. A random
fraction of the user-item pairs is observed (explicit feedback: a rating) and
split into train, validation and test entries. Every item also has a feature
vector (its "content": genre, length, price, ...), a noisy linear function of
its factors and its bias, so content-based filtering has something to learn
from. A few *cold* items have no training ratings at all: their observed
entries form a separate set, for the cold-start comparison.

:func:`implicit_feedback` draws interactions (clicks, plays) from the same truth:
users interact more often with items they would rate highly, which is what
makes implicit feedback informative and what a retrieval model learns from.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from book.checks import non_negative, non_negative_int, positive, positive_int, real


@dataclass(frozen=True)
class RatingSet:
    """Observed entries: ``users[k]`` rated ``items[k]`` with ``ratings[k]`` (three 1-D arrays)."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray

    def __len__(self) -> int:
        return len(self.ratings)


@dataclass(frozen=True)
class Ratings:
    """A synthetic rating data set, its splits and its generating truth."""

    n_users: int
    n_items: int
    train: RatingSet
    val: RatingSet
    test: RatingSet
    cold: RatingSet              # every observed rating of the cold items (none of them is in train)
    cold_items: np.ndarray       # ids of the items without training ratings
    item_features: np.ndarray    # (n_items, n_features), standardised columns
    mu: float                    # the truth: global mean, biases and factors
    user_bias: np.ndarray
    item_bias: np.ndarray
    P: np.ndarray                # (n_users, rank)
    Q: np.ndarray                # (n_items, rank)
    noise_std: float

    def true_scores(self) -> np.ndarray:
        """The noise-free rating of every user-item pair, shape (n_users, n_items)."""
        return self.mu + self.user_bias[:, None] + self.item_bias[None, :] + self.P @ self.Q.T

    def __repr__(self) -> str:
        return (f"Ratings({self.n_users} users x {self.n_items} items, rank {self.P.shape[1]}, "
                f"train {len(self.train)}, val {len(self.val)}, test {len(self.test)}, "
                f"cold items {len(self.cold_items)} with {len(self.cold)} ratings, "
                f"{self.item_features.shape[1]} item features)")


def make_ratings(n_users=200, n_items=150, rank=5, density=0.2, noise_std=0.3, mu=3.5, bias_std=0.5,
                 interaction_std=0.7, n_features=12, feature_noise=0.5, n_cold_items=15,
                 fractions=(0.7, 0.15, 0.15), seed=0) -> Ratings:
    """Ratings ``mu + b_u + b_i + p_u . q_i + N(0, noise_std^2)`` on a random ``density`` of the pairs.

    Biases are N(0, ``bias_std``^2); factors are drawn so that the interaction
    ``p_u . q_i`` has standard deviation ``interaction_std``. Item features are
    ``[q_i, b_i] A + N(0, feature_noise^2)`` for a random matrix ``A``, then
    standardised. ``n_cold_items`` items keep their ratings out of every split
    (they form ``cold``); the other observed entries are shuffled and split in
    ``fractions`` (train, validation, test).
    """
    owner = "make_ratings"
    n_users = positive_int(n_users, "n_users", owner=owner)
    n_items = positive_int(n_items, "n_items", owner=owner)
    rank = positive_int(rank, "rank", owner=owner)
    density = real(density, "density", 0.0, 1.0, low_open=True, owner=owner)
    noise_std = non_negative(noise_std, "noise_std", owner=owner)
    bias_std = non_negative(bias_std, "bias_std", owner=owner)
    interaction_std = non_negative(interaction_std, "interaction_std", owner=owner)
    n_features = positive_int(n_features, "n_features", owner=owner)
    feature_noise = non_negative(feature_noise, "feature_noise", owner=owner)
    n_cold_items = non_negative_int(n_cold_items, "n_cold_items", owner=owner)
    if n_cold_items >= n_items:
        raise ValueError(f"{owner}: n_cold_items must be below n_items={n_items}, got {n_cold_items}")
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.shape != (3,) or np.any(fractions <= 0) or abs(fractions.sum() - 1) > 1e-9:
        raise ValueError(f"{owner}: fractions must be three positive numbers summing to 1 (train, val, test), "
                         f"got {fractions.tolist()}")
    rng = np.random.default_rng(seed)
    factor_std = (interaction_std ** 2 / rank) ** 0.25       # var(p . q) = rank * factor_std^4
    P = rng.normal(0.0, factor_std, size=(n_users, rank))
    Q = rng.normal(0.0, factor_std, size=(n_items, rank))
    user_bias = rng.normal(0.0, bias_std, size=n_users)
    item_bias = rng.normal(0.0, bias_std, size=n_items)
    A = rng.normal(0.0, 1.0, size=(rank + 1, n_features))
    content = np.column_stack([Q / max(factor_std, 1e-12), item_bias / max(bias_std, 1e-12)]) @ A
    features = content + rng.normal(0.0, feature_noise * content.std(), size=content.shape)
    features = (features - features.mean(0)) / features.std(0)

    observed = rng.random((n_users, n_items)) < density
    users, items = np.nonzero(observed)
    truth = mu + user_bias[users] + item_bias[items] + np.sum(P[users] * Q[items], axis=1)
    ratings = truth + rng.normal(0.0, noise_std, size=truth.shape)
    cold_items = np.sort(rng.choice(n_items, size=n_cold_items, replace=False))
    is_cold = np.isin(items, cold_items)
    warm = rng.permutation(np.flatnonzero(~is_cold))
    n_train = int(round(fractions[0] * len(warm)))
    n_val = int(round(fractions[1] * len(warm)))
    parts = np.split(warm, [n_train, n_train + n_val])

    def subset(idx):
        idx = np.sort(idx)
        return RatingSet(users[idx], items[idx], ratings[idx])

    train, val, test = (subset(p) for p in parts)
    return Ratings(n_users, n_items, train, val, test, subset(np.flatnonzero(is_cold)), cold_items, features,
                   float(mu), user_bias, item_bias, P, Q, float(noise_std))


def implicit_feedback(data: Ratings, per_user=20, n_test=5, temperature=0.5, seed=0):
    """Interactions drawn from ``data``'s truth: each user picks ``per_user`` distinct items.

    Items are drawn without replacement with probability proportional to
    ``exp(true score / temperature)``, so users mostly pick what they like; a
    low temperature makes the choice sharper. The last ``n_test`` picks of each
    user (a random subset) are held out. Returns two boolean matrices,
    ``train`` and ``test``, of shape (n_users, n_items).
    """
    owner = "implicit_feedback"
    per_user = positive_int(per_user, "per_user", owner=owner)
    n_test = positive_int(n_test, "n_test", owner=owner)
    temperature = positive(temperature, "temperature", owner=owner)
    if not n_test < per_user <= data.n_items:
        raise ValueError(f"{owner}: need n_test < per_user <= n_items={data.n_items}, "
                         f"got n_test={n_test}, per_user={per_user}")
    rng = np.random.default_rng(seed)
    scores = data.true_scores() / temperature
    # Gumbel top-k: the per_user largest of score + Gumbel noise are a draw without replacement
    keys = scores + rng.gumbel(size=scores.shape)
    picks = np.argsort(-keys, axis=1)[:, :per_user]
    picks = rng.permuted(picks, axis=1)
    train = np.zeros(scores.shape, dtype=bool)
    test = np.zeros(scores.shape, dtype=bool)
    rows = np.arange(data.n_users)[:, None]
    train[rows, picks[:, n_test:]] = True
    test[rows, picks[:, :n_test]] = True
    return train, test


def holdout_interactions(mask, n_holdout=3, seed=0):
    """Split each user's interactions (``True`` entries of ``mask``, (n_users, n_items)) in two.

    ``n_holdout`` random interactions of every user go to the second matrix
    (a validation set); users with fewer keep one interaction in the first.
    Returns ``(rest, held_out)``.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"holdout_interactions: mask must be (n_users, n_items), got shape {mask.shape}")
    n_holdout = positive_int(n_holdout, "n_holdout", owner="holdout_interactions")
    rng = np.random.default_rng(seed)
    rest, held = mask.copy(), np.zeros_like(mask)
    for u, row in enumerate(mask):
        items = np.flatnonzero(row)
        take = rng.permutation(items)[:min(n_holdout, max(len(items) - 1, 0))]
        rest[u, take], held[u, take] = False, True
    return rest, held


__all__ = ["RatingSet", "Ratings", "holdout_interactions", "implicit_feedback", "make_ratings"]
