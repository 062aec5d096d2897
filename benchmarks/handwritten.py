"""Hand-written floors: NumPy (vectorised over leading axes) and numba (scalar code).

Every function here is derived by hand from the models in :mod:`cases`; the harness checks
them against the SymPy reference like any other contender.
"""

from __future__ import annotations

import numpy as np
from cases import README_SIGMA, README_Y, TORUS_R, logreg_data

__all__ = ["NUMPY_FLOORS", "numba_floor", "numba_mala"]

_K = 1.0 / README_SIGMA**2
_A = np.array([[1.0, -0.5], [-0.5, 1.0]])


# --- NumPy -----------------------------------------------------------------------------


def _readme_u_derivs(x, order):
    """u = (cos a, sin b), a = 3 x0 - x1^2, b = x0 - 1, and its derivatives up to
    ``order``: values (..., 2), du (..., l, i), d2u (..., l, i, j), d3u (..., l, i, j, k)."""
    x0, x1 = x[..., 0], x[..., 1]
    a = 3 * x0 - x1**2
    b = x0 - 1
    sa, ca, sb, cb = np.sin(a), np.cos(a), np.sin(b), np.cos(b)
    zero = np.zeros_like(x0)
    one = np.ones_like(x0)
    da = np.stack([3 * one, -2 * x1], axis=-1)
    d2a = np.zeros((*x0.shape, 2, 2))
    d2a[..., 1, 1] = -2
    db = np.stack([one, zero], axis=-1)
    out = [np.stack([ca, sb], axis=-1)]
    out.append(np.stack([-sa[..., None] * da, cb[..., None] * db], axis=-2))
    if order >= 2:
        dada = da[..., :, None] * da[..., None, :]
        dbdb = db[..., :, None] * db[..., None, :]
        d2u0 = -ca[..., None, None] * dada - sa[..., None, None] * d2a
        d2u1 = -sb[..., None, None] * dbdb
        out.append(np.stack([d2u0, d2u1], axis=-3))
    if order >= 3:
        dadada = dada[..., :, :, None] * da[..., None, None, :]
        mixed = (
            np.einsum("...ik,...j->...ijk", d2a, da)
            + np.einsum("...i,...jk->...ijk", da, d2a)
            + np.einsum("...ij,...k->...ijk", d2a, da)
        )
        d3u0 = sa[..., None, None, None] * dadada - ca[..., None, None, None] * mixed
        d3u1 = -cb[..., None, None, None] * (dbdb[..., :, :, None] * db[..., None, None, :])
        out.append(np.stack([d3u0, d3u1], axis=-4))
    return out


def np_readme_fwd_jac(x):
    _, du = _readme_u_derivs(x, 1)
    return np.einsum("kl,...li->...ki", _A, du)


def np_readme_grad(x):
    u, du = _readme_u_derivs(x, 1)
    r = README_Y - u @ _A.T
    d_r = -np.einsum("kl,...li->...ki", _A, du)
    return _K * np.einsum("...k,...ki->...i", r, d_r) + x


def np_readme_grad_val(x):
    u, du = _readme_u_derivs(x, 1)
    r = README_Y - u @ _A.T
    d_r = -np.einsum("kl,...li->...ki", _A, du)
    grad = _K * np.einsum("...k,...ki->...i", r, d_r) + x
    return grad, 0.5 * (_K * np.sum(r * r, axis=-1) + np.sum(x * x, axis=-1))


def np_readme_hess(x):
    u, du, d2u = _readme_u_derivs(x, 2)
    r = README_Y - u @ _A.T
    d_r = -np.einsum("kl,...li->...ki", _A, du)
    d2_r = -np.einsum("kl,...lij->...kij", _A, d2u)
    hess = np.einsum("...ki,...kj->...ij", d_r, d_r) + np.einsum("...k,...kij->...ij", r, d2_r)
    return _K * hess + np.eye(2)


def np_readme_mtp(x, m):
    u, du, d2u, d3u = _readme_u_derivs(x, 3)
    r = README_Y - u @ _A.T
    d_r = -np.einsum("kl,...li->...ki", _A, du)
    d2_r = -np.einsum("kl,...lij->...kij", _A, d2u)
    d3_r = -np.einsum("kl,...lijq->...kijq", _A, d3u)
    third = (
        np.einsum("...kjl,...ki->...ijl", d2_r, d_r)
        + np.einsum("...kj,...kil->...ijl", d_r, d2_r)
        + np.einsum("...kl,...kij->...ijl", d_r, d2_r)
        + np.einsum("...k,...kijl->...ijl", r, d3_r)
    )
    return _K * np.einsum("...ijl,...jl->...i", third, m)


def np_rosen_grad_val(x):
    d = x[..., 1:] - x[..., :-1] ** 2
    e = 1 - x[..., :-1]
    g = np.zeros_like(x)
    g[..., :-1] = -400 * x[..., :-1] * d - 2 * e
    g[..., 1:] += 200 * d
    return g, np.sum(100 * d * d + e * e, axis=-1)


def np_rosen_grad(x):
    return np_rosen_grad_val(x)[0]


def np_rosen_hess(x):
    n = x.shape[-1]
    diag = np.zeros_like(x)
    diag[..., :-1] = 1200 * x[..., :-1] ** 2 - 400 * x[..., 1:] + 2
    diag[..., 1:] += 200
    h = np.zeros((*x.shape, n))
    idx = np.arange(n)
    h[..., idx, idx] = diag
    off = -400 * x[..., :-1]
    h[..., idx[:-1], idx[1:]] = off
    h[..., idx[1:], idx[:-1]] = off
    return h


