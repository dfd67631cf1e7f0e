"""The softmax layer and the summed NLL in one pass over row chunks (`fused_output_loss`).

Paper: App. A.2.2, p(y_i | ...) ∝ exp(y_i^T W_o t_i), trained by maximum likelihood (Sec. 3.1).
The reference computes the (N, V) logits, their log-softmax and both their gradients as dense
tensors (N = B x T target positions, V = 30,000 at paper size: 480 MB each). Here the rows go
through in chunks of `chunk_rows`: each chunk's logits z = t W_o^T + b live only inside the
loop, and, when a gradient is wanted, the chunk's dz = softmax(z) - onehot(y) (zero on padding)
is turned into its share of dL/dt, dL/dW_o and dL/db at once (three products, no recompute in
the backward), so the backward only scales the three by the incoming gradient. The same function
up to float rounding: sums run over chunks (tests/models/test_fused_loss.py, float64).
"""

from __future__ import annotations

from typing import Any

import torch


def linear_cross_entropy_sum(
    t: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, target: torch.Tensor,
    ignore_index: int, chunk_rows: int,
) -> torch.Tensor:
    """sum_n -log softmax(W t_n + b)[y_n] over the rows whose target is not `ignore_index`.

    Under autocast the products run in the autocast dtype (as `nn.Linear` would) and the
    softmax in float32 (as the reference's `logits.float()`); float64 inputs stay float64.

    Shapes: t (N, R); weight (V, R); bias (V,); target (N,) -> () summed NLL
    """
    return _FusedLinearCrossEntropy.apply(t, weight, bias, target, ignore_index, chunk_rows)


def _dtypes(t: torch.Tensor) -> tuple[torch.dtype, torch.dtype]:
    """(product dtype, softmax dtype): autocast's dtype or t's, and at least float32."""
    device = t.device.type
    product = (torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device)
               and t.dtype != torch.float64 else t.dtype)
    return product, torch.promote_types(product, torch.float32)


class _FusedLinearCrossEntropy(torch.autograd.Function):
    """Forward computes the loss and (when needed) its gradients; backward scales them."""

    @staticmethod
    def forward(ctx: Any, t: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                target: torch.Tensor, ignore_index: int, chunk_rows: int) -> torch.Tensor:
        product, soft = _dtypes(t)
        need_t, need_w, need_b = ctx.needs_input_grad[:3]
        wants_grad = need_t or need_w or need_b
        with torch.autocast(t.device.type, enabled=False):
            w = weight.to(product)  # (V, R)
            b = bias.to(soft)  # (V,)
            keep = target != ignore_index  # (N,)
            loss = torch.zeros((), dtype=soft, device=t.device)
            grad_t = torch.empty_like(t) if need_t else None  # (N, R)
            grad_w = torch.zeros_like(weight, dtype=soft) if need_w else None  # (V, R)
            grad_b = torch.zeros_like(bias, dtype=soft) if need_b else None  # (V,)
            for start in range(0, t.size(0), chunk_rows):
                rows = slice(start, start + chunk_rows)
                x = t[rows].to(product)  # (n, R)
                y = target[rows].unsqueeze(1)  # (n, 1)
                if product == soft:  # (n, V): this chunk's logits only
                    z = torch.addmm(b, x, w.t())
                else:
                    z = (x @ w.t()).to(soft) + b
                mask = keep[rows].to(soft)  # (n,)
                z_y = z.gather(1, y).squeeze(1)  # (n,) the label's logit
                # softmax in place over z, one pass each: shift, exp, row sums, scale
                top = z.amax(dim=1, keepdim=True)  # (n, 1)
                e = z.sub_(top).exp_()  # (n, V) exp(z - max)
                total = e.sum(dim=1)  # (n,)
                # -log p(y) = (max - z_y) + log sum_v exp(z_v - max), in log-softmax's order:
                # max + log(total) first would round a confident row's small NLL away
                nll = (top.squeeze(1) - z_y) + total.log()  # (n,)
                loss = loss + (nll * mask).sum()
                if not wants_grad:
                    continue
                # dz = (softmax(z) - onehot(y)) * mask, still in place: (n, V)
                dz = e.mul_((mask / total).unsqueeze(1))
                dz.scatter_add_(1, y, -mask.unsqueeze(1))
                dz_p = dz.to(product)  # (n, V)
                if need_t:
                    grad_t[rows] = (dz_p @ w).to(t.dtype)  # (n, R)
                if need_w and product == soft:
                    grad_w.addmm_(dz_p.t(), x)  # (V, R)
                elif need_w:
                    grad_w += (dz_p.t() @ x).to(soft)  # (V, R)
                if need_b:
                    grad_b += dz.sum(dim=0)  # (V,)
        ctx.save_for_backward(
            *(g if g is not None else torch.empty(0) for g in (grad_t, grad_w, grad_b)))
        ctx.dtypes = (weight.dtype, bias.dtype)
        return loss.to(torch.promote_types(t.dtype, torch.float32))

    @staticmethod
    def backward(ctx: Any, grad_loss: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        grad_t, grad_w, grad_b = ctx.saved_tensors
        need_t, need_w, need_b = ctx.needs_input_grad[:3]
        w_dtype, b_dtype = ctx.dtypes
        return (
            grad_t * grad_loss.to(grad_t.dtype) if need_t else None,
            (grad_w * grad_loss).to(w_dtype) if need_w else None,
            (grad_b * grad_loss).to(b_dtype) if need_b else None,
            None, None, None,
        )
