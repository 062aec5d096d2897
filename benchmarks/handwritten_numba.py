"""Hand-written numba floors: scalar kernels ``k(x, out)`` / ``k(x, m, out)`` and
grad-and-value functions, derived by hand from the models in :mod:`cases`. Imported
lazily by :mod:`handwritten` (importing that module must not need numba)."""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from cases import README_SIGMA, TORUS_R, logreg_data

k = 1.0 / README_SIGMA**2
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
def _readme_u_derivs(x):
    """u = (cos a, sin b) and its first three derivatives (l, i[, j[, k]])."""
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
    return r, du, d2u, d3u


@nb.njit
def readme_mtp_into(x, m, out):
    r, du, d2u, d3u = _readme_u_derivs(x)
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


#: case key -> (kernel writing into ``out``, grad-and-value function or None)
KERNELS = {
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


# --- data models (issue 11): data passed as arguments, any N --------------------------
# What a user writes by hand: one pass over the rows, accumulating into the output; the
# Hessian accumulates the upper triangle and mirrors it. phi is log1p(exp(z)) for the
# logistic regression, exp(z) for the Poisson regression (the data models of cases.py,
# prior |beta|^2 / 2).


def _glm_data_kernels(poisson: bool):
    """(grad, hess) njit functions ``(beta, X, y) -> out``; ``poisson`` is frozen into
    the compiled code (numba treats closure variables as constants: no branch per row)."""

    @nb.njit
    def grad(beta, x, y):
        n, p = x.shape
        out = beta.copy()
        for i in range(n):
            z = 0.0
            for j in range(p):
                z += x[i, j] * beta[j]
            d1 = math.exp(z) if poisson else 1.0 / (1.0 + math.exp(-z))
            c = d1 - y[i]
            for j in range(p):
                out[j] += c * x[i, j]
        return out

    @nb.njit
    def hess(beta, x, y):
        n, p = x.shape
        out = np.zeros((p, p))
        for i in range(n):
            z = 0.0
            for j in range(p):
                z += x[i, j] * beta[j]
            if poisson:
                c = math.exp(z)
            else:
                s = 1.0 / (1.0 + math.exp(-z))
                c = s * (1.0 - s)
            for j in range(p):
                cj = c * x[i, j]
                for k in range(j, p):
                    out[j, k] += cj * x[i, k]
        for j in range(p):
            out[j, j] += 1.0
            for k in range(j + 1, p):
                out[k, j] = out[j, k]
        return out

    return grad, hess


_logreg_data = _glm_data_kernels(poisson=False)
_poisson_data = _glm_data_kernels(poisson=True)

#: (data model, op) -> njit function (beta, X, y) -> output
DATA_KERNELS = {
    ("logreg", "grad"): _logreg_data[0],
    ("logreg", "hess"): _logreg_data[1],
    ("poisson", "grad"): _poisson_data[0],
    ("poisson", "hess"): _poisson_data[1],
}
