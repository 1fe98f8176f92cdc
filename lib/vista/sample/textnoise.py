"""Vectorised string noise on arrays of strings (Arrow compute; no per-row Python)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Arr = np.ndarray  # 1-D object array of str (None = missing)


def _pa(a: Arr) -> pa.Array:
    return pa.array(a, type=pa.string(), from_pandas=True)


def _np(a: pa.Array | pa.ChunkedArray) -> Arr:
    return np.asarray(a.to_numpy(zero_copy_only=False), dtype=object)


def where(mask: np.ndarray, fn: Callable[[Arr], Arr], a: Arr) -> Arr:
    """Return ``a`` with ``fn`` applied to the rows where ``mask`` is true."""
    out = a.copy()
    if mask.any():
        out[mask] = fn(a[mask])
    return out


def fold_accents(a: Arr) -> Arr:
    """Drop accents and the tilde of ñ, as systems limited to ASCII do."""
    nfd = pc.utf8_normalize(_pa(a), form="NFD")
    return _np(pc.replace_substring_regex(nfd, pattern=r"\p{Mn}", replacement=""))


def upper(a: Arr) -> Arr:
    return _np(pc.utf8_upper(_pa(a)))


def lower(a: Arr) -> Arr:
    return _np(pc.utf8_lower(_pa(a)))


def concat(*parts: Arr | str) -> Arr:
    """Element-wise concatenation of arrays and scalars; a null part gives null."""
    n = max(len(p) for p in parts if not isinstance(p, str))
    cols = [pa.array([p] * n, pa.string()) if isinstance(p, str) else _pa(p) for p in parts]
    return _np(pc.binary_join_element_wise(*cols, ""))


def join_words(*parts: Arr) -> Arr:
    """Join with spaces, skipping missing parts (all missing -> empty string)."""
    # Not null_handling="skip": in pyarrow 25 it returns fewer rows than it is given on
    # larger arrays (10,000 names with some nulls lost 3 rows), which shifted every name
    # after the first loss onto the wrong person.
    filled = [pc.fill_null(_pa(p), "") for p in parts]
    joined = pc.binary_join_element_wise(*filled, " ")
    joined = pc.utf8_trim(pc.replace_substring_regex(joined, pattern=" {2,}", replacement=" "),
                          characters=" ")
    return _np(joined)


def _slice(a: pa.Array, start: int, stop: int | None) -> pa.Array:
    return pc.utf8_slice_codeunits(a, start=start, stop=stop if stop is not None else 2**31 - 1)


def typo(a: Arr, rng: np.random.Generator) -> Arr:
    """Swap two neighbouring characters or drop one, at a random position >= 1."""
    out = a.copy()
    lengths = pc.fill_null(pc.utf8_length(_pa(a)), 0).to_numpy(zero_copy_only=False)
    ok = lengths >= 3
    pos = np.minimum(rng.integers(1, 6, len(a)), np.maximum(lengths - 2, 1))
    drop = rng.random(len(a)) < 0.5
    for k in np.unique(pos[ok]):
        for is_drop in (False, True):
            m = ok & (pos == k) & (drop == is_drop)
            if not m.any():
                continue
            s = _pa(a[m])
            k = int(k)
            if is_drop:
                parts = [_slice(s, 0, k), _slice(s, k + 1, None)]
            else:
                parts = [_slice(s, 0, k), _slice(s, k + 1, k + 2), _slice(s, k, k + 1),
                         _slice(s, k + 2, None)]
            out[m] = _np(pc.binary_join_element_wise(*parts, ""))
    return out


def email_local_domain(a: Arr) -> tuple[Arr, Arr]:
    """Split addresses at the first ``@`` into local part and domain."""
    parts = pc.split_pattern(_pa(a), "@", max_splits=1)
    return _np(pc.list_element(parts, 0)), _np(pc.list_element(parts, 1))


def email_mixed_case(a: Arr, rng: np.random.Generator) -> Arr:
    """Capitalise the address (``Ana.Gil@...``) or upper-case all of it."""
    cap = _np(pc.utf8_title(_pa(a)))
    return np.where(rng.random(len(a)) < 0.7, cap, upper(a))


def email_no_dots(a: Arr) -> Arr:
    local, domain = email_local_domain(a)
    local = _np(pc.replace_substring(_pa(local), ".", ""))
    return concat(local, "@", domain)


def email_domain_typo(a: Arr, good: tuple[str, ...], bad: tuple[str, ...]) -> Arr:
    local, domain = email_local_domain(a)
    lookup = dict(zip(good, bad, strict=True))
    domain = np.array([lookup.get(d, d + "m") for d in domain], dtype=object) if len(a) else domain
    return concat(local, "@", domain)


def phone_format(cc: Arr, national: Arr, trunk: Arr, style: np.ndarray) -> Arr:
    """Write phone numbers in mixed real-world formats.

    Styles: 0 national (with trunk prefix), 1 ``+CC`` + number, 2 ``00CC`` + number,
    3 ``+CC 600 123 456``, 4 ``600-123-456``, 5 ``(+CC) 600123456``, 6 ``600 12 34 56``.
    """
    n = _pa(national)
    spaced = _np(pc.binary_join_element_wise(_slice(n, 0, 3), _slice(n, 3, 6), _slice(n, 6, None), " "))
    dashed = _np(pc.binary_join_element_wise(_slice(n, 0, 3), _slice(n, 3, 6), _slice(n, 6, None), "-"))
    pairs = _np(pc.binary_join_element_wise(_slice(n, 0, 3), _slice(n, 3, 5), _slice(n, 5, 7),
                                            _slice(n, 7, None), " "))
    options = [
        concat(trunk, national), concat("+", cc, national), concat("00", cc, national),
        concat("+", cc, " ", spaced), dashed, concat("(+", cc, ") ", national), pairs,
    ]
    out = np.empty(len(national), dtype=object)
    for i, opt in enumerate(options):
        m = style == i
        out[m] = opt[m]
    return out


def random_digits(rng: np.random.Generator, n: int, length: int) -> Arr:
    """``n`` strings of ``length`` random digits."""
    if n == 0:
        return np.empty(0, dtype=object)
    digits = rng.integers(0, 10, (n, length)).astype(np.uint8) + ord("0")
    return np.frombuffer(digits.tobytes(), dtype=f"S{length}").astype(str).astype(object)
