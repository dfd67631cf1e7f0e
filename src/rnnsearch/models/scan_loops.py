"""The time loops of scan.py, run as TorchScript: no Python interpreter between the steps.

Paper: the gated unit of App. A.1.1 and the alignment model of Eq. (5)-(6) / App. A.1.2, as in
scan.py, which owns the buffers, the autograd `Function`s and the weight gradients; this module
owns only the four loops over time (a GRU forward, its backpropagation through time, the
attention + GRU forward and its backpropagation). At small sizes (H = 64, B = 16) a step's
kernels take microseconds, and the Python around each op (argument parsing, tensor wrappers)
costs about as much. The loops are written in the subset of Python that `torch.jit.script`
compiles, and `run` executes them as TorchScript: the same ATen ops in the same order on the
same buffers, so the results are bit-identical to running them eagerly
(tests/models/test_scan.py).

The scripted graphs run unoptimised (`torch.jit.optimized_execution(False)`): no profiling
runs, no shape specialisation (a new length S compiles nothing), no fusion (a fuser on CUDA
would change rounding); the interpreter only removes Python's per-op cost. TorchScript is
deprecated in recent torch (2.13 warns, and still runs it); where `torch.jit.script` fails, the
loops run eagerly (same results, slower) after one warning.

Not responsible for: autograd (every loop runs inside a `Function`, under no-grad).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, List, Optional, Tuple

import torch
from torch import Tensor

# TorchScript resolves the annotations of these functions itself; it reads `Optional[Tensor]`
# and typing's `List`/`Tuple` (also as `from __future__ import annotations`' strings) on every
# torch >= 2.4, not `Tensor | None`.
# ruff: noqa: UP006, UP035, UP045

# Eagerly, an overload called by name is ~3x cheaper than the packet's per-call overload lookup;
# TorchScript accepts only the packet (it resolves the overload once, when compiling).
_TANH_BACKWARD = torch.ops.aten.tanh_backward.grad_input  # grad * (1 - y^2), into grad_input
_SIGMOID_BACKWARD = torch.ops.aten.sigmoid_backward.grad_input  # grad * y * (1 - y)


def tanh_backward_into(grad: Tensor, y: Tensor, out: Tensor) -> Tensor:
    """grad * (1 - y^2) into `out`, for y = tanh(a)."""
    if torch.jit.is_scripting():
        return torch.ops.aten.tanh_backward(grad, y, grad_input=out)
    return _TANH_BACKWARD(grad, y, grad_input=out)


def sigmoid_backward_into(grad: Tensor, y: Tensor, out: Tensor) -> Tensor:
    """grad * y * (1 - y) into `out`, for y = sigma(a)."""
    if torch.jit.is_scripting():
        return torch.ops.aten.sigmoid_backward(grad, y, grad_input=out)
    return _SIGMOID_BACKWARD(grad, y, grad_input=out)


def gru_step(
    x_rz: Tensor, x_h: Tensor, h: Tensor, Ug_T: Tensor, U_T: Tensor, rz: Tensor, r: Tensor,
    z: Tensor, rh: Tensor, h_tilde: Tensor, keep: Optional[Tensor], out: Tensor, batched: bool,
) -> Tensor:
    """One gated-unit step; writes [r, z] into `rz`, h~ into `h_tilde` and h' into `out`.

    `r` and `z` are the two halves of `rz` and `rh` a work block for r * h, all made once per
    loop, not per step. With `keep` (1.0 real, 0.0 padding) the stored update gate is z * keep,
    so h' = h exactly at padding, and `gru_step_backward` then yields zero input and weight
    gradients there and passes dL/dh' through unchanged: the reference's `where(keep, h', h)`
    without a select per step. Every `out=` target is a contiguous block (a strided one sends
    baddbmm to a slow kernel). `batched`: leading D dims (baddbmm), else addmm.

    Shapes: x_rz, rz (..., B, 2H); x_h, h, r, z, rh, h_tilde, out (..., B, H); Ug_T (..., H, 2H);
        U_T (..., H, H); keep (..., B, 1); leading dims: none or D
    """
    if batched:
        torch.baddbmm(x_rz, h, Ug_T, out=rz).sigmoid_()  # [r, z]
        torch.baddbmm(x_h, torch.mul(r, h, out=rh), U_T, out=h_tilde).tanh_()  # reset before U
    else:
        torch.addmm(x_rz, h, Ug_T, out=rz).sigmoid_()
        torch.addmm(x_h, torch.mul(r, h, out=rh), U_T, out=h_tilde).tanh_()
    if keep is not None:
        z.mul_(keep)
    return torch.lerp(h, h_tilde, z, out=out)  # (1 - z) h + z h~


def gru_step_backward(
    dh_new: Tensor, h: Tensor, rz: Tensor, r: Tensor, z: Tensor, h_tilde: Tensor, Ug: Tensor,
    U: Tensor, d_rz: Tensor, d_a: Tensor, batched: bool,
) -> Tensor:
    """Backward of `gru_step`: writes d[x_r, x_z] into `d_rz`, d x_h into `d_a`; returns dL/dh.

    `Ug`, `U` are the transposes of `gru_step`'s Ug_T, U_T (views). `d_rz` and `d_a` are
    contiguous blocks: elementwise kernels writing strided views are ~5x slower at these sizes.

    Shapes: dh_new, h, r, z, h_tilde, d_a (..., B, H); rz, d_rz (..., B, 2H)
    """
    tanh_backward_into(dh_new * z, h_tilde, d_a)  # d(W x + U (r h))
    if batched:  # d(r h); matmul's 3-D path would copy
        d_rh = torch.bmm(d_a, U)  # (D, B, H)
    else:
        d_rh = torch.mm(d_a, U)  # (B, H)
    torch.cat([d_rh * h, dh_new * (h_tilde - h)], dim=-1, out=d_rz)  # [dr, dz]
    sigmoid_backward_into(d_rz, rz, d_rz)  # z * keep = 0 at padding
    dh = torch.addcmul(dh_new, dh_new, z, value=-1.0).addcmul_(d_rh, r)  # (1 - z) dh' + r d(rh)
    if batched:
        return torch.baddbmm(dh, d_rz, Ug)
    return torch.addmm(dh, d_rz, Ug)


def _halves(rz: Tensor) -> Tuple[List[Tensor], List[Tensor]]:
    """Per-step views of [r, z]: S x (..., B, H) each, for rz (S, ..., B, 2H)."""
    H = rz.size(-1) // 2
    return rz[..., :H].unbind(0), rz[..., H:].unbind(0)


def gru_loop(
    x_rz: Tensor, x_h: Tensor, keep: Optional[Tensor], h0: Tensor, Ug_T: Tensor, U_T: Tensor,
    rz: Tensor, h_tilde: Tensor, states: Tensor,
) -> None:
    """`gru_step` over S steps from h0, into the step-major buffers `rz`, `h_tilde`, `states`.

    Shapes: x_rz, rz (S, D, B, 2H); x_h, h_tilde, states (S, D, B, H); keep (S, D, B, 1) or
        None; h0 (D, B, H)
    """
    xs_rz, xs_h, rzs, hts, outs = (x_rz.unbind(0), x_h.unbind(0), rz.unbind(0),
                                   h_tilde.unbind(0), states.unbind(0))
    rs, zs = _halves(rz)
    rh, batched, h = torch.empty_like(h0), h0.dim() == 3, h0
    for j in range(len(outs)):
        keep_j: Optional[Tensor] = None
        if keep is not None:
            keep_j = keep[j]  # (D, B, 1)
        h = gru_step(xs_rz[j], xs_h[j], h, Ug_T, U_T, rzs[j], rs[j], zs[j], rh, hts[j], keep_j,
                     outs[j], batched)


def gru_backprop_loop(
    d_states: Tensor, h_prev: Tensor, rz: Tensor, h_tilde: Tensor, Ug_T: Tensor, U_T: Tensor,
    d_rz: Tensor, d_a: Tensor, dh: Tensor,
) -> Tensor:
    """`gru_step_backward` from the last step to the first; returns dL/dh0.

    Shapes: d_states, h_prev, h_tilde, d_a (S, D, B, H); rz, d_rz (S, D, B, 2H); dh (D, B, H)
    """
    d_outs, hs, rzs, hts = d_states.unbind(0), h_prev.unbind(0), rz.unbind(0), h_tilde.unbind(0)
    d_rzs, d_as = d_rz.unbind(0), d_a.unbind(0)
    rs, zs = _halves(rz)
    Ug, U, batched = Ug_T.transpose(-2, -1), U_T.transpose(-2, -1), dh.dim() == 3
    for j in range(len(hs) - 1, -1, -1):
        dh = gru_step_backward(dh + d_outs[j], hs[j], rzs[j], rs[j], zs[j], hts[j], Ug, U,
                               d_rzs[j], d_as[j], batched)
    return dh


def attention_gru_loop(
    x: Tensor, keys2: Tensor, Wa2_T: Tensor, v2: Tensor, pad_bias: Tensor, annotations: Tensor,
    C_T: Tensor, Ug_T: Tensor, U_T: Tensor, states: Tensor, contexts: Tensor, alphas: Tensor,
    sig: Tensor, rz: Tensor, h_tilde: Tensor,
) -> None:
    """For k = 0 .. K-1: c_k = attend(s_k), then (k < N) s_{k+1} = gated(x_k + C c_k, s_k).

    Energies through the logistic (scan.AttentionGRUScan): sigma(2 W_a s + 2 U_a h_j) against
    2 v_a, -inf on padding. Reads s_0 from states[0]; writes s_1 .. s_N, every c_k and alpha_k.
    Every view and work block is made once, before the loop.

    Shapes: x (N, B, 3H); keys2, sig (B, S, A) = 2 U_a h_j and a work block; Wa2_T (H, A);
        v2 (A, 1); pad_bias (B * S, 1); annotations (B, S, C); C_T (C, 3H); states (N + 1, B, H);
        contexts (K, B, 1, C); alphas (K, B, S); rz (N, B, 2H); h_tilde (N, B, H)
    """
    B, S, A = keys2.size(0), keys2.size(1), keys2.size(2)
    N, H2 = x.size(0), rz.size(-1)
    xs, s_out, rzs, hts = x.unbind(0), states.unbind(0), rz.unbind(0), h_tilde.unbind(0)
    rs, zs = _halves(rz)
    alpha_k, alpha_k1 = alphas.unbind(0), alphas.unsqueeze(2).unbind(0)  # (B, S), (B, 1, S)
    c_k1, c_k = contexts.unbind(0), contexts.squeeze(2).unbind(0)  # (B, 1, C), (B, C)
    q = x.new_empty(B, A)  # W_a s_k (times 2)
    energies = x.new_empty(B * S, 1)  # -inf on padding
    g = x.new_empty(B, x.size(-1))  # x_k + C c_k
    sig_rows, q1, e_bs = sig.view(B * S, A), q.unsqueeze(1), energies.view(B, S)
    g_rz, g_h, rh = g[:, :H2], g[:, H2:], x.new_empty(B, H2 // 2)
    s = s_out[0]
    for k in range(len(c_k)):
        torch.mm(s, Wa2_T, out=q)  # (B, A)
        torch.add(keys2, q1, out=sig).sigmoid_()  # (B, S, A)
        torch.addmm(pad_bias, sig_rows, v2, out=energies)
        torch._softmax(e_bs, -1, False, out=alpha_k[k])  # (B, S), = softmax(e, -1)
        torch.bmm(alpha_k1[k], annotations, out=c_k1[k])  # (B, 1, C)
        if k < N:
            torch.addmm(xs[k], c_k[k], C_T, out=g)  # (B, 3H)
            s = gru_step(g_rz, g_h, s, Ug_T, U_T, rzs[k], rs[k], zs[k], rh, hts[k], None,
                         s_out[k + 1], False)


def attention_gru_backprop_loop(
    ds: Tensor, states: Tensor, rz: Tensor, h_tilde: Tensor, d_rz: Tensor, d_a: Tensor,
    d_states: Tensor, d_contexts: Tensor, alphas: Tensor, q2: Tensor, dq: Tensor, keys2: Tensor,
    ann_T: Tensor, v4: Tensor, Wa: Tensor, C_rz: Tensor, C_h: Tensor, Ug_T: Tensor, U_T: Tensor,
    sig: Tensor, d_pre_buf: Tensor, d_v: Tensor, d_keys: Tensor, des: Tensor, dcs: Tensor,
) -> Tensor:
    """Backpropagation through `attention_gru_loop`, from step K-1 down to 0; returns dL/ds_0.

    Writes d(x_k + C c_k) into `d_rz`/`d_a`, d(W_a s_k) into `dq`, dL/de_k into `des`, dL/dc_k
    into `dcs`, and accumulates into `d_v` (sum de sigma(2a)) and `d_keys`.

    Shapes: ds (B, H) = dL/ds_N; states (N + 1, B, H); rz, d_rz (N, B, 2H); h_tilde, d_a
        (N, B, H); d_states (N + 1, B, H); d_contexts (K, B, C); alphas, des (K, B, S);
        q2 (K, B, 1, A); dq (K, B, A); keys2, sig, d_pre_buf, d_keys (B, S, A); ann_T (B, C, S);
        v4 (A,); Wa (A, H); C_rz (2H, C); C_h (H, C); d_v (A,); dcs (B, K, C)
    """
    N, K, A = rz.size(0), alphas.size(0), keys2.size(-1)
    s_k, rz_k, ht_k, d_rz_k, d_a_k = (states.unbind(0), rz.unbind(0), h_tilde.unbind(0),
                                      d_rz.unbind(0), d_a.unbind(0))
    d_s_k, d_c_k, alpha_k, q2_k, dq_k = (d_states.unbind(0), d_contexts.unbind(0),
                                         alphas.unbind(0), q2.unbind(0), dq.unbind(0))
    rs, zs = _halves(rz)
    de_k, de_k1, de_rows = des.unbind(0), des.unsqueeze(-1).unbind(0), des.flatten(1).unbind(0)
    dc_out, sig_cols = dcs.unbind(1), sig.view(-1, A).t()  # K x (B, C); (A, B * S)
    d_alpha1 = des.new_empty(des.size(1), 1, des.size(2))  # (B, 1, S)
    d_alpha, Ug, U = d_alpha1.squeeze(1), Ug_T.t(), U_T.t()
    for k in range(K - 1, -1, -1):
        dc = d_c_k[k]
        if k < N:
            ds = gru_step_backward(ds, s_k[k], rz_k[k], rs[k], zs[k], ht_k[k], Ug, U, d_rz_k[k],
                                   d_a_k[k], False)
            dc = torch.addmm(dc, d_rz_k[k], C_rz).addmm_(d_a_k[k], C_h)  # (B, C)
            ds.add_(d_s_k[k])
        dc_out[k].copy_(dc)
        torch.bmm(dc.unsqueeze(1), ann_T, out=d_alpha1)  # (B, 1, S)
        torch._softmax_backward_data(d_alpha, alpha_k[k], -1, d_alpha.dtype, grad_input=de_k[k])
        d_pre = torch.mul(de_k1[k], v4, out=d_pre_buf)  # (B, S, A), reused block
        u = torch.add(keys2, q2_k[k], out=sig).sigmoid_()  # (B, S, A), as in forward
        d_v.addmv_(sig_cols, de_rows[k])
        sigmoid_backward_into(d_pre, u, d_pre)
        d_keys.add_(d_pre)
        ds.addmm_(torch.sum(d_pre, dim=1, out=dq_k[k]), Wa)
    return ds


# False runs the same loops eagerly: the bit-identity tests and the A/B timings flip it.
SCRIPT = True
_SCRIPTED: dict[Callable, Callable] = {}


def scripted(fn: Callable) -> Callable:
    """`torch.jit.script(fn)`, built once per function; `fn` itself where scripting fails."""
    if fn not in _SCRIPTED:
        try:
            with warnings.catch_warnings():  # recent torch deprecates TorchScript
                warnings.simplefilter("ignore", DeprecationWarning)
                _SCRIPTED[fn] = torch.jit.script(fn)
        except Exception as err:  # noqa: BLE001 (any failure: run the same code eagerly)
            warnings.warn(f"scan loops run eagerly: torch.jit.script failed ({err})", stacklevel=2)
            _SCRIPTED[fn] = fn
    return _SCRIPTED[fn]


def run(fn: Callable, *args: Any) -> Any:
    """`fn(*args)`, as unoptimised TorchScript unless `SCRIPT` is off (see the module docstring)."""
    if not SCRIPT:
        return fn(*args)
    with torch.jit.optimized_execution(False):
        return scripted(fn)(*args)
