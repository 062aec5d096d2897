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
    import math

    import numba as nb

    k = _K
    x_data, y_data = (np.array(a) for a in logreg_data())

    @nb.njit(fastmath=False)
    def readme_grad_into(x, out):
        x0, x1 = x[0], x[1]
        a = 3.0 * x0 - x1 * x1
        sa, ca = math.sin(a), math.cos(a)
        sb, cb = math.sin(x0 - 1.0), math.cos(x0 - 1.0)
        r0 = 1.0 - (ca - 0.5 * sb)
        r1 = -(-0.5 * ca + sb)
        w0 = r0 - 0.5 * r1
        w1 = -0.5 * r0 + r1
        out[0] = -k * (-3.0 * sa * w0 + cb * w1) + x0
        out[1] = -k * (2.0 * x1 * sa * w0) + x1

    @nb.njit
    def readme_gv(x):
        x0, x1 = x[0], x[1]
        a = 3.0 * x0 - x1 * x1
        sa, ca = math.sin(a), math.cos(a)
        sb, cb = math.sin(x0 - 1.0), math.cos(x0 - 1.0)
        r0 = 1.0 - (ca - 0.5 * sb)
        r1 = -(-0.5 * ca + sb)
        w0 = r0 - 0.5 * r1
        w1 = -0.5 * r0 + r1
        g = np.empty(2)
        g[0] = -k * (-3.0 * sa * w0 + cb * w1) + x0
        g[1] = -k * (2.0 * x1 * sa * w0) + x1
        return g, 0.5 * (k * (r0 * r0 + r1 * r1) + x0 * x0 + x1 * x1)

    @nb.njit
    def readme_b(x0, x1):
        # B = A J_u, J_u = [[-3 sa, 2 x1 sa], [cb, 0]]
        a = 3.0 * x0 - x1 * x1
        sa = math.sin(a)
        cb = math.cos(x0 - 1.0)
        j00, j01, j10 = -3.0 * sa, 2.0 * x1 * sa, cb
        return j00 - 0.5 * j10, j01, -0.5 * j00 + j10, -0.5 * j01

    @nb.njit
    def readme_fwd_jac_into(x, out):
        b00, b01, b10, b11 = readme_b(x[0], x[1])
        out[0, 0] = b00
        out[0, 1] = b01
        out[1, 0] = b10
        out[1, 1] = b11

    @nb.njit
    def readme_hess_into(x, out):
        x0, x1 = x[0], x[1]
        a = 3.0 * x0 - x1 * x1
        sa, ca = math.sin(a), math.cos(a)
        sb = math.sin(x0 - 1.0)
        r0 = 1.0 - (ca - 0.5 * sb)
        r1 = -(-0.5 * ca + sb)
        w0 = r0 - 0.5 * r1
        w1 = -0.5 * r0 + r1
        b00, b01, b10, b11 = readme_b(x0, x1)
        # d2u0 = [[-9 ca, 6 x1 ca], [6 x1 ca, 2 sa - 4 x1^2 ca]], d2u1 = [[-sb, 0], [0, 0]]
        h00 = b00 * b00 + b10 * b10 - (w0 * -9.0 * ca + w1 * -sb)
        h01 = b00 * b01 + b10 * b11 - w0 * 6.0 * x1 * ca
        h11 = b01 * b01 + b11 * b11 - w0 * (2.0 * sa - 4.0 * x1 * x1 * ca)
        out[0, 0] = k * h00 + 1.0
        out[0, 1] = k * h01
        out[1, 0] = k * h01
        out[1, 1] = k * h11 + 1.0

    @nb.njit
    def readme_mtp_into(x, m, out):
        x0, x1 = x[0], x[1]
        a = 3.0 * x0 - x1 * x1
        sa, ca = math.sin(a), math.cos(a)
        sb, cb = math.sin(x0 - 1.0), math.cos(x0 - 1.0)
        da = (3.0, -2.0 * x1)
        d2a11 = -2.0
        du = np.empty((2, 2))
        d2u = np.zeros((2, 2, 2))
        d3u = np.zeros((2, 2, 2, 2))
        for i in range(2):
            du[0, i] = -sa * da[i]
        du[1, 0] = cb
        du[1, 1] = 0.0
        for i in range(2):
            for j in range(2):
                d2a_ij = d2a11 if (i == 1 and j == 1) else 0.0
                d2u[0, i, j] = -ca * da[i] * da[j] - sa * d2a_ij
                for l in range(2):  # noqa: E741
                    d2a_il = d2a11 if (i == 1 and l == 1) else 0.0
                    d2a_jl = d2a11 if (j == 1 and l == 1) else 0.0
                    d3u[0, i, j, l] = sa * da[i] * da[j] * da[l] - ca * (
                        d2a_il * da[j] + da[i] * d2a_jl + d2a_ij * da[l]
                    )
        d2u[1, 0, 0] = -sb
        d3u[1, 0, 0, 0] = -cb
        r = (1.0 - (ca - 0.5 * sb), -(-0.5 * ca + sb))
        amat = ((1.0, -0.5), (-0.5, 1.0))
        dr = np.zeros((2, 2))
        d2r = np.zeros((2, 2, 2))
        d3r = np.zeros((2, 2, 2, 2))
        for kk in range(2):
            for ll in range(2):
                c = -amat[kk][ll]
                for i in range(2):
                    dr[kk, i] += c * du[ll, i]
                    for j in range(2):
                        d2r[kk, i, j] += c * d2u[ll, i, j]
                        for l in range(2):  # noqa: E741
                            d3r[kk, i, j, l] += c * d3u[ll, i, j, l]
        for i in range(2):
            acc = 0.0
            for j in range(2):
                for l in range(2):  # noqa: E741
                    t = 0.0
                    for kk in range(2):
                        t += (
                            d2r[kk, j, l] * dr[kk, i]
                            + dr[kk, j] * d2r[kk, i, l]
                            + dr[kk, l] * d2r[kk, i, j]
                            + r[kk] * d3r[kk, i, j, l]
                        )
                    acc += t * m[j, l]
            out[i] = k * acc

    @nb.njit
    def rosen_grad_into(x, out):
        n = x.shape[0]
        for i in range(n):
            out[i] = 0.0
        for i in range(n - 1):
            d = x[i + 1] - x[i] * x[i]
            out[i] += -400.0 * x[i] * d - 2.0 * (1.0 - x[i])
            out[i + 1] += 200.0 * d

    @nb.njit
    def rosen_gv(x):
        n = x.shape[0]
        g = np.zeros(n)
        v = 0.0
        for i in range(n - 1):
            d = x[i + 1] - x[i] * x[i]
            e = 1.0 - x[i]
            g[i] += -400.0 * x[i] * d - 2.0 * e
            g[i + 1] += 200.0 * d
            v += 100.0 * d * d + e * e
        return g, v

    @nb.njit
    def rosen_hess_into(x, out):
        n = x.shape[0]
        out[:, :] = 0.0
        for i in range(n - 1):
            out[i, i] += 1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0
            out[i + 1, i + 1] += 200.0
            out[i, i + 1] = -400.0 * x[i]
            out[i + 1, i] = -400.0 * x[i]

    @nb.njit
    def torus_jac_into(q, out):
        rho = math.sqrt(q[0] * q[0] + q[1] * q[1])
        c = 2.0 * (rho - TORUS_R) / rho
        out[0, 0] = c * q[0]
        out[0, 1] = c * q[1]
        out[0, 2] = 2.0 * q[2]

    @nb.njit
    def torus_mhp_into(q, m, out):
        rho = math.sqrt(q[0] * q[0] + q[1] * q[1])
        diag = 2.0 * (rho - TORUS_R) / rho
        cross = 2.0 * TORUS_R / (rho * rho * rho)
        h01 = cross * q[0] * q[1]
        out[0] = (diag + cross * q[0] * q[0]) * m[0, 0] + h01 * m[0, 1]
        out[1] = h01 * m[0, 0] + (diag + cross * q[1] * q[1]) * m[0, 1]
        out[2] = 2.0 * m[0, 2]

    @nb.njit
    def logreg_grad_into(w, out):
        p = w.shape[0]
        for j in range(p):
            out[j] = w[j]
        for i in range(x_data.shape[0]):
            z = 0.0
            for j in range(p):
                z += x_data[i, j] * w[j]
            c = 1.0 / (1.0 + math.exp(-z)) - y_data[i]
            for j in range(p):
                out[j] += c * x_data[i, j]

    @nb.njit
    def logreg_gv(w):
        p = w.shape[0]
        g = w.copy()
        v = 0.0
        for j in range(p):
            v += 0.5 * w[j] * w[j]
        for i in range(x_data.shape[0]):
            z = 0.0
            for j in range(p):
                z += x_data[i, j] * w[j]
            v += math.log1p(math.exp(z)) - y_data[i] * z
            c = 1.0 / (1.0 + math.exp(-z)) - y_data[i]
            for j in range(p):
                g[j] += c * x_data[i, j]
        return g, v

    @nb.njit
    def logreg_hess_into(w, out):
        p = w.shape[0]
        out[:, :] = 0.0
        for j in range(p):
            out[j, j] = 1.0
        for i in range(x_data.shape[0]):
            z = 0.0
            for j in range(p):
                z += x_data[i, j] * w[j]
            s = 1.0 / (1.0 + math.exp(-z))
            c = s * (1.0 - s)
            for j in range(p):
                cj = c * x_data[i, j]
                for jj in range(p):
                    out[j, jj] += cj * x_data[i, jj]

    _numba_cache.update(
        {
            "readme-grad": (readme_grad_into, readme_gv),
            "readme-hess": (readme_hess_into, None),
            "readme-mtp": (readme_mtp_into, None),
            "readme_fwd-jac": (readme_fwd_jac_into, None),
            "rosen-grad": (rosen_grad_into, rosen_gv),
            "rosen-hess": (rosen_hess_into, None),
            "torus-jac": (torus_jac_into, None),
            "torus-mhp": (torus_mhp_into, None),
            "logreg-grad": (logreg_grad_into, logreg_gv),
            "logreg-hess": (logreg_hess_into, None),
        }
    )
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