def _torus_parts(q):
    rho = np.sqrt(q[..., 0] ** 2 + q[..., 1] ** 2)
    return rho, rho - TORUS_R


def np_torus_jac(q):
    rho, s = _torus_parts(q)
    c = 2 * s / rho
    return np.stack([c * q[..., 0], c * q[..., 1], 2 * q[..., 2]], axis=-1)[..., None, :]


def np_torus_mhp(q, m):
    rho, s = _torus_parts(q)
    q0, q1 = q[..., 0], q[..., 1]
    diag = 2 * s / rho
    cross = 2 * TORUS_R / rho**3
    m0, m1, m2 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    h00 = diag + cross * q0 * q0
    h01 = cross * q0 * q1
    h11 = diag + cross * q1 * q1
    return np.stack([h00 * m0 + h01 * m1, h01 * m0 + h11 * m1, 2 * m2], axis=-1)


def np_logreg_grad_val(w):
    x_data, y_data = logreg_data()
    z = w @ x_data.T
    s = 1 / (1 + np.exp(-z))
    grad = (s - y_data) @ x_data + w
    val = np.sum(np.log1p(np.exp(z)) - y_data * z, axis=-1) + 0.5 * np.sum(w * w, axis=-1)
    return grad, val


def np_logreg_grad(w):
    return np_logreg_grad_val(w)[0]


def np_logreg_hess(w):
    x_data, _ = logreg_data()
    z = w @ x_data.T
    s = 1 / (1 + np.exp(-z))
    return np.einsum("...i,ij,ik->...jk", s * (1 - s), x_data, x_data) + np.eye(w.shape[-1])


#: case name -> (function, grad_and_value or None)
NUMPY_FLOORS = {
    "readme-grad": (np_readme_grad, np_readme_grad_val),
    "readme-hess": (np_readme_hess, None),
    "readme-mtp": (np_readme_mtp, None),
    "readme_fwd-jac": (np_readme_fwd_jac, None),
    "rosen2-grad": (np_rosen_grad, np_rosen_grad_val),
    "rosen2-hess": (np_rosen_hess, None),
    "rosen10-grad": (np_rosen_grad, np_rosen_grad_val),
    "rosen10-hess": (np_rosen_hess, None),
    "rosen60-grad": (np_rosen_grad, np_rosen_grad_val),
    "rosen60-hess": (np_rosen_hess, None),
    "torus-jac": (np_torus_jac, None),
    "torus-mhp": (np_torus_mhp, None),
    "logreg-grad": (np_logreg_grad, np_logreg_grad_val),
    "logreg-hess": (np_logreg_hess, None),
}


# --- numba -----------------------------------------------------------------------------

_numba_cache: dict = {}


def _numba_kernels():
    """In-place scalar kernels ``k(x, out)`` / ``k(x, m, out)`` and grad-and-value
    functions, compiled lazily (importing this module must not need numba)."""
    if _numba_cache:
        return _numba_cache
    from handwritten_numba import KERNELS

    _numba_cache.update(KERNELS)
    return _numba_cache


def numba_floor(case):
    """(point, batch, grad_and_value) numba dispatchers for ``case``, or None if there is
    no hand-written numba version. ``point(x[, m])`` returns a new array; ``batch``
    takes arrays with one leading axis and loops in compiled code."""
    import numba as nb

    kernels = _numba_kernels()
    key = case.name
    if key.startswith("rosen"):
        key = "rosen-" + case.op
    if key not in kernels:
        return None
    into, gv = kernels[key]
    shape = case.out_shape

    if case.has_m:

        @nb.njit
        def point(x, m):
            out = np.empty(shape)
            into(x, m, out)
            return out

        @nb.njit
        def batch(x, m):
            out = np.empty((x.shape[0], *shape))
            for i in range(x.shape[0]):
                into(x[i], m[i], out[i])
            return out

    else:

        @nb.njit
        def point(x):
            out = np.empty(shape)
            into(x, out)
            return out

        @nb.njit
        def batch(x):
            out = np.empty((x.shape[0], *shape))
            for i in range(x.shape[0]):
                into(x[i], out[i])
            return out

    return point, batch, gv


_mala = []


def numba_mala():
    """The compiled MALA loop: ``mala(gv, x0, eps, noise, log_u) -> (x, accepted)``,
    where ``gv`` is any numba-callable ``x -> (grad U(x), U(x))``, passed as a
    first-class function (one specialisation per ``gv``)."""
    if _mala:
        return _mala[0]
    import numba as nb

    @nb.njit
    def mala(gv, x0, eps, noise, log_u):
        half_eps2 = 0.5 * eps * eps
        inv_2eps2 = 1.0 / (2.0 * eps * eps)
        n = x0.shape[0]
        x = x0.copy()
        g, v = gv(x)
        accepted = 0
        for i in range(noise.shape[0]):
            y = np.empty(n)
            for j in range(n):
                y[j] = x[j] - half_eps2 * g[j] + eps * noise[i, j]
            gy, vy = gv(y)
            s_fwd = 0.0
            s_back = 0.0
            for j in range(n):
                d = eps * noise[i, j]
                s_fwd += d * d
                b = x[j] - y[j] + half_eps2 * gy[j]
                s_back += b * b
            log_a = v - vy + (s_fwd - s_back) * inv_2eps2
            if log_u[i] < log_a:
                x, g, v = y, gy, vy
                accepted += 1
        return x, accepted

    _mala.append(mala)
    return mala
