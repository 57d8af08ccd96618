"""Keep freed CPU memory in the process heap for reuse (glibc only).

A GAN training step frees and re-allocates the same large buffers every
iteration: weight gradients (``zero_grad`` sets them to ``None``; the
paper-sized pix2pixHD generator's are 730 MB, 38 MB per residual
convolution), im2col matrices, activations kept for backward. glibc's
``malloc`` serves blocks above its mmap threshold (at most 32 MB) with a
fresh ``mmap`` and returns them with ``munmap`` on ``free``, so every step
page-faults and zeroes that memory again in the kernel. On a 2-core VM
that cost 0.6-1.8 s of system time per pix2pixHD step at 256x128 (1.9-2.3 s
-> 1.30 s per step once the heap keeps them; see docs/benchmark.md), for
~0.3 GiB more peak RSS: the heap holds its high-water mark instead of
giving pages back between steps.

:func:`keep_freed_memory` switches ``malloc`` to serve every block from the
heap (``M_MMAP_MAX = 0``) and never to trim the heap's top
(``M_TRIM_THRESHOLD``), so a freed block is reused, already faulted in,
by the next allocation of its size. It is process-wide and cannot be
undone; :class:`gentk.engine.GenRunner` applies it when the config says
``keep_freed_cpu_memory=True`` (the default runtime does). Elsewhere than
glibc it does nothing and says so.
"""
from ..glibc import load_glibc

# mallopt parameters (glibc malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
_NEVER_TRIM = 2**31 - 1  # the largest value mallopt's int parameter takes

_applied = False


def keep_freed_memory() -> bool:
    """Make glibc ``malloc`` keep freed memory for reuse (see the module
    docstring). Returns whether it is in effect; idempotent."""
    global _applied
    if _applied:
        return True
    libc = load_glibc()
    if libc is None:
        return False
    # mallopt returns 1 on success and 0 on error.
    _applied = bool(libc.mallopt(M_MMAP_MAX, 0)
                    and libc.mallopt(M_TRIM_THRESHOLD, _NEVER_TRIM))
    return _applied


def keeps_freed_memory() -> bool:
    """Whether :func:`keep_freed_memory` has taken effect in this process."""
    return _applied
