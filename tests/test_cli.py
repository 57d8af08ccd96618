"""How the tools end on bad input (``gentk.apis.cli.run_tool``): gentk's
own input errors as one message and exit status 2, everything else with
its traceback."""
import numpy as np
import pytest
import torch

from gentk.apis.cli import EXIT_BAD_INPUT, input_error_message, run_tool
from gentk.apis.config import load_config
from gentk.datasets.transforms import CheckLabelIds
from tiny_config import run_tool as run_script

CONFIG = 'configs/pix2pixhd/synthetic_256x128.py'


def test_a_gentk_input_error_ends_with_its_message_alone(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_tool(lambda: load_config(CONFIG, {'trian_cfg.max_iters': 2}))
    assert exit_info.value.code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    # The KeyError's own text, not its quoted repr.
    assert err.startswith('error: --cfg-options trian_cfg.max_iters: '), err
    assert "'train_cfg'" in err and 'GENTK_DEBUG=1' in err


def test_an_error_re_raised_around_gentks_counts_as_gentks():
    """mmengine's builders re-raise a component's error as
    ``type(e)(f'class ...: {e}')`` from their own frame."""
    def build():
        try:
            load_config('no/such/config.py')
        except FileNotFoundError as err:
            raise FileNotFoundError(f'class `Thing`: {err}')

    with pytest.raises(FileNotFoundError) as info:
        build()
    assert input_error_message(info.value) == \
        "class `Thing`: config file not found: 'no/such/config.py'"


class BadLabels(torch.utils.data.Dataset):
    """Samples whose label map holds an id the model has no class for."""

    def __len__(self):
        return 2

    def __getitem__(self, index):
        label = np.full((4, 6), 3, np.uint8)
        label[1, 2] = 200
        return CheckLabelIds(num_classes=35).transform(
            dict(gt_label=label, label_path=f'labels/{index}.png'))


def test_an_input_error_in_a_dataloader_worker_is_gentks():
    """torch raises a worker's error again in the main process, with the
    worker's traceback as its text: the message is the worker's own."""
    loader = torch.utils.data.DataLoader(BadLabels(), num_workers=1)
    with pytest.raises(ValueError) as info:
        next(iter(loader))
    assert 'DataLoader worker' in str(info.value)
    assert input_error_message(info.value) == (
        'labels/0.png: label ids [200] (1 pixels) are not class ids; expected '
        'ids in [0, 35) or the ignore index 255. Check num_classes, or use '
        "CheckLabelIds(invalid='ignore') to map them to the ignore index.")

    def fails_in_worker(index):
        raise ValueError('raised outside gentk')

    loader = torch.utils.data.DataLoader([0], num_workers=1,
                                         collate_fn=fails_in_worker)
    with pytest.raises(ValueError) as info:
        next(iter(loader))
    assert input_error_message(info.value) is None


def test_other_errors_keep_their_traceback(monkeypatch):
    with pytest.raises(KeyError):      # raised outside gentk: a bug
        run_tool(lambda: {}['missing'])
    with pytest.raises(ValueError):
        run_tool(lambda: int('x'))

    def fails():
        raise RuntimeError('not an input error')

    with pytest.raises(RuntimeError):
        run_tool(fails)
    monkeypatch.setenv('GENTK_DEBUG', '1')
    with pytest.raises(KeyError):   # a gentk error, re-raised as it is
        run_tool(lambda: load_config(CONFIG, {'trian_cfg.max_iters': 2}))


def test_a_tool_returning_a_status_exits_with_it():
    with pytest.raises(SystemExit) as exit_info:
        run_tool(lambda: 3)
    assert exit_info.value.code == 3
    run_tool(lambda: {'metric': 1.0})   # a result that is not a status


def test_train_names_a_missing_data_root_without_a_traceback(tmp_path):
    """Raised inside mmengine's runner, when the dataloader is built."""
    missing = tmp_path / 'cityscapes'
    proc = run_script(['tools/train.py', 'configs/pix2pixhd/cityscapes_1024.py',
                       '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                       f'train_dataloader.dataset.data_root={missing}'],
                      check=False)
    assert proc.returncode == EXIT_BAD_INPUT, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    assert f'error: Cityscapes data_root not found: {missing}' in proc.stderr


def test_a_config_key_the_class_does_not_take_is_an_input_error():
    """A typo in a nested key (``model.generator.num_block``) fails where
    mmengine's builder calls the class: the tool names class and key."""
    from mmengine.registry import DefaultScope

    import gentk.evaluation  # noqa: F401
    import gentk.models  # noqa: F401
    from gentk.registry import METRICS, MODELS
    with DefaultScope.overwrite_default_scope('gentk'):
        with pytest.raises(TypeError) as info:
            MODELS.build(dict(type='GlobalGenerator', in_channels=4, num_block=4))
        with pytest.raises(TypeError) as missing:
            MODELS.build(dict(type='PerceptualLoss'))
    assert input_error_message(info.value) == (
        "GlobalGenerator.__init__() got an unexpected keyword argument "
        "'num_block': check the GlobalGenerator entry of the config and "
        "--cfg-options")
    assert input_error_message(missing.value).startswith(
        'PerceptualLoss.__init__() missing 1 required positional argument')
    # The class built is named, not the base class defining __init__.
    with DefaultScope.overwrite_default_scope('gentk'):
        with pytest.raises(TypeError) as inherited:
            METRICS.build(dict(type='FrechetInceptionDistance', batchsize=4))
    assert input_error_message(inherited.value).endswith(
        'check the FrechetInceptionDistance entry of the config and '
        '--cfg-options')
    # The same error raised outside a builder is not taken for a config's.
    with pytest.raises(TypeError) as direct:
        torch.nn.Linear(2, 2, num_block=4)
    assert input_error_message(direct.value) is None


def test_a_tool_closes_its_process_group(tmp_path):
    """Left open at exit, gloo sometimes aborts a finished process and
    torchrun fails the run: run_tool closes the group, also after an
    input error."""
    import torch.distributed as dist
    for main in (lambda: None, lambda: load_config(str(tmp_path / 'no.py'))):
        dist.init_process_group('gloo', rank=0, world_size=1,
                                init_method=f'file://{tmp_path}/store{id(main)}')
        try:
            run_tool(main)
        except SystemExit as exit_:
            assert exit_.code == EXIT_BAD_INPUT
        assert not dist.is_initialized()
