"""The process's C library when it is glibc (for ``mallopt`` and tunables).

Imports nothing heavy: ``gentk.huge_pages`` uses it before torch loads.
"""
import ctypes
import ctypes.util
import sys
from typing import Optional, Tuple


def load_glibc() -> Optional[ctypes.CDLL]:
    """The C library, or None where it is not glibc (musl and others have
    no ``mallopt``, or a no-op one; glibc also exports
    ``gnu_get_libc_version``)."""
    if not sys.platform.startswith('linux'):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
    except OSError:
        return None
    if not hasattr(libc, 'mallopt') or not hasattr(libc, 'gnu_get_libc_version'):
        return None
    return libc


def glibc_version() -> Optional[Tuple[int, int]]:
    """``(major, minor)`` of glibc, or None elsewhere."""
    libc = load_glibc()
    if libc is None:
        return None
    get_version = libc.gnu_get_libc_version
    get_version.restype = ctypes.c_char_p
    try:
        major, minor = get_version().decode().split('.')[:2]
        return int(major), int(minor)
    except ValueError:
        return None
