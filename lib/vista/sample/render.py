"""How one source writes a person: noisy names, e-mails, phones; date and money formats."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from vista.sample import textnoise as tn
from vista.sample.params import NoiseProfile, SampleParams
from vista.sample.pools import EMAIL_DOMAIN_TYPOS, EMAIL_DOMAINS, nickname_table

_NICK_INDEX, _NICKS = nickname_table()


def render_identity(people: pd.DataFrame, pos: np.ndarray, emails: np.ndarray,
                    prof: NoiseProfile, params: SampleParams,
                    rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Names, e-mail, phone and birth date of ``people[pos]`` as one source holds them.

    Args:
        people: The chunk's people.
        pos: Row of ``people`` for each record.
        emails: The true e-mail each record would carry (None = none given).
        prof: The source's noise profile.
        params: Generation parameters.
        rng: Random generator.

    Returns:
        Arrays ``first``, ``last``, ``email``, ``phone`` (str or None) and ``birth``
        (datetime64[D], NaT when missing).
    """
    n = pos.size
    u = lambda: rng.random(n)  # noqa: E731 - one fresh uniform per record
    first = people["first_name"].to_numpy()[pos].copy()
    last = np.where(u() < prof.first_surname_only, people["surname1"].to_numpy()[pos],
                    people["last_name"].to_numpy()[pos])
    nick_row = pd.Series(first).map(_NICK_INDEX).to_numpy()
    has_nick = ~np.isnan(nick_row) & (u() < prof.nickname)
    first[has_nick] = _NICKS[nick_row[has_nick].astype(int), rng.integers(0, 3, has_nick.sum())]
    swap = u() < prof.swap_names
    first, last = np.where(swap, last, first), np.where(swap, first, last)
    first = tn.where(u() < prof.typo / 2, lambda a: tn.typo(a, rng), first)
    last = tn.where(u() < prof.typo / 2, lambda a: tn.typo(a, rng), last)
    fold = u() < prof.drop_accents
    first, last = tn.where(fold, tn.fold_accents, first), tn.where(fold, tn.fold_accents, last)
    up = u() < prof.upper
    first, last = tn.where(up, tn.upper, first), tn.where(up, tn.upper, last)
    first[u() < prof.missing_first] = None
    last[u() < prof.missing_last] = None
    return {"first": first, "last": last, "email": noisy_email(emails, prof, rng),
            "phone": noisy_phone(people, pos, prof, params, rng),
            "birth": np.where(u() < prof.missing_birth, np.datetime64("NaT"),
                              people["birth_date"].to_numpy()[pos]).astype("datetime64[D]")}


def noisy_email(emails: np.ndarray, prof: NoiseProfile, rng: np.random.Generator) -> np.ndarray:
    """Case, dot and domain-typo variants of addresses, and some left out."""
    n = emails.size
    e = emails.astype(object).copy()
    has = pd.notna(e)
    e = tn.where(has & (rng.random(n) < prof.email_dots), tn.email_no_dots, e)
    e = tn.where(has & (rng.random(n) < prof.email_typo),
                 lambda a: tn.email_domain_typo(a, EMAIL_DOMAINS, EMAIL_DOMAIN_TYPOS), e)
    e = tn.where(has & (rng.random(n) < prof.email_case), lambda a: tn.email_mixed_case(a, rng), e)
    e[rng.random(n) < prof.missing_email] = None
    return e


def noisy_phone(people: pd.DataFrame, pos: np.ndarray, prof: NoiseProfile,
                params: SampleParams, rng: np.random.Generator) -> np.ndarray:
    """The person's mobile in a random real-world format, or None."""
    ci = people["country_idx"].to_numpy()[pos]
    cc = np.array([c.calling_code for c in params.countries], dtype=object)[ci]
    trunk = np.array([c.trunk for c in params.countries], dtype=object)[ci]
    phone = tn.phone_format(cc, people["mobile"].to_numpy()[pos], trunk,
                            rng.integers(0, 7, pos.size))
    phone[rng.random(pos.size) < prof.missing_phone] = None
    return phone


# ---- formats ---------------------------------------------------------------------------

def to_ts(start: np.datetime64, day: np.ndarray) -> np.ndarray:
    """Float days after ``start`` -> datetime64[s]."""
    return start.astype("datetime64[s]") + np.round(day * 86400).astype("timedelta64[s]")


