"""gentk.utils.cpu_heap: freed memory is reused without new page faults.

mallopt is process-wide and cannot be undone, so every check runs in a
fresh interpreter.
"""
import json
import subprocess
import sys

from tiny_config import run_tool, write_tiny_config

# Allocate, touch and free a 64 MB tensor (above glibc's largest mmap
# threshold, 32 MB) 24 times; report the minor page faults of the last
# eight rounds. Kept in the heap, the first rounds (up to 9 seen) still
# fault: torch asks for aligned blocks, which a freed block of the same
# size cannot serve until freed neighbours have merged with it.
PROBE = '''
import json, resource, sys
from gentk.utils import cpu_heap
applied = cpu_heap.keep_freed_memory() if sys.argv[1] == 'keep' else False
import torch
def faults_of_one_round():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    x = torch.empty(16 * 1024 * 1024)  # 64 MB of float32
    x.fill_(1.0)
    del x
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults = [faults_of_one_round() for _ in range(24)]
print(json.dumps(dict(applied=applied, state=cpu_heap.keeps_freed_memory(),
                      faults=sum(faults[-8:]))))
'''


def probe(mode: str) -> dict:
    # torch's own huge-page allocation would change the fault count.
    env = {'THP_MEM_ALLOC_ENABLE': '0', 'PATH': ''}
    out = subprocess.run([sys.executable, '-c', PROBE, mode], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_keep_freed_memory_reuses_pages():
    default = probe('default')
    kept = probe('keep')
    assert default['applied'] is False and default['state'] is False
    assert kept['applied'] is True and kept['state'] is True
    # 64 MB is 16384 pages of 4 KiB: by default every round maps them
    # afresh; kept in the heap they are already resident.
    assert default['faults'] > 8 * 16000, default
    assert kept['faults'] < 100, kept


def test_runner_applies_the_config_switch(tmp_path):
    config = write_tiny_config(tmp_path)
    code = '''
import json, sys
from gentk.apis.config import build_runner, load_config
from gentk.utils import cpu_heap
cfg = load_config(sys.argv[1], dict(keep_freed_cpu_memory=sys.argv[2] == 'on'),
                  sys.argv[3], 'none')
build_runner(cfg)
print(json.dumps(cpu_heap.keeps_freed_memory()))
'''
    states = {}
    for switch in ('on', 'off'):
        out = run_tool(['-c', code, config, switch, str(tmp_path / switch)])
        states[switch] = json.loads(out.stdout.strip().splitlines()[-1])
    assert states == {'on': True, 'off': False}
