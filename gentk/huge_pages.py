"""Transparent huge pages for the process heap (Linux, glibc >= 2.35).

pix2pixHD's paper-sized networks stream gigabytes through the heap every
step: 38 MB weights and weight gradients per residual convolution, 67 MB
Winograd kernel tiles, Adam's moments. With 4 KiB pages every pass over
them walks the page tables anew; with 2 MiB pages the TLB covers them.
Where the kernel hands out huge pages only on request (``madvise`` mode in
``/sys/kernel/mm/transparent_hugepage/enabled``, the common default),
glibc's ``malloc`` requests them for its heap when the process starts with
``GLIBC_TUNABLES=glibc.malloc.hugetlb=1``. Two Intel cores, paper networks
at 256x128: training step 1.18-1.20 -> 1.14-1.15 s, inference 0.213-0.217
-> 0.207-0.209 s; at 512x256 training 3.28 -> 3.20-3.22 s; peak memory
unchanged (see docs/benchmark.md).

The tunable is read once, when the process starts, so
:func:`restart_with_huge_pages` re-executes the running command line with
it (same PID, arguments and environment otherwise). gentk's command-line
tools call it before anything else is imported; it does nothing where
huge pages are already requested, unavailable (not glibc >= 2.35, THP
``never``), given anyway (THP ``always``), or turned off with
``GENTK_HUGE_PAGES=0``.

This module imports nothing heavy, so that the restart costs only an
interpreter start.
"""
import os
import sys
from typing import Dict, Mapping, Optional, Tuple

from .glibc import glibc_version

TUNABLE = 'glibc.malloc.hugetlb=1'
OPT_OUT = 'GENTK_HUGE_PAGES'
THP_ENABLED = '/sys/kernel/mm/transparent_hugepage/enabled'
MIN_GLIBC = (2, 35)  # the first release with glibc.malloc.hugetlb


def thp_mode(path: str = THP_ENABLED) -> Optional[str]:
    """The kernel's transparent huge page mode (``'always'``,
    ``'madvise'`` or ``'never'``: the bracketed word of ``path``), or None
    where it cannot be read."""
    try:
        with open(path) as f:
            words = f.read().split()
    except OSError:
        return None
    for word in words:
        if word.startswith('[') and word.endswith(']'):
            return word[1:-1]
    return None


def huge_pages_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether ``environ`` asks glibc's ``malloc`` for huge pages."""
    return TUNABLE in environ.get('GLIBC_TUNABLES', '').split(':')


def huge_page_environ(environ: Mapping[str, str] = os.environ,
                      mode: Optional[str] = None,
                      version: Optional[Tuple[int, int]] = None
                      ) -> Optional[Dict[str, str]]:
    """``environ`` with ``glibc.malloc.hugetlb=1`` added to
    ``GLIBC_TUNABLES`` (other tunables kept), or None where a restart would
    change nothing (see the module docstring). ``mode`` and ``version``
    default to this machine's."""
    if environ.get(OPT_OUT, '1') == '0':
        return None
    tunables = environ.get('GLIBC_TUNABLES', '')
    if any(t.startswith('glibc.malloc.hugetlb=') for t in tunables.split(':')):
        return None  # set already, whatever the value: the user's choice
    version = version if version is not None else glibc_version()
    if version is None or version < MIN_GLIBC:
        return None
    if (mode if mode is not None else thp_mode()) != 'madvise':
        return None
    env = dict(environ)
    env['GLIBC_TUNABLES'] = ':'.join(t for t in (tunables, TUNABLE) if t)
    return env


def restart_with_huge_pages() -> None:
    """Re-execute this process's command line with huge pages requested
    for its heap; returns only where that would change nothing."""
    env = huge_page_environ()
    if env is None or not sys.argv or sys.argv[0] in ('', '-'):
        return  # nothing to do, or a script read from stdin: no second read
    argv = list(getattr(sys, 'orig_argv', [sys.executable] + sys.argv))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)
