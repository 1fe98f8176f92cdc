"""Vectorised text helpers of the sample generator keep every row in its place."""

from __future__ import annotations

import numpy as np

from vista.sample.textnoise import join_words


def test_join_words_keeps_rows_aligned_on_large_arrays_with_gaps():
    rng = np.random.default_rng(3)
    n = 10_000  # pyarrow's null_handling="skip" dropped rows at this size
    words = np.array(["ana", "luis", "de la fuente", "ñuñez", "o'neill"], dtype=object)
    first = words[rng.integers(0, words.size, n)]
    last = words[rng.integers(0, words.size, n)]
    first[rng.random(n) < 0.1] = None
    last[rng.random(n) < 0.1] = None

    got = join_words(first, last)

    expected = [" ".join(w for w in (a, b) if w is not None) for a, b in zip(first, last, strict=True)]
    assert got.shape == (n,)
    assert got.tolist() == expected