def _iso(a: np.ndarray, unit: str = "s") -> pa.Array:
    """``YYYY-MM-DD HH:MM:SS[.fff]`` via an Arrow cast (much faster than strftime)."""
    return pc.cast(pa.array(a.astype(f"datetime64[{unit}]")), pa.string())


def _cut(s: pa.Array, i: int, j: int | None = None) -> pa.Array:
    return pc.utf8_slice_codeunits(s, i, j if j is not None else 64)


def _join(*parts: pa.Array | str) -> np.ndarray:
    return tn._np(pc.binary_join_element_wise(*parts, ""))


def iso_date(a: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DD``."""
    return tn._np(_cut(_iso(a), 0, 10))


def dmy(a: np.ndarray, sep: str = "/") -> np.ndarray:
    """``DD/MM/YYYY`` (or another separator)."""
    s = _iso(a)
    return _join(_cut(s, 8, 10), sep, _cut(s, 5, 7), sep, _cut(s, 0, 4))


def compact_date(a: np.ndarray) -> np.ndarray:
    """``YYYYMMDD``."""
    s = _iso(a)
    return _join(_cut(s, 0, 4), _cut(s, 5, 7), _cut(s, 8, 10))


def dmy_hm(a: np.ndarray, seconds: bool = False) -> np.ndarray:
    """``DD/MM/YYYY HH:MM[:SS]``."""
    s = _iso(a)
    return _join(_cut(s, 8, 10), "/", _cut(s, 5, 7), "/", _cut(s, 0, 4), " ",
                 _cut(s, 11, 19 if seconds else 16))


def iso_ts(a: np.ndarray, unit: str = "s", z: bool = True) -> np.ndarray:
    """``YYYY-MM-DDTHH:MM:SS[.fff]Z`` (or ``YYYY-MM-DD HH:MM:SS`` with ``z=False``)."""
    s = _iso(a, unit)
    return _join(_cut(s, 0, 10), "T", _cut(s, 11), "Z") if z else tn._np(s)


def frame(cols: dict[str, object]) -> pd.DataFrame:
    """A DataFrame that keeps text columns as plain ``object`` (None = missing).

    pandas 3 would infer Arrow-backed strings with NaN for missing; the writers and the
    noise functions here work on object arrays, so text is wrapped as object Series.
    """
    out = {}
    for k, v in cols.items():
        arr = np.asarray(v) if not isinstance(v, (pd.Series, str)) else v
        if isinstance(arr, np.ndarray) and arr.dtype.kind in "OU":
            arr = pd.Series(arr.astype(object), dtype=object)
        out[k] = arr
    n = max((len(x) for x in out.values() if not isinstance(x, str)), default=0)
    return pd.DataFrame({k: (pd.Series([v] * n, dtype=object) if isinstance(v, str) else v)
                         for k, v in out.items()})


def money(x: np.ndarray, decimals: np.ndarray | int, comma: bool = False) -> np.ndarray:
    """Amounts as text with the currency's decimals, optionally with a decimal comma."""
    dec = np.broadcast_to(np.asarray(decimals), x.shape)
    out = np.empty(x.size, dtype=object)
    for d in np.unique(dec):
        m = dec == d
        out[m] = np.char.mod(f"%.{int(d)}f", np.round(x[m], int(d))).astype(object)
    if comma:
        out = tn._np(pc.replace_substring(pa.array(out, pa.string()), ".", ","))
    return out


def hex_ids(rng: np.random.Generator, n: int, nbytes: int = 8) -> np.ndarray:
    """``n`` random lower-case hex strings of ``2 * nbytes`` characters."""
    b = rng.integers(0, 256, (n, nbytes), dtype=np.uint8)
    digits = np.frombuffer(b"0123456789abcdef", np.uint8)
    h = np.empty((n, 2 * nbytes), np.uint8)
    h[:, 0::2], h[:, 1::2] = digits[b >> 4], digits[b & 15]
    return h.view(f"S{2 * nbytes}").ravel().astype(str).astype(object)


def chunk_ids(prefix: str, n: int, chunk: int, rng: np.random.Generator, width: int = 7) -> np.ndarray:
    """Unique ids for ``n`` records of a chunk, shuffled so they reveal nothing of the person."""
    num = chunk * 10 ** (width - 2) + rng.permutation(n) + 1
    return tn.concat(prefix, np.char.zfill(num.astype(str), width).astype(object))
