"""A run killed with SIGKILL resumes from its last checkpoint and ends with
exactly the weights, optimiser and scheduler state of an uninterrupted run."""
import os
import signal

import torch

from gentk.utils import load_weights
from tiny_config import run_tool, write_tiny_config


def train(config, work_dir, *extra, check=True):
    return run_tool(['tools/train.py', config, '--work-dir', str(work_dir),
                     *extra], check=check)


def test_killed_run_resumes_to_identical_state(tmp_path):
    straight, killed = tmp_path / 'straight', tmp_path / 'killed'
    config = write_tiny_config(tmp_path)
    train(config, straight)

    (tmp_path / 'kill').mkdir()
    killing = write_tiny_config(tmp_path / 'kill', extra_hooks=[
        dict(type='KillAtIterHook', at_iter=5)])
    proc = train(killing, killed, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert not (killed / 'iter_8.pth').exists()
    assert (killed / 'iter_4.pth').exists()

    resumed = train(config, killed, '--resume')
    assert 'Resuming from' in resumed.stdout + resumed.stderr
    # The metainfo it saved is the dataset's: no warning of a difference.
    assert 'dataset metainfo' not in resumed.stdout + resumed.stderr

    a = load_weights(str(straight / 'iter_8.pth'))
    b = load_weights(str(killed / 'iter_8.pth'))   # weights_only works on ours
    assert a['meta']['iter'] == b['meta']['iter'] == 8
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for key in a['state_dict']:
        assert torch.equal(a['state_dict'][key], b['state_dict'][key]), key
    for role in ('generator', 'discriminator'):
        sa = a['optimizer'][role]['state']
        sb = b['optimizer'][role]['state']
        assert sa.keys() == sb.keys()
        for idx in sa:
            for name in sa[idx]:
                assert torch.equal(sa[idx][name], sb[idx][name]), (role, idx, name)
        assert (a['optimizer'][role]['param_groups'][0]['lr']
                == b['optimizer'][role]['param_groups'][0]['lr'])
    assert a['param_schedulers'] == b['param_schedulers']
    # the fixed sample inputs survive the resume: same final grid
    assert (straight / 'samples' / 'final.png').read_bytes() == \
        (killed / 'samples' / 'final.png').read_bytes()
    # no temporary checkpoint files left by the atomic writer
    assert not [p for p in os.listdir(killed) if p.startswith('.tmp-')]
