"""Every shipped config loads and builds; the paper configs have the
appendix's parameter counts."""
import glob
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import gentk.models  # noqa: F401
from gentk.registry import DATASETS, MODELS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(glob.glob(os.path.join(REPO, 'configs', '*', '*.py')))
CONFIGS = [c for c in CONFIGS if '_base_' not in c]
GAN_CONFIGS = [c for c in CONFIGS
               if os.path.basename(os.path.dirname(c)) in ('pix2pixhd', 'pix2pix')]


def count(module):
    return sum(p.numel() for p in module.parameters())


def build(cfg, device='cpu'):
    model_cfg = cfg.model.copy()
    with DefaultScope.overwrite_default_scope('gentk'), torch.device(device):
        return MODELS.build(model_cfg)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: os.path.relpath(p, REPO))
def test_config_loads_with_its_runtime(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'gentk' and cfg.runner_type == 'GenRunner'


@pytest.mark.parametrize('path', GAN_CONFIGS, ids=lambda p: os.path.relpath(p, REPO))
def test_gan_configs_share_the_data_contract(path):
    cfg = Config.fromfile(path)
    assert cfg.model.data_preprocessor.num_classes == 35
    assert cfg.optim_wrapper.constructor == 'GANOptimWrapperConstructor'


@pytest.mark.parametrize('name,generator,num_d', [
    ('cityscapes_1024', 182_546_755, 2),
    ('cityscapes_2048', 182_857_059, 3),
])
def test_paper_configs_have_the_appendix_parameter_counts(name, generator, num_d):
    cfg = Config.fromfile(os.path.join(REPO, 'configs/pix2pixhd', f'{name}.py'))
    model = build(cfg, device='meta')
    assert count(model.generator) == generator
    assert count(model.discriminator) == num_d * 2_801_601
    assert cfg.optim_wrapper.generator.optimizer.lr == 2e-4
    assert cfg.optim_wrapper.generator.optimizer.betas == (0.5, 0.999)
    assert cfg.train_dataloader.batch_size == 1
    assert cfg.model.gan_loss.gan_type == 'lsgan'
    assert cfg.model.feature_matching_loss.loss_weight == 10.0
    assert cfg.train_cfg.max_epochs == 200
    assert cfg.param_scheduler[0]['begin'] == 100


def test_stage_two_starts_from_stage_one_and_freezes_the_global_generator():
    cfg = Config.fromfile(os.path.join(REPO, 'configs/pix2pixhd/cityscapes_2048.py'))
    assert cfg.model.global_generator_weights.endswith('epoch_200.pth')
    assert cfg.model.freeze_global_iters == 10 * 2975
    assert cfg.model.generator.base_channels == 32


@pytest.mark.parametrize('path', [c for c in GAN_CONFIGS if 'synthetic' in c],
                         ids=lambda p: os.path.relpath(p, REPO))
def test_cpu_configs_build_and_generate(path):
    cfg = Config.fromfile(path)
    model = build(cfg)
    with DefaultScope.overwrite_default_scope('gentk'):
        dataset = DATASETS.build(cfg.val_dataloader.dataset)
    batch = {'inputs': {k: [v] for k, v in dataset[0]['inputs'].items()}}
    inputs = model.data_preprocessor(batch)['inputs']
    fake = model(inputs)
    assert fake.shape == inputs['img'].shape
    assert fake.min() >= -1 and fake.max() <= 1


def test_a_mistyped_top_level_option_is_an_error():
    """mmengine would add ``trian_cfg`` and run the full schedule."""
    from gentk.apis.config import load_config
    path = os.path.join(REPO, 'configs', 'pix2pixhd', 'synthetic_256x128.py')
    with pytest.raises(KeyError, match="no top-level key 'trian_cfg'.*did you "
                       "mean 'train_cfg'"):
        load_config(path, {'trian_cfg.max_iters': 2})
    cfg = load_config(path, {'train_cfg.max_iters': 2, 'auto_scale_lr': None,
                             'model.generator.num_blocks': 1})
    assert cfg.train_cfg.max_iters == 2 and cfg.model.generator.num_blocks == 1


def test_perceptual_loss_snippet_of_the_docs_merges(tmp_path):
    """docs/get_started.md enables VGG with a plain dict: the bases must not
    set ``perceptual_loss`` to something a dict cannot merge into."""
    base = os.path.join(REPO, 'configs', 'pix2pixhd', 'cityscapes_1024.py')
    child = tmp_path / 'with_vgg.py'
    child.write_text(
        f'_base_ = {base!r}\n'
        "model = dict(perceptual_loss=dict(type='PerceptualLoss',\n"
        "                                  weights_path='weights/vgg19.pth',\n"
        "                                  loss_weight=10.0))\n")
    cfg = Config.fromfile(str(child))
    assert cfg.model.perceptual_loss.weights_path == 'weights/vgg19.pth'


@pytest.mark.parametrize('path', CONFIGS, ids=os.path.basename)
def test_amp_switch_wraps_every_optimizer_on_cuda_only(path):
    """`amp=True` turns each optimiser wrapper (a GAN's per-network ones, a
    segmenter's single one) into an AmpOptimWrapper where CUDA exists, and
    leaves a CPU run in fp32 with a warning."""
    from unittest import mock

    from gentk.apis.config import load_config
    with mock.patch('torch.cuda.is_available', return_value=True):
        cfg = load_config(path, {'amp': True})
    if path in GAN_CONFIGS:   # one wrapper per network
        wrappers = [cfg.optim_wrapper.generator, cfg.optim_wrapper.discriminator]
    else:                     # a segmenter's single wrapper
        wrappers = [cfg.optim_wrapper]
    for wrapper in wrappers:
        assert wrapper['type'] == 'AmpOptimWrapper'
        assert wrapper['loss_scale'] == 'dynamic'
    with mock.patch('torch.cuda.is_available', return_value=False), \
            pytest.warns(UserWarning, match='amp=True ignored'):
        cfg = load_config(path, {'amp': True})
    assert 'AmpOptimWrapper' not in str(cfg.optim_wrapper)


def test_sync_bn_is_a_known_option():
    from gentk.apis.config import load_config
    cfg = load_config(CONFIGS[0], {'sync_bn': 'torch'})
    assert cfg.sync_bn == 'torch'
