"""Activation memory a training step need not keep, at the same numbers and no extra matmul.

- The gated MLP `down(silu(gate(x)) * up(x))` keeps gate, silu(gate) and up for backward. silu(gate) is one
  elementwise pass away from gate, so it is recomputed there instead: a third of the MLP's elementwise memory
  (22 MiB per layer for 8 x 512 tokens at width 1,408), with the gradients autograd's own kernels give.
- Grouped-query attention on CPU: transformers copies each key/value head to every query head that shares it
  before calling SDPA unless told SDPA does the sharing itself (enable_gqa). On CPU that is exact and keeps no
  copies (16 MiB per layer in the bench). On CUDA with a padding mask it would fall back to the slow kernel, so it
  is set only where no GPU is used."""

from __future__ import annotations

import os
import types
from typing import Any


def _silu_mul() -> Any:
    import torch

    class SiluMul(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, gate: Any, up: Any) -> Any:
            ctx.save_for_backward(gate, up)
            return torch.nn.functional.silu(gate) * up

        @staticmethod
        def backward(ctx: Any, grad: Any) -> tuple[Any, Any]:
            gate, up = ctx.saved_tensors
            # the kernels autograd itself runs: mul's backward, then silu_backward on its gradient
            grad_up = grad * torch.nn.functional.silu(gate) if ctx.needs_input_grad[1] else None
            grad_gate = torch.ops.aten.silu_backward(grad * up, gate) if ctx.needs_input_grad[0] else None
            return grad_gate, grad_up

    return SiluMul


def _mlp_forward(self: Any, x: Any) -> Any:
    return self.down_proj(self._silu_mul.apply(self.gate_proj(x), self.up_proj(x)))


def fuse_mlps(model: Any) -> int:
    """Gated SiLU MLPs (Llama, Qwen2, Mistral, Qwen2-VL's language model...) recompute silu(gate) in backward.
    Returns how many modules were changed; any other MLP is left as it is."""
    fn, count = _silu_mul(), 0
    for module in model.modules():
        if (all(hasattr(module, name) for name in ("gate_proj", "up_proj", "down_proj"))
                and type(getattr(module, "act_fn", None)).__name__ in ("SiLU", "SiLUActivation")
                and type(module).forward.__qualname__.endswith("MLP.forward")):
            module._silu_mul = fn
            module.forward = types.MethodType(_mlp_forward, module)
            count += 1
    return count


def cpu_attention(on_gpu: bool) -> bool:
    """SDPA shares key/value heads itself on CPU (see above). True when set."""
    if on_gpu:
        return False
    os.environ.setdefault("TRANSFORMERS_SDPA_FORCE_GQA", "1")
    return os.environ["TRANSFORMERS_SDPA_FORCE_GQA"] == "1"
