"""BG/NBD and Gamma-Gamma: likelihoods on sufficient statistics, fits and predictions.

Pure numpy/scipy, no Spark: the fits take the small tables Spark reduces the population
to (distinct ``(frequency, recency, T)`` patterns with their counts; repeat buyers'
``(frequency, spend bin)`` groups with the sum of their log spend), and the predictions
take numpy arrays (Spark calls them batch by batch in a pandas UDF).

Log-likelihoods follow Fader, Hardie & Lee (2005) and Fader & Hardie (2013), written with
``gammaln``/``betaln`` and a log-sum-exp so that large frequencies and long histories
neither overflow nor lose precision. Both fits minimise the weighted *mean* negative
log-likelihood over log-parameters (so every parameter stays positive) with L-BFGS-B and
analytic gradients, plus an optional L2 penalty ``l2 * sum(params**2)`` (the same form as
the ``lifetimes`` package's ``penalizer_coef``).

Example:
    >>> import numpy as np
    >>> fit = fit_bgnbd(np.array([0, 2]), np.array([0.0, 30.4]), np.array([38.9, 38.9]),
    ...                 np.array([1400, 957]))                             # doctest: +SKIP
    >>> fit.params                                                         # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy.special import betaln, digamma, gammaln, hyp2f1

from vista.errors import VistaError

BGNBD_NAMES = ("r", "alpha", "a", "b")
GG_NAMES = ("p", "q", "gamma")


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


def _bgnbd_objective(log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray, t: np.ndarray,
                     w: np.ndarray, l2: float) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood (+ L2) and its gradient in log-parameters."""
    params = np.exp(log_params)
    r, alpha, a, b = params
    buyer = x > 0
    bx1 = np.where(buyer, b + x - 1, 1.0)
    a3 = -(r + x) * np.log(alpha + t)
    a4 = np.where(buyer, np.log(a) - np.log(bx1) - (r + x) * np.log(alpha + t_x), -np.inf)
    lse = np.logaddexp(a3, a4)
    ll = (gammaln(r + x) - gammaln(r) + r * np.log(alpha)
          + betaln(a, b + x) - betaln(a, b) + lse)
    share4 = np.exp(a4 - lse)  # the weight of the "dropped out after the last purchase" term
    share3 = 1.0 - share4
    d_r = (digamma(r + x) - digamma(r) + np.log(alpha)
           - share3 * np.log(alpha + t) - share4 * np.log(alpha + t_x))
    d_alpha = r / alpha - share3 * (r + x) / (alpha + t) - share4 * (r + x) / (alpha + t_x)
    d_a = digamma(a + b) - digamma(a + b + x) + share4 / a
    d_b = (digamma(b + x) - digamma(a + b + x) - digamma(b) + digamma(a + b)
           - np.where(buyer, share4 / bx1, 0.0))
    n = w.sum()
    value = -(w * ll).sum() / n + l2 * float((params ** 2).sum())
    grad = -np.array([(w * d).sum() for d in (d_r, d_alpha, d_a, d_b)]) / n
    grad = (grad + 2 * l2 * params) * params  # chain rule for log-parameters
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
        l2: L2 penalty on the parameters (0 = plain maximum likelihood).
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
                            args=(x, t_x, t, w, l2), jac=True, method="L-BFGS-B",
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
    if not res.success or not finite:
        raise ClvFitError(
            f"{model} fit did not converge after {res.nit} iterations ({res.message}; "
            f"parameters {dict(zip(names, np.round(params, 6).tolist(), strict=True))}). "
            f"Try: a small L2 penalty (segments.clv.l2_penalty, e.g. 0.001), a higher "
            f"segments.clv.max_iterations (now {max_iter}), a coarser time unit, or more "
            f"purchase history; very few repeat buyers also make the fit ill-posed")
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
                  n: np.ndarray, l2: float) -> tuple[float, np.ndarray]:
    params = np.exp(log_params)
    p, q, gamma = params
    px = p * x
    log_xm = np.log(x * m + gamma)
    ll = gg_log_likelihood(params, x, sum_log_m, m, n)
    psi = digamma(px + q)
    d_p = n * x * (psi - digamma(px) + np.log(x) - log_xm) + x * sum_log_m
    d_q = n * (psi - digamma(q) + np.log(gamma) - log_xm)
    d_g = n * (q / gamma - (px + q) / (x * m + gamma))
    total = n.sum()
    value = -ll.sum() / total + l2 * float((params ** 2).sum())
    grad = -np.array([d.sum() for d in (d_p, d_q, d_g)]) / total
    return float(value), (grad + 2 * l2 * params) * params


def fit_gamma_gamma(x: np.ndarray, sum_log_m: np.ndarray, m: np.ndarray, n: np.ndarray,
                    l2: float = 0.0, max_iter: int = 1000,
                    initial: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> Fit:
    """Fit Gamma-Gamma by maximum likelihood on repeat buyers' spend groups.

    Args:
        x: Frequency (repeat purchases, > 0) per group.
        sum_log_m: Sum of the group's log average spend.
        m: The group's representative average spend (> 0).
        n: Customers per group.
        l2: L2 penalty on the parameters.
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
                            args=(x, s, m, n, l2), jac=True, method="L-BFGS-B",
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
