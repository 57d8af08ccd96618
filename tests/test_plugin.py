"""The example plugin (projects/example_plugin): a third-party generator
reaches gentk's registry through an installed ``gentk.plugins`` entry point,
or through a config's ``custom_imports``, and trains with tools/train.py."""
import importlib
import os
import os.path as osp
import shutil
import subprocess
import sys
from importlib import metadata

import pytest
import torch
from mmengine.config import Config
from torch import nn

from gentk import plugins
from gentk.registry import MODELS
from gentk.utils import load_weights, state_dict_from

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PROJECT = osp.join(REPO, 'projects', 'example_plugin')
CONFIG = osp.join(PROJECT, 'configs', 'resizeconv_synthetic_256x128.py')
CONFIG_CUSTOM_IMPORTS = osp.join(
    PROJECT, 'configs', 'resizeconv_synthetic_256x128_custom_imports.py')
TIMEOUT = 300

TINY_GENERATOR = dict(base_channels=8, num_downsamples=2, num_blocks=1)
# 2 iterations on 32x64 images with tiny networks; no validation (it would
# render 50 full-size scenes), no loader workers (their start-up dominates).
TINY_OPTIONS = [
    'train_cfg.max_iters=2',
    'train_dataloader.dataset.height=32',
    'train_dataloader.dataset.width=64',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'model.discriminator.base_channels=8',
    'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
] + [f'model.generator.{k}={v}' for k, v in TINY_GENERATOR.items()]


def run_python(args, pythonpath, timeout=TIMEOUT):
    """``sys.executable ARGS`` from the repo root with only ``pythonpath`` on
    PYTHONPATH (gentk itself comes from the environment); on a timeout the
    test fails with what the process had printed."""
    env = dict(os.environ, PYTHONPATH=pythonpath,
               PIP_NO_INPUT='1', PIP_DISABLE_PIP_VERSION_CHECK='1')
    try:
        return subprocess.run([sys.executable, *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f'timed out after {timeout}s: {args}\n'
                    + describe(err.stdout, err.stderr))


def describe(stdout, stderr):
    def text(s):
        return s.decode(errors='replace') if isinstance(s, bytes) else s or ''
    return (f'--- stdout ---\n{text(stdout)[-6000:]}\n'
            f'--- stderr ---\n{text(stderr)[-6000:]}')


def check_ok(proc):
    if proc.returncode != 0:
        pytest.fail(f'exit code {proc.returncode}: {proc.args}\n'
                    + describe(proc.stdout, proc.stderr))


def train(config, work_dir, pythonpath):
    return run_python(
        ['tools/train.py', config, '--work-dir', str(work_dir),
         '--cfg-options', *TINY_OPTIONS], pythonpath)


def copy_module(dest):
    """The bare ``gentk_example_plugin`` package, without any packaging
    metadata (an egg-info left by ``pip install -e`` would carry the entry
    point along)."""
    shutil.copytree(osp.join(PROJECT, 'gentk_example_plugin'),
                    osp.join(dest, 'gentk_example_plugin'),
                    ignore=shutil.ignore_patterns('__pycache__'))
    return str(dest)


def plugin_installed_here():
    """Whether this environment already has the plugin's entry point (then
    the 'no entry point' runs cannot be made)."""
    return any(ep.name == 'example_plugin' for ep in
               plugins.entry_points(plugins.ENTRY_POINT_GROUP))


@pytest.fixture(scope='module')
def plugin_site(tmp_path_factory):
    """The plugin installed for real (wheel built by setuptools, entry point
    in its dist-info) into a throwaway folder, offline."""
    root = tmp_path_factory.mktemp('example_plugin')
    # pip builds in the source tree without build isolation (build/,
    # *.egg-info); a copy keeps the repo clean and parallel runs apart.
    src = root / 'src'
    shutil.copytree(PROJECT, src, ignore=shutil.ignore_patterns(
        'build', '*.egg-info', '__pycache__', 'work_dirs'))
    site = root / 'site'
    proc = run_python(['-m', 'pip', 'install', '--quiet', '--no-deps',
                       '--no-build-isolation', '--no-index',
                       '--target', str(site), str(src)], pythonpath='')
    check_ok(proc)
    return str(site)


@pytest.fixture(scope='module')
def plugin_module():
    """The plugin imported in this process (registers ResizeConvGenerator)."""
    sys.path.insert(0, PROJECT)
    try:
        return importlib.import_module('gentk_example_plugin')
    finally:
        sys.path.remove(PROJECT)


def generator_keys(plugin_module, **kwargs):
    gen = plugin_module.ResizeConvGenerator(in_channels=4, **kwargs)
    return set(gen.state_dict())


# ------------------------------------------------------------------ unit
@pytest.mark.parametrize('size', [(37, 53), (9, 7), (1, 1)])
def test_generator_keeps_size_and_range(plugin_module, size):
    gen = MODELS.build(dict(type='ResizeConvGenerator', in_channels=5,
                            **TINY_GENERATOR))
    assert isinstance(gen, plugin_module.ResizeConvGenerator)
    # Resize-convolution upsampling: no transposed convolution anywhere.
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in gen.modules())
    with torch.no_grad():
        out = gen(10 * torch.randn(2, 5, *size))
    assert out.shape == (2, 3, *size)
    assert out.abs().max() <= 1


