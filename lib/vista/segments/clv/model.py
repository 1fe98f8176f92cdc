"""BG/NBD and Gamma-Gamma: likelihoods on sufficient statistics, fits and predictions.

Pure numpy/scipy, no Spark: the fits take the small tables Spark reduces the population
to (distinct ``(frequency, recency, T)`` patterns with their counts; repeat buyers'
``(frequency, spend bin)`` groups with the sum of their log spend), and the predictions
take numpy arrays (Spark calls them batch by batch in a pandas UDF).

Log-likelihoods follow Fader, Hardie & Lee (2005) and Fader & Hardie (2013), written with
``gammaln``/``betaln`` and a log-sum-exp so that large frequencies and long histories
neither overflow nor lose precision. Both fits minimise the weighted *mean* negative
log-likelihood over log-parameters (so every parameter stays positive) with BFGS and
analytic gradients, plus an optional L2 penalty ``l2 * sum(log(params)**2)``. The penalty
is on the log-parameters, so it does not depend on the currency or the time unit (the
``lifetimes`` package's ``penalizer_coef`` on the raw parameters weighs a spend scale in
euros and in pesos differently), and it keeps a fit on little data away from the
boundaries where a parameter runs to 0 or to infinity.

Example:
    >>> import numpy as np
    >>> fit = fit_bgnbd(np.array([0, 2]), np.array([0.0, 30.4]), np.array([38.9, 38.9]),
    ...                 np.array([1400, 957]))                             # doctest: +SKIP
    >>> fit.params                                                         # doctest: +SKIP
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy.special import betaln, digamma, gammaln, hyp2f1

from vista.errors import VistaError

BGNBD_NAMES = ("r", "alpha", "a", "b")
GG_NAMES = ("p", "q", "gamma")

log = logging.getLogger(__name__)


class ClvFitError(VistaError):
    """A lifetime-value model could not be fitted (no data, or the fit did not converge)."""


@dataclass(frozen=True)
class Fit:
    """A fitted model.

    Attributes:
        params: Parameter name -> value.
        log_likelihood: The total (weighted, unpenalised) log-likelihood at the optimum.
        customers: The number of customers the fit saw (sum of the weights).
        patterns: The number of rows of the sufficient-statistics table.
        iterations: Optimiser iterations.
    """

    params: dict[str, float]
    log_likelihood: float
    customers: int
    patterns: int
    iterations: int


# --------------------------------------------------------------------------- BG/NBD


def bgnbd_log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray,
                         t: np.ndarray) -> np.ndarray:
    """Per-pattern BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6).

    Args:
        params: ``(r, alpha, a, b)``, all positive.
        x: Repeat purchases (frequency).
        t_x: Time of the last purchase since the first (recency), in the model's unit.
        t: Time since the first purchase (T).

    Returns:
        The log-likelihood of one customer with each pattern.
    """
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + t)
    buyer = x > 0
    a4 = np.where(buyer, np.log(a) - np.log(np.where(buyer, b + x - 1, 1.0))
                  - (r + x) * np.log(alpha + t_x), -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


def _by_frequency(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct frequencies and their total weight: the terms of the likelihoods that
    depend on ``x`` alone (``gammaln``, ``digamma``) are summed per frequency, a few dozen
    values, instead of per pattern."""
    ux, inverse = np.unique(x, return_inverse=True)
    return ux, np.bincount(inverse, weights=w)


