"""Whole recurrences as single autograd nodes, with their backward over time written by hand.

Paper: the same equations as gru.py (App. A.1.1) and attention.py (Eq. 5-6, App. A.1.2). At small
sizes a training update is dominated by per-step overhead: every step of the reference loops
records ~15-40 autograd nodes. Each `Function` here runs its loop without recording a graph,
saves what the backward needs (states, gates, h~, alignment weights; the attention's
(B, S, A) logistic block is recomputed per step instead) and runs backpropagation through time
itself: a handful of kernels per step, with every weight gradient computed once, after the
loop, as one product over all steps. The arithmetic is the reference's up to floating-point
rounding and summation order (tests/models/test_scan.py: float64, values and gradients).
Selected by the model switch `scan_backward` (models/encoder.py, decoder.py, seq2seq.py).
The loops over time themselves live in scan_loops.py and run as TorchScript (bit-identical).

Not responsible for: the input projections and the deep output (batched over time by callers),
autocast (callers fall back to the reference loops under autocast), double backward.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from rnnsearch.models import scan_loops
from rnnsearch.models.scan_loops import run


def _recurrent_weight_grads(
    h_prev: torch.Tensor, rz: torch.Tensor, d_rz: torch.Tensor, d_a: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """dUg_T = sum_t h^T d[r, z] and dU_T = sum_t (r h)^T d h~-pre, over all steps at once.

    Shapes: h_prev, d_a (..., N, H); rz, d_rz (..., N, 2H) with N = all (step, batch) rows
    """
    H = h_prev.size(-1)
    d_Ug_T = torch.matmul(h_prev.mT, d_rz)  # (..., H, 2H)
    d_U_T = torch.matmul((rz[..., :H] * h_prev).mT, d_a)  # (..., H, H)
    return d_Ug_T, d_U_T


class GRUScan(torch.autograd.Function):
    """D independent gated RNNs over S steps, masked: a padded step carries the state unchanged.

    Step-major layout, so every per-step slice is one contiguous block.

    Shapes:
        x: (S, D, B, 3H) input projections in step order; keep: (S, D, B, 1) bool or None (all
        real); h0: (D, B, H); Ug_T: (D, H, 2H) = [U_r; U_z]^T; U_T: (D, H, H) = U^T
        returns: (S, D, B, H) the state after every step
    """

    @staticmethod
    def forward(ctx, x, keep, h0, Ug_T, U_T):  # noqa: D102
        H = h0.size(-1)
        x_rz, x_h = x[..., : 2 * H].contiguous(), x[..., 2 * H :].contiguous()
        Ug_T, U_T = Ug_T.contiguous(), U_T.contiguous()
        rz = torch.empty_like(x_rz)  # (S, D, B, 2H) = [r, z * keep] per step
        h_tilde = torch.empty_like(x_h)  # (S, D, B, H)
        states = torch.empty_like(x_h)  # (S, D, B, H)
        keep = None if keep is None else keep.to(x.dtype)  # (S, D, B, 1)
        run(scan_loops.gru_loop, x_rz, x_h, keep, h0, Ug_T, U_T, rz, h_tilde, states)
        ctx.save_for_backward(h0, Ug_T, U_T, rz, h_tilde, states)
        return states

    @staticmethod
    @once_differentiable
    def backward(ctx, d_states):  # noqa: D102
        h0, Ug_T, U_T, rz, h_tilde, states = ctx.saved_tensors
        S, D, B, H = states.shape
        d_rz, d_a = torch.empty_like(rz), torch.empty_like(h_tilde)
        h_prev = torch.cat([h0.unsqueeze(0), states[:-1]])  # (S, D, B, H)
        dh = run(scan_loops.gru_backprop_loop, d_states, h_prev, rz, h_tilde, Ug_T, U_T, d_rz,
                 d_a, torch.zeros_like(h0))  # (D, B, H)

        def by_dir(t: torch.Tensor) -> torch.Tensor:  # (S, D, B, K) -> (D, S * B, K)
            return t.transpose(0, 1).reshape(D, S * B, t.size(-1))

        d_Ug_T, d_U_T = _recurrent_weight_grads(*map(by_dir, (h_prev, rz, d_rz, d_a)))
        return torch.cat([d_rz, d_a], dim=-1), None, dh, d_Ug_T, d_U_T


def gru_scan(
    x: torch.Tensor, keep: torch.Tensor | None, h0: torch.Tensor, Ug_T: torch.Tensor,
    U_T: torch.Tensor,
) -> torch.Tensor:
    """`GRUScan.apply` with contiguous inputs (see `GRUScan` for the shapes)."""
    keep = None if keep is None else keep.contiguous()
    return GRUScan.apply(x.contiguous(), keep, h0.contiguous(), Ug_T, U_T)


class AttentionGRUScan(torch.autograd.Function):
    """The RNNsearch decoder recurrence: alternate c_k = attend(s_k) and s_{k+1} = f(s_k, c_k).

    For k = 0 .. N-1: c_k = sum_j alpha_kj h_j with alpha_k = softmax_j(v_a^T tanh(W_a s_k +
    U_a h_j)) over real tokens, then s_{k+1} = gated(x_k + C c_k, s_k). With `final_attention`
    one more c_N = attend(s_N) follows (GroundHog order: the last prediction needs it).

    Shapes:
        x: (N, B, 3H) input projections of the words; s0: (B, H); keys: (B, S, A) = U_a h_j;
        annotations: (B, S, C); src_mask: (B, S) bool; C_T: (C, 3H); Wa_T: (H, A); v: (A, 1);
        Ug_T: (H, 2H); U_T: (H, H)
        returns: states (N + 1, B, H) = s_0 .. s_N; contexts (K, B, C), K = N (+ 1 if final)

    tanh through the logistic function: tanh(a) = 2 sigma(2a) - 1, so v_a^T tanh(a_j) =
    (2 v_a)^T sigma(2 a_j) - sum(v_a). The constant does not depend on j, and the softmax over j
    ignores it, so the loop computes sigma(2 W_a s + 2 U_a h_j) only: one logistic (about three
    times cheaper than tanh on CPU) and no "2 sigma - 1" pass over the (B, S, A) block.
    """

    @staticmethod
    def forward(ctx, x, s0, keys, annotations, src_mask, C_T, Wa_T, v, Ug_T, U_T, final):  # noqa: D102
        N, B, _ = x.shape
        S, H, K = keys.size(1), s0.size(-1), N + 1 if final else N
        states = x.new_empty(N + 1, B, H)  # s_0 .. s_N
        contexts = x.new_empty(K, B, 1, annotations.size(-1))  # (K, B, 1, C)
        sig = torch.empty_like(keys)  # (B, S, A) = sigma(2 (W_a s_k + U_a h_j)), one step's
        rz, h_tilde = x.new_empty(N, B, 2 * H), x.new_empty(N, B, H)  # per update
        keys2, Wa2_T, v2 = 2.0 * keys, 2.0 * Wa_T, 2.0 * v
        pad_bias = keys.new_zeros(B * S, 1).masked_fill_(~src_mask.view(-1, 1), float("-inf"))
        C_T, Ug_T, U_T = C_T.contiguous(), Ug_T.contiguous(), U_T.contiguous()
        alphas = x.new_empty(K, B, S)  # (K, B, S)
        states[0].copy_(s0)
        run(scan_loops.attention_gru_loop, x, keys2, Wa2_T, v2, pad_bias, annotations, C_T, Ug_T,
            U_T, states, contexts, alphas, sig, rz, h_tilde)
        contexts = contexts.squeeze(2)  # (K, B, C)
        ctx.save_for_backward(annotations, C_T, Wa_T, v, Ug_T, U_T, states, contexts, keys2,
                              alphas, rz, h_tilde)
        return states, contexts

    @staticmethod
    @once_differentiable
    def backward(ctx, d_states, d_contexts):  # noqa: D102
        annotations, C_T, Wa_T, v, Ug_T, U_T, states, contexts, keys2, alphas, rz, h_tilde = (
            ctx.saved_tensors
        )
        N, K, B, H = rz.size(0), contexts.size(0), states.size(1), states.size(-1)
        A = keys2.size(-1)
        d_rz, d_a = torch.empty_like(rz), torch.empty_like(h_tilde)  # d(x_k + C c_k)
        C_rz, C_h = C_T[:, : 2 * H].t(), C_T[:, 2 * H :].t()
        dq = keys2.new_empty(K, B, A)  # (K, B, A) = d(W_a s_k)
        # sigma(2 a) is recomputed per step, not stored: a (K, B, S, A) block costs more in
        # first-touch page faults and memory than one more sum and logistic per step.
        q2 = (states[:K] @ (2.0 * Wa_T)).unsqueeze(2)  # (K, B, 1, A) = 2 W_a s_k, all at once
        sig = torch.empty_like(keys2)  # (B, S, A), one step's
        d_v = keys2.new_zeros(A)  # sum_k sum_bj de sigma(2 a)
        d_keys, d_pre_buf = torch.zeros_like(keys2), torch.empty_like(keys2)  # (B, S, A)
        ann_T = annotations.transpose(1, 2).contiguous()  # (B, C, S): bmm(ann, dc) is slow
        v4, Wa = 4.0 * v.view(-1), Wa_T.t()  # d/da (2 v)^T sigma(2 a) = 4 v sigma (1 - sigma)
        des = keys2.new_empty(K, B, keys2.size(1))  # (K, B, S) = dL/de_k
        dcs = keys2.new_empty(B, K, annotations.size(-1))  # (B, K, C) = dL/dc_k
        ds = run(scan_loops.attention_gru_backprop_loop, d_states[N].clone(), states, rz, h_tilde,
                 d_rz, d_a, d_states, d_contexts, alphas, q2, dq, keys2, ann_T, v4, Wa, C_rz, C_h,
                 Ug_T, U_T, sig, d_pre_buf, d_v, d_keys, des, dcs)  # (B, H) = dL/ds_0
        dx = torch.cat([d_rz, d_a], dim=-1)  # (N, B, 3H)
        d_C_T = contexts[:N].reshape(N * B, -1).t() @ dx.view(N * B, -1)  # (C, 3H)
        d_Ug_T, d_U_T = _recurrent_weight_grads(
            states[:N].reshape(N * B, H), rz.view(N * B, -1), d_rz.view(N * B, -1),
            d_a.view(N * B, -1),
        )
        d_Wa_T = states[:K].reshape(K * B, H).t() @ dq.view(K * B, -1)  # (H, A)
        # d v_a = sum de tanh(a) = 2 sum de sigma(2a) - sum de (the last is 0 up to rounding).
        de_sum = des.sum()
        # (A, 1), laid out so that its transpose, the grad of v_a's weight (1, A), has that
        # weight's strides (DDP's gradient buckets warn about any other layout); same values.
        d_v = d_v.mul_(2.0).sub_(de_sum).unsqueeze(0).t()
        d_ann = torch.bmm(alphas.permute(1, 2, 0), dcs)  # (B, S, C)
        return dx, ds, d_keys, d_ann, None, d_C_T, d_Wa_T, d_v, d_Ug_T, d_U_T, None


def attention_gru_scan(
    x: torch.Tensor, s0: torch.Tensor, keys: torch.Tensor, annotations: torch.Tensor,
    src_mask: torch.Tensor, C_T: torch.Tensor, Wa_T: torch.Tensor, v: torch.Tensor,
    Ug_T: torch.Tensor, U_T: torch.Tensor, final_attention: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`AttentionGRUScan.apply` with contiguous inputs (see `AttentionGRUScan` for the shapes)."""
    return AttentionGRUScan.apply(
        x.contiguous(), s0.contiguous(), keys.contiguous(), annotations.contiguous(),
        src_mask.contiguous(), C_T, Wa_T, v, Ug_T, U_T, final_attention,
    )