def test_load_plugins_names_the_failing_plugin(monkeypatch):
    class BrokenEntryPoint:
        name, value, group = 'broken_plugin', 'broken_module', 'gentk.plugins'

        def load(self):
            raise RuntimeError('boom while importing broken_module')

    monkeypatch.setattr(plugins, '_loaded', [])
    monkeypatch.setattr(plugins, 'entry_points',
                        lambda group: [BrokenEntryPoint()])
    with pytest.raises(ImportError, match='broken_plugin') as info:
        plugins.load_plugins()
    assert 'boom while importing broken_module' in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_entry_points_on_old_and_new_importlib(monkeypatch):
    """Python 3.10+ selects a group; 3.9 returns a dict of groups."""
    point = metadata.EntryPoint('p', 'm', plugins.ENTRY_POINT_GROUP)
    monkeypatch.setattr(plugins.metadata, 'entry_points',
                        lambda: {plugins.ENTRY_POINT_GROUP: (point,)})
    assert plugins.entry_points(plugins.ENTRY_POINT_GROUP) == [point]
    assert plugins.entry_points('other') == []
    monkeypatch.setattr(plugins.metadata, 'entry_points',
                        lambda: metadata.EntryPoints([point]))
    assert plugins.entry_points(plugins.ENTRY_POINT_GROUP) == [point]


def test_load_plugins_loads_each_once(monkeypatch):
    loads = []

    class GoodEntryPoint:
        name, value, group = 'good_plugin', 'good_module', 'gentk.plugins'

        def load(self):
            loads.append(self.name)

    monkeypatch.setattr(plugins, '_loaded', [])
    monkeypatch.setattr(plugins, 'entry_points',
                        lambda group: [GoodEntryPoint()])
    assert plugins.load_plugins() == ['good_plugin']
    assert plugins.load_plugins() == ['good_plugin']
    assert loads == ['good_plugin']


# ------------------------------------------------------------ end to end
def test_installed_entry_point_trains_the_plugin_generator(
        plugin_site, plugin_module, tmp_path):
    imports = Config.fromfile(CONFIG, import_custom_modules=False).get(
        'custom_imports', {}).get('imports', [])
    assert 'gentk_example_plugin' not in imports
    # Only the installed copy is importable; the config never names the
    # module, so the entry point is what puts the class in the registry.
    check_ok(train(CONFIG, tmp_path, pythonpath=plugin_site))
    checkpoint = tmp_path / 'iter_2.pth'
    assert checkpoint.is_file()
    trained = state_dict_from(load_weights(str(checkpoint)), prefix='generator.')
    assert set(trained) == generator_keys(plugin_module, **TINY_GENERATOR)


def test_without_entry_point_the_registry_does_not_know_it(tmp_path):
    # make venv never installs the example plugin (plugin_site installs it
    # into a throwaway folder); an environment that has it cannot run this
    # check, and says so instead of passing quietly.
    assert not plugin_installed_here(), (
        'the example plugin is installed in this environment: '
        '`pip uninstall gentk-example-plugin` to test the registry without it')
    proc = train(CONFIG, tmp_path / 'work',
                 pythonpath=copy_module(tmp_path / 'src'))
    assert proc.returncode != 0
    assert 'ResizeConvGenerator is not in the gentk::model registry' \
        in proc.stderr, describe(proc.stdout, proc.stderr)


def test_custom_imports_trains_without_install(plugin_module, tmp_path):
    proc = train(CONFIG_CUSTOM_IMPORTS, tmp_path / 'work',
                 pythonpath=copy_module(tmp_path / 'src'))
    check_ok(proc)
    checkpoint = tmp_path / 'work' / 'iter_2.pth'
    assert checkpoint.is_file()
    trained = state_dict_from(load_weights(str(checkpoint)), prefix='generator.')
    assert set(trained) == generator_keys(plugin_module, **TINY_GENERATOR)
