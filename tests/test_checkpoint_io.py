"""Checkpoint writing is atomic; user files load weights-only; gentk's own
checkpoints open weights-only too and resume through the trusted loader."""
import os
import stat

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from gentk.engine.checkpoint_state import (NOTHING_SAVED_YET,
                                           find_resumable_checkpoint,
                                           load_resume_checkpoint,
                                           message_hub_from_plain,
                                           message_hub_to_plain)
from gentk.utils import (atomic_save, atomic_write_text, load_trusted_checkpoint,
                         load_weights)


class NotAWeight:
    def __reduce__(self):
        return (os.getcwd, ())


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = str(tmp_path / 'ckpt.pth')
    atomic_save({'w': torch.ones(3)}, path)

    def broken_save(obj, f, *args, **kwargs):
        f.write(b'partial')
        raise KeyboardInterrupt('killed mid-save')
    monkeypatch.setattr(torch, 'save', broken_save)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({'w': torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.equal(load_weights(path)['w'], torch.ones(3))
    assert os.listdir(tmp_path) == ['ckpt.pth'], 'temporary file left behind'


def test_atomic_files_get_the_umasks_permissions(tmp_path, monkeypatch):
    """Checkpoints are as readable as any file the user writes (mkstemp
    alone would make them 0600), by the umask read when gentk loaded."""
    from gentk.utils import checkpoint_io
    assert checkpoint_io._UMASK == checkpoint_io._read_umask()
    monkeypatch.setattr(checkpoint_io, '_UMASK', 0o022)
    atomic_save({'a': torch.zeros(1)}, str(tmp_path / 'x.pth'))
    monkeypatch.setattr(checkpoint_io, '_UMASK', 0o027)
    atomic_write_text('x', str(tmp_path / 'y.txt'))
    assert stat.S_IMODE(os.stat(tmp_path / 'x.pth').st_mode) == 0o644
    assert stat.S_IMODE(os.stat(tmp_path / 'y.txt').st_mode) == 0o640


def test_user_weights_refuse_pickled_objects(tmp_path):
    path = str(tmp_path / 'evil.pth')
    torch.save({'w': torch.ones(1), 'x': NotAWeight()}, path)
    with pytest.raises(ValueError, match=r"weights_only=True: it refers to "
                                         r"the Python object \w+\.getcwd"):
        load_weights(path, what='VGG19')
    # the run's own checkpoints go through the trusted loader
    assert load_trusted_checkpoint(path)['x'] == os.getcwd()


def test_resume_trusts_only_the_runs_own_work_dir(tmp_path):
    """Full unpickling only for a checkpoint inside the run's work dir; one
    handed in from elsewhere loads weights-only, which gentk's own
    (tensors and plain containers) pass."""
    work_dir, elsewhere = tmp_path / 'work', tmp_path / 'elsewhere'
    work_dir.mkdir()
    elsewhere.mkdir()
    for folder in (work_dir, elsewhere):
        torch.save({'x': NotAWeight()}, str(folder / 'pickled.pth'))
        atomic_save({'w': torch.ones(2), 'meta': {'iter': 3}},
                    str(folder / 'plain.pth'))
    assert load_resume_checkpoint(str(work_dir / 'pickled.pth'),
                                  str(work_dir))['x'] == os.getcwd()
    with pytest.raises(ValueError, match='weights_only=True'):
        load_resume_checkpoint(str(elsewhere / 'pickled.pth'), str(work_dir))
    assert load_resume_checkpoint(str(elsewhere / 'plain.pth'),
                                  str(work_dir))['meta'] == {'iter': 3}
    # a sibling folder whose name merely starts with the work dir's
    sibling = tmp_path / 'work2'
    sibling.mkdir()
    torch.save({'x': NotAWeight()}, str(sibling / 'pickled.pth'))
    with pytest.raises(ValueError, match='weights_only=True'):
        load_resume_checkpoint(str(sibling / 'pickled.pth'), str(work_dir))


def test_missing_weight_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        load_weights(str(tmp_path / 'nowhere.pth'), what='PSPNet')


@pytest.mark.parametrize('content', [b'', b'not a checkpoint', 'half'],
                         ids=['empty', 'text', 'truncated'])
def test_unreadable_weight_file_is_named_as_such(tmp_path, content):
    """Not a pickle problem, and not torch's traceback: the file, and that
    it cannot be read."""
    whole = tmp_path / 'whole.pth'
    torch.save({'w': torch.zeros(1000)}, str(whole))
    if content == 'half':
        content = whole.read_bytes()[:whole.stat().st_size // 2]
    path = tmp_path / 'vgg19.pth'
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"VGG19 file '.*vgg19\.pth' is not "
                                         r'a readable torch file \(\w+'):
        load_weights(str(path), what='VGG19')


def test_message_hub_round_trips_as_plain_data(tmp_path):
    hub = MessageHub.get_instance('test_roundtrip')
    for v in (1.0, 2.0, 4.0):
        hub.update_scalar('train/loss_gan', v)
    hub.update_info('iter', 7)
    hub.update_info('np_value', np.float32(2.5))
    plain = message_hub_to_plain(hub.state_dict())
    path = str(tmp_path / 'hub.pth')
    atomic_save(plain, path)
    restored = message_hub_from_plain(load_weights(path))  # weights_only works
    buf = restored['log_scalars']['train/loss_gan']
    assert isinstance(buf, HistoryBuffer)
    assert buf.mean() == pytest.approx(7 / 3) and buf.current() == 4.0
    assert restored['runtime_info']['iter'] == 7
    assert restored['runtime_info']['np_value'] == 2.5


def test_resumable_checkpoint_survives_a_bad_pointer(tmp_path):
    for it in (2, 10, 4):
        atomic_save({}, str(tmp_path / f'iter_{it}.pth'))
    assert find_resumable_checkpoint(str(tmp_path)).endswith('iter_10.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    assert find_resumable_checkpoint(str(tmp_path)).endswith('iter_4.pth')
    (tmp_path / 'last_checkpoint').write_text('')      # killed while writing
    assert find_resumable_checkpoint(str(tmp_path)).endswith('iter_10.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'gone.pth'))
    assert find_resumable_checkpoint(str(tmp_path)).endswith('iter_10.pth')
    assert find_resumable_checkpoint(str(tmp_path / 'empty')) is None
    # A fresh run beside them has saved nothing yet: nothing to resume.
    (tmp_path / 'last_checkpoint').write_text(NOTHING_SAVED_YET)
    assert find_resumable_checkpoint(str(tmp_path)) is None


def test_resumable_checkpoints_are_training_checkpoints_of_this_dir(tmp_path):
    """A best_* checkpoint (weights only) is never a candidate, and a copied
    work dir resumes its own copy of the file its pointer names."""
    atomic_save({}, str(tmp_path / 'iter_2.pth'))
    atomic_save({}, str(tmp_path / 'best_paired_psnr_iter_6.pth'))
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')
    copy = tmp_path / 'copy'
    copy.mkdir()
    atomic_save({}, str(copy / 'iter_2.pth'))
    (copy / 'last_checkpoint').write_text(str(tmp_path / 'iter_2.pth'))
    assert find_resumable_checkpoint(str(copy)) == str(copy / 'iter_2.pth')
