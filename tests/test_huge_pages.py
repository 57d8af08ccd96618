"""gentk.huge_pages: when the tools restart with huge pages for the heap,
and that the restarted process really gets them."""
import os
import subprocess
import sys

import pytest

from gentk import huge_pages
from gentk.huge_pages import (TUNABLE, huge_page_environ, huge_pages_requested,
                              thp_mode)

MADVISE, GLIBC = 'madvise', (2, 36)


def test_adds_the_tunable_and_keeps_the_rest_of_the_environment():
    env = huge_page_environ({'PATH': '/bin'}, MADVISE, GLIBC)
    assert env == {'PATH': '/bin', 'GLIBC_TUNABLES': TUNABLE}
    assert huge_pages_requested(env)
    env = huge_page_environ({'GLIBC_TUNABLES': 'glibc.malloc.arena_max=2'},
                            MADVISE, GLIBC)
    assert env['GLIBC_TUNABLES'] == f'glibc.malloc.arena_max=2:{TUNABLE}'


@pytest.mark.parametrize('environ, mode, version', [
    ({huge_pages.OPT_OUT: '0'}, MADVISE, GLIBC),      # turned off
    ({'GLIBC_TUNABLES': TUNABLE}, MADVISE, GLIBC),    # restarted already
    ({'GLIBC_TUNABLES': 'glibc.malloc.hugetlb=0'}, MADVISE, GLIBC),  # user's
    ({}, 'always', GLIBC),                            # the kernel gives them
    ({}, 'never', GLIBC),                             # nothing to ask for
    ({}, MADVISE, (2, 31)),                           # no such tunable
])
def test_no_restart_where_it_would_change_nothing(environ, mode, version):
    assert huge_page_environ(environ, mode, version) is None


def test_the_thp_mode_is_the_bracketed_word(tmp_path):
    path = tmp_path / 'enabled'
    path.write_text('always [madvise] never\n')
    assert thp_mode(str(path)) == 'madvise'
    assert thp_mode(str(tmp_path / 'missing')) is None


def _anon_huge_kib(smaps_rollup: str) -> int:
    for line in smaps_rollup.splitlines():
        if line.startswith('AnonHugePages:'):
            return int(line.split()[1])
    raise AssertionError('no AnonHugePages line in smaps_rollup')


def test_the_restarted_process_gets_huge_pages():
    """A child that calls ``restart_with_huge_pages`` first comes back with
    the tunable set where this machine allows it (and then holds huge
    pages for a 64 MB array), unchanged otherwise."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('GLIBC_TUNABLES', huge_pages.OPT_OUT)}
    child = (
        'import os, sys\n'
        'from gentk.huge_pages import restart_with_huge_pages\n'
        'restart_with_huge_pages()\n'
        'import numpy as np\n'
        'a = np.ones(1 << 24, dtype=np.float32)\n'
        'print(os.environ.get("GLIBC_TUNABLES", ""), sys.argv[1:])\n'
        'print(open("/proc/self/smaps_rollup").read())\n')
    out = subprocess.run([sys.executable, '-c', child, 'arg'], env=env,
                         capture_output=True, text=True, check=True).stdout
    first, rest = out.split('\n', 1)
    tunables, argv = first.split(' ', 1)
    assert argv == "['arg']"  # the same command line after the restart
    if huge_page_environ(env) is None:
        assert tunables == ''
    else:
        assert tunables == TUNABLE
        assert _anon_huge_kib(rest) >= 2048


def test_a_script_read_from_stdin_is_not_restarted():
    env = {k: v for k, v in os.environ.items()
           if k not in ('GLIBC_TUNABLES', huge_pages.OPT_OUT)}
    script = ('import os\n'
              'from gentk.huge_pages import restart_with_huge_pages\n'
              'restart_with_huge_pages()\n'
              'print(repr(os.environ.get("GLIBC_TUNABLES", "")))\n')
    out = subprocess.run([sys.executable, '-'], input=script, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "''"