def _bgnbd_objective(log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray, t: np.ndarray,
                     w: np.ndarray, l2: float, ux: np.ndarray,
                     wx: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood (+ L2) and its gradient in log-parameters.

    ``ux, wx`` are :func:`_by_frequency` of ``x, w``.
    """
    params = np.exp(log_params)
    r, alpha, a, b = params
    buyer = x > 0
    bx1 = np.where(buyer, b + x - 1, 1.0)
    log_at, log_atx = np.log(alpha + t), np.log(alpha + t_x)
    a3 = -(r + x) * log_at
    a4 = np.where(buyer, np.log(a) - np.log(bx1) - (r + x) * log_atx, -np.inf)
    lse = np.logaddexp(a3, a4)
    share4 = np.exp(a4 - lse)  # the weight of the "dropped out after the last purchase" term
    share3 = 1.0 - share4
    # terms of x alone, per distinct frequency
    ll_x = (wx * (gammaln(r + ux) - gammaln(r) + r * np.log(alpha)
                  + betaln(a, b + ux) - betaln(a, b))).sum()
    psi_abx = digamma(a + b + ux)
    d_r_x = (wx * (digamma(r + ux) - digamma(r) + np.log(alpha))).sum()
    d_a_x = (wx * (digamma(a + b) - psi_abx)).sum()
    d_b_x = (wx * (digamma(b + ux) - psi_abx - digamma(b) + digamma(a + b))).sum()
    d_alpha_x = (wx * r / alpha).sum()
    # terms of each pattern
    w3, w4 = w * share3, w * share4
    d_r = d_r_x - (w3 * log_at).sum() - (w4 * log_atx).sum()
    d_alpha = d_alpha_x - (w3 * (r + x) / (alpha + t)).sum() - (w4 * (r + x) / (alpha + t_x)).sum()
    d_a = d_a_x + w4.sum() / a
    d_b = d_b_x - (w4 / bx1)[buyer].sum()
    n = w.sum()
    value = -(ll_x + (w * lse).sum()) / n + l2 * float((log_params ** 2).sum())
    grad = -np.array([d_r, d_alpha, d_a, d_b]) / n
    grad = grad * params + 2 * l2 * log_params  # chain rule for log-parameters
    return float(value), grad


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, t: np.ndarray, weights: np.ndarray,
              l2: float = 0.0, max_iter: int = 1000,
              initial: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)) -> Fit:
    """Fit BG/NBD by maximum likelihood on distinct ``(x, t_x, T)`` patterns.

    Args:
        x: Repeat purchases per pattern.
        t_x: Recency per pattern.
        t: T per pattern.
        weights: Customers per pattern.
        l2: L2 penalty on the log-parameters (0 = plain maximum likelihood).
        max_iter: Optimiser iteration limit.
        initial: Starting ``(r, alpha, a, b)``.

    Returns:
        The fit, parameters named ``r, alpha, a, b``.

    Raises:
        ClvFitError: No customers, no repeat purchase at all, inconsistent patterns, or
            the optimiser did not converge (the message says what to try).
    """
    x, t_x, t, w = (np.asarray(v, dtype=float) for v in (x, t_x, t, weights))
    _check_patterns(x, t_x, t, w)
    res = optimize.minimize(_bgnbd_objective, np.log(np.asarray(initial, dtype=float)),
                            args=(x, t_x, t, w, l2, *_by_frequency(x, w)), jac=True,
                            method="BFGS",
                            options={"maxiter": max_iter})
    return _fit_result("BG/NBD", BGNBD_NAMES, res, w, len(x), max_iter,
                       lambda p: float((w * bgnbd_log_likelihood(p, x, t_x, t)).sum()))


def _check_patterns(x: np.ndarray, t_x: np.ndarray, t: np.ndarray, w: np.ndarray) -> None:
    if len(x) == 0 or w.sum() <= 0:
        raise ClvFitError("BG/NBD: no customer with a purchase to fit on; the lifetime-value "
                          "model needs buyers (check gold/customer_orders and the as-of date)")
    if not (x > 0).any():
        raise ClvFitError("BG/NBD: no customer has a repeat purchase, so the purchase rate "
                          "cannot be told from dropout; use more history or a shorter "
                          "segments.clv.time_unit")
    if (x < 0).any() or (t_x < 0).any() or (t_x > t + 1e-9).any() or (w < 0).any():
        raise ClvFitError("BG/NBD: inconsistent patterns (negative values or recency after "
                          "T); the as-of date must not be before a customer's last purchase")


def _fit_result(model: str, names: tuple[str, ...], res: optimize.OptimizeResult,
                w: np.ndarray, patterns: int, max_iter: int, total_ll) -> Fit:  # noqa: ANN001
    params = np.exp(res.x)
    finite = bool(np.all(np.isfinite(params)) and np.isfinite(res.fun))
    # BFGS stops with status 2 ("precision loss") when the line search cannot improve on
    # an optimum already reached; a vanishing gradient tells that case from a failure
    flat = res.status == 2 and finite and float(np.max(np.abs(res.jac))) < 1e-4
    if not (res.success or flat) or not finite:
        raise ClvFitError(
            f"{model} fit did not converge after {res.nit} iterations ({res.message}; "
            f"parameters {dict(zip(names, np.round(params, 6).tolist(), strict=True))}). "
            f"Try: a small L2 penalty (segments.clv.l2_penalty, e.g. 0.01), a higher "
            f"segments.clv.max_iterations (now {max_iter}), a coarser time unit, or more "
            f"purchase history; very few repeat buyers also make the fit ill-posed")
    extreme = [n for n, v in zip(names, res.x, strict=True) if n != "gamma" and abs(v) > 9]
    if extreme:
        log.warning("%s fit ran to a boundary (%s): too little data for this model; its "
                    "predictions are unreliable. A small segments.clv.l2_penalty (e.g. 0.01) "
                    "keeps the parameters finite", model, ", ".join(
                        f"{n}={np.exp(v):.3g}" for n, v in zip(names, res.x, strict=True)
                        if n in extreme))
    return Fit(params=dict(zip(names, params.tolist(), strict=True)),
               log_likelihood=total_ll(params), customers=int(round(w.sum())),
               patterns=patterns, iterations=int(res.nit))


def p_alive(params: dict[str, float], x: np.ndarray, t_x: np.ndarray,
            t: np.ndarray) -> np.ndarray:
    """P(the customer is still active at T | x, t_x, T) under BG/NBD."""
    r, alpha, a, b = (params[k] for k in BGNBD_NAMES)
    x, t_x, t = (np.asarray(v, dtype=float) for v in (x, t_x, t))
    buyer = x > 0
    log_ratio = (np.log(a) - np.log(np.where(buyer, b + x - 1, 1.0))
                 + (r + x) * (np.log(alpha + t) - np.log(alpha + t_x)))
    return np.where(buyer, 1.0 / (1.0 + np.exp(np.minimum(log_ratio, 700.0))), 1.0)


def expected_purchases(params: dict[str, float], horizon: np.ndarray | float, x: np.ndarray,
                       t_x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Expected purchases in ``(T, T + horizon]`` given ``(x, t_x, T)`` (FHL 2005, eq. 10).

    The conditional expectation needs the Gauss hypergeometric function 2F1, hence
    ``scipy.special.hyp2f1``.
    """
    r, alpha, a, b = (params[k] for k in BGNBD_NAMES)
    x, t_x, t = (np.asarray(v, dtype=float) for v in (x, t_x, t))
    h = np.asarray(horizon, dtype=float)
    z = h / (alpha + t + h)
    decay = np.exp((r + x) * (np.log(alpha + t) - np.log(alpha + t + h)))
    head = (a + b + x - 1) / (a - 1)
    body = 1.0 - decay * hyp2f1(r + x, b + x, a + b + x - 1, z)
    return np.maximum(head * body * p_alive(params, x, t_x, t), 0.0)


def discounted_purchases(params: dict[str, float], horizon: int, per_period_discount: float,
                         x: np.ndarray, t_x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Sum over periods ``i = 1..horizon`` of the purchases expected in period ``i``,
    discounted by ``(1 + d) ** -i``: multiplied by the expected spend per purchase it is
    the discounted lifetime value over the horizon."""
    total = np.zeros(np.shape(np.asarray(x, dtype=float)))
    before = np.zeros_like(total)
    for i in range(1, int(horizon) + 1):
        upto = expected_purchases(params, float(i), x, t_x, t)
        total += (upto - before) / (1.0 + per_period_discount) ** i
        before = upto
    return np.maximum(total, 0.0)


# --------------------------------------------------------------------------- Gamma-Gamma


def gg_log_likelihood(params: np.ndarray, x: np.ndarray, sum_log_m: np.ndarray,
                      m: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Gamma-Gamma log-likelihood of each spend group (Fader & Hardie 2013, eq. 4).

    A group holds ``n`` repeat buyers with frequency ``x`` and average spend ``m`` (their
    geometric mean inside a narrow bin); ``sum_log_m`` is the exact sum of their log spend.
    """
    p, q, gamma = params
    px = p * x
    return (n * (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(gamma)
                 + px * np.log(x) - (px + q) * np.log(x * m + gamma))
            + (px - 1) * sum_log_m)


def _gg_objective(log_params: np.ndarray, x: np.ndarray, sum_log_m: np.ndarray, m: np.ndarray,
                  n: np.ndarray, l2: float, ux: np.ndarray,
                  nx: np.ndarray) -> tuple[float, np.ndarray]:
    params = np.exp(log_params)
    p, q, gamma = params
    pux = p * ux
    psi = digamma(pux + q)
    # terms of x alone, per distinct frequency
    ll_x = (nx * (gammaln(pux + q) - gammaln(pux) - gammaln(q) + q * np.log(gamma)
                  + pux * np.log(ux))).sum()
    d_p_x = (nx * ux * (psi - digamma(pux) + np.log(ux))).sum()
    d_q_x = (nx * (psi - digamma(q) + np.log(gamma))).sum()
    # terms of each group
    xm_g = x * m + gamma
    log_xm = np.log(xm_g)
    px = p * x
    ll = ll_x + ((px - 1) * sum_log_m - n * (px + q) * log_xm).sum()
    d_p = d_p_x + (x * sum_log_m - n * x * log_xm).sum()
    d_q = d_q_x - (n * log_xm).sum()
    d_g = (n * (q / gamma - (px + q) / xm_g)).sum()
    total = n.sum()
    value = -ll / total + l2 * float((log_params ** 2).sum())
    grad = -np.array([d_p, d_q, d_g]) / total
    return float(value), grad * params + 2 * l2 * log_params


def fit_gamma_gamma(x: np.ndarray, sum_log_m: np.ndarray, m: np.ndarray, n: np.ndarray,
                    l2: float = 0.0, max_iter: int = 1000,
                    initial: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> Fit:
    """Fit Gamma-Gamma by maximum likelihood on repeat buyers' spend groups.

    Args:
        x: Frequency (repeat purchases, > 0) per group.
        sum_log_m: Sum of the group's log average spend.
        m: The group's representative average spend (> 0).
        n: Customers per group.
        l2: L2 penalty on the log-parameters.
        max_iter: Optimiser iteration limit.
        initial: Starting ``(p, q, gamma)``.

    Returns:
        The fit, parameters named ``p, q, gamma``.

    Raises:
        ClvFitError: No repeat buyer with a positive spend, or no convergence.
    """
    x, s, m, n = (np.asarray(v, dtype=float) for v in (x, sum_log_m, m, n))
    if len(x) == 0 or n.sum() <= 0:
        raise ClvFitError("Gamma-Gamma: no repeat buyer with a positive average spend to fit "
                          "on; the spend model needs customers with at least two purchases")
    if (x <= 0).any() or (m <= 0).any():
        raise ClvFitError("Gamma-Gamma: groups need frequency > 0 and spend > 0")
    res = optimize.minimize(_gg_objective, np.log(np.asarray(initial, dtype=float)),
                            args=(x, s, m, n, l2, *_by_frequency(x, n)), jac=True,
                            method="BFGS",
                            options={"maxiter": max_iter})
    return _fit_result("Gamma-Gamma", GG_NAMES, res, n, len(x), max_iter,
                       lambda prm: float(gg_log_likelihood(prm, x, s, m, n).sum()))


def expected_spend_per_purchase(params: dict[str, float], x: np.ndarray,
                                m: np.ndarray) -> np.ndarray:
    """E(M | x, m_x) under Gamma-Gamma: a weighted mean of the population mean and the
    customer's own average (the population mean when ``x = 0``)."""
    p, q, gamma = (params[k] for k in GG_NAMES)
    x = np.asarray(x, dtype=float)
    m = np.where(x > 0, np.asarray(m, dtype=float), 0.0)
    return (p * (gamma + x * m)) / (p * x + q - 1)
