"""The command-line tools end to end on tiny runs: test, make_dataset,
encode_features, generate."""
import importlib.util
import json
import os
import shutil

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope

from gentk.apis import generate, init_model
from gentk.datasets.transforms.loading import read_id_map
from gentk.registry import DATASETS
from gentk.utils import to_uint8_image
from tiny_config import REPO, run_tool, write_tiny_config


def assert_input_error(proc, *fragments):
    """The tool ended on bad input with its message alone: exit status 2,
    no traceback, every fragment in the message."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert 'Traceback' not in proc.stderr and 'error: ' in proc.stderr, \
        proc.stderr[-3000:]
    for fragment in fragments:
        assert fragment in proc.stderr, (fragment, proc.stderr[-3000:])


ENCODER = ("dict(type='InstanceFeatureEncoder', out_channels=3, "
           "base_channels=4, num_downsamples=2)")


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A tiny pix2pixHD with the instance feature encoder, 2 iterations."""
    root = tmp_path_factory.mktemp('tools')
    config = write_tiny_config(root, max_iters=2, checkpoint_interval=2)
    with open(config, 'a') as f:
        f.write(f'model.update(encoder={ENCODER})\n')
    run_tool(['tools/train.py', config, '--work-dir', str(root / 'work')])
    return root, config, str(root / 'work' / 'iter_2.pth')


@pytest.fixture(scope='module')
def label_maps(tmp_path_factory):
    out = tmp_path_factory.mktemp('synthetic')
    run_tool(['tools/make_dataset.py', '--out', str(out), '--splits', 'val',
              '--num-val', '2', '--height', '40', '--width', '72'])
    city = out / 'gtFine' / 'val' / 'synth'
    return city


def test_test_tool_scores_the_whole_split(trained):
    root, config, ckpt = trained
    out = root / 'metrics.json'
    proc = run_tool(['tools/test.py', config, ckpt, '--work-dir',
                     str(root / 'test'), '--out', str(out)])
    metrics = json.loads(out.read_text())['metrics']
    assert set(metrics) == {'paired/l1', 'paired/psnr'}
    assert 'paired/psnr' in proc.stdout          # the printed table
    # The same scores in this process: the checkpoint's generator over
    # every sample of the test split.
    model = init_model(config, ckpt)
    with DefaultScope.overwrite_default_scope('gentk'):
        dataset = DATASETS.build(model.cfg.test_dataloader.dataset)
        evaluator = Evaluator(model.cfg.test_evaluator)
    assert len(dataset) == 3
    with torch.no_grad():
        for i in range(len(dataset)):
            batch = pseudo_collate([dataset[i]])
            evaluator.process(model.test_step(batch), batch)
    expected = evaluator.evaluate(len(dataset))
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, rel=1e-4), key


def test_test_tool_rejects_a_checkpoint_without_the_generator(trained, tmp_path):
    """A checkpoint of another model (here: no encoder weights) must not be
    scored with the missing weights left at their initial values."""
    from gentk.utils import atomic_save, load_weights
    root, config, ckpt = trained
    partial = load_weights(ckpt)
    partial['state_dict'] = {k: v for k, v in partial['state_dict'].items()
                             if not k.startswith('encoder.')}
    partial_path = str(tmp_path / 'partial.pth')
    atomic_save(partial, partial_path)
    proc = run_tool(['tools/test.py', config, partial_path, '--work-dir',
                     str(tmp_path / 'test')], check=False)
    assert_input_error(proc, 'partial.pth', 'lacks', 'encoder.')
    proc = run_tool(['tools/test.py', config, str(tmp_path / 'nope.pth')],
                    check=False)
    assert_input_error(proc, "checkpoint not found: '",
                       'the CHECKPOINT argument')


def test_encode_features_then_generate_diverse_photos(trained, label_maps, tmp_path):
    _, config, ckpt = trained
    clusters = tmp_path / 'clusters.pth'
    run_tool(['tools/encode_features.py', config, ckpt, '--out', str(clusters),
              '--k', '2', '--max-samples', '4'])
    assert clusters.exists()
    out = tmp_path / 'gen'
    run_tool(['tools/generate.py', config, ckpt, str(label_maps), '--instances',
              str(label_maps), '--clusters', str(clusters), '--variants', '2',
              '--out', str(out)])
    files = sorted(os.listdir(out))
    assert len(files) == 4, files                 # 2 label maps x 2 variants
    images = [cv2.imread(str(out / f)) for f in files]
    assert all(img.shape == (40, 72, 3) for img in images)
    assert not np.array_equal(images[0], images[1]), 'variants are identical'


def test_generate_needs_features_for_an_encoder_model(trained, label_maps, tmp_path):
    _, config, ckpt = trained
    proc = run_tool(['tools/generate.py', config, ckpt, str(label_maps),
                     '--out', str(tmp_path)], check=False)
    assert_input_error(proc, '--clusters')


def test_generate_from_plain_label_maps(tmp_path, label_maps):
    config = write_tiny_config(tmp_path, max_iters=1, checkpoint_interval=1)
    run_tool(['tools/train.py', config, '--work-dir', str(tmp_path / 'w')])
    run_tool(['tools/generate.py', config, str(tmp_path / 'w' / 'iter_1.pth'),
              str(label_maps), '--instances', str(label_maps),
              '--out', str(tmp_path / 'gen')])
    names = sorted(os.listdir(tmp_path / 'gen'))
    assert names == ['synth_000000_000019.png', 'synth_000001_000019.png'], names
    # Each photo is the generator's for its own label and instance maps.
    model = init_model(config, str(tmp_path / 'w' / 'iter_1.pth'))
    for name in names:
        stem = name[:-len('.png')]
        label, inst = (torch.from_numpy(read_id_map(
            str(label_maps / f'{stem}_gtFine_{kind}.png'), kind))
            for kind in ('labelIds', 'instanceIds'))
        want = to_uint8_image(generate(model, label, inst)[0]).astype(int)
        got = cv2.cvtColor(cv2.imread(str(tmp_path / 'gen' / name)),
                           cv2.COLOR_BGR2RGB).astype(int)
        assert got.shape == (40, 72, 3)
        assert np.abs(got - want).max() <= 1, name   # rounding at most
    # The maps take the config's test pipeline: scaled to 36 wide there,
    # they come out at that size.
    scaled = tmp_path / 'scaled.py'
    scaled.write_text(f"_base_ = {config!r}\ntest_dataloader = dict(dataset=dict("
                      "pipeline=[dict(type='ScaleWidth', width=36), "
                      "dict(type='PackGenInputs')]))\n")
    run_tool(['tools/generate.py', str(scaled), str(tmp_path / 'w' / 'iter_1.pth'),
              str(label_maps), '--instances', str(label_maps),
              '--out', str(tmp_path / 'gen36')])
    assert cv2.imread(str(tmp_path / 'gen36' / names[0])).shape == (20, 36, 3)
    # Two files make one pair, whatever their names.
    one = tmp_path / 'one'
    one.mkdir()
    stem = names[0][:-len('.png')]
    for kind, name in (('labelIds', 'label.png'), ('instanceIds', 'inst.png')):
        shutil.copy(label_maps / f'{stem}_gtFine_{kind}.png', one / name)
    run_tool(['tools/generate.py', config, str(tmp_path / 'w' / 'iter_1.pth'),
              str(one / 'label.png'), '--instances', str(one / 'inst.png'),
              '--out', str(tmp_path / 'gen1')])
    assert (cv2.imread(str(tmp_path / 'gen1' / 'label.png')) ==
            cv2.imread(str(tmp_path / 'gen' / names[0]))).all()


def test_generate_names_what_is_missing_or_wrong(trained, label_maps, tmp_path):
    _, config, ckpt = trained
    clusters = tmp_path / 'clusters.pth'
    run_tool(['tools/encode_features.py', config, ckpt, '--out', str(clusters),
              '--k', '2', '--max-samples', '2'])
    proc = run_tool(['tools/generate.py', config, ckpt, str(label_maps),
                     '--clusters', str(clusters), '--out', str(tmp_path / 'a')],
                    check=False)
    assert_input_error(proc, '--instances')
    bad = tmp_path / 'bad'
    bad.mkdir()
    name = sorted(f for f in os.listdir(label_maps) if f.endswith('_labelIds.png'))[0]
    label = cv2.imread(str(label_maps / name), cv2.IMREAD_UNCHANGED)
    label[0, 0] = 250   # not a class id (35 classes, ignore 255)
    cv2.imwrite(str(bad / name), label)
    inst = name.replace('_labelIds', '_instanceIds')
    cv2.imwrite(str(bad / inst),
                cv2.imread(str(label_maps / inst), cv2.IMREAD_UNCHANGED))
    proc = run_tool(['tools/generate.py', config, ckpt, str(bad / name),
                     '--instances', str(bad / inst), '--clusters', str(clusters),
                     '--out', str(tmp_path / 'b')], check=False)
    assert_input_error(proc, f'{bad / name}: ', '250')


def test_metrics_json_writes_missing_scores_as_null():
    """JSON has no NaN: the IoU of a class absent from labels and
    predictions is written as null, and the file stays standard JSON."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'test_tool', os.path.join(REPO, 'tools', 'test.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    result = {'metrics': {'IoU.a': float('nan'), 'mIoU': 0.5},
              'rows': [1.0, float('nan'), float('inf')]}
    assert json.dumps(tool.nan_to_none(result), allow_nan=False) == (
        '{"metrics": {"IoU.a": null, "mIoU": 0.5}, "rows": [1.0, null, null]}')


def load_tool(name):
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generate_pairs_label_and_instance_maps_by_kind(tmp_path):
    list_maps = load_tool('generate').list_maps
    both = tmp_path / 'both'
    both.mkdir()
    for name in ('a_label.png', 'a_inst.png', 'b_labelIds.png',
                 'b_instanceIds.png', 'notes.txt'):
        (both / name).write_bytes(b'')
    assert list_maps(str(both), 'label') == {
        'a': str(both / 'a_label.png'), 'b': str(both / 'b_labelIds.png')}
    assert list_maps(str(both), 'inst') == {
        'a': str(both / 'a_inst.png'), 'b': str(both / 'b_instanceIds.png')}
    plain = tmp_path / 'plain'
    plain.mkdir()
    for name in ('c.png', 'c.jpg'):
        (plain / name).write_bytes(b'')
    with pytest.raises(ValueError, match="c.jpg and c.png are both label maps"):
        list_maps(str(plain), 'label')


def test_segmentation_scores_follow_the_dataset_and_the_options():
    from mmengine.config import Config
    add = load_tool('test').add_segmentation_scores
    for train_ids, options, expected in (
            (False, None, {}),
            (True, None, {'label_ids_to_train_ids': False}),
            (False, {'num_classes': 7, 'label_ids_to_train_ids': False},
             {'num_classes': 7, 'label_ids_to_train_ids': False})):
        cfg = Config(dict(test_dataloader=dict(dataset=dict(
            type='SyntheticStreetDataset', use_train_ids=train_ids)),
            test_evaluator=dict(type='PairedImageMetric')))
        add(cfg, ('seg.py', 'seg.pth'), None, options)
        paired, metric = cfg.test_evaluator
        assert paired['type'] == 'PairedImageMetric'
        settings = {k: metric[k] for k in ('num_classes', 'label_ids_to_train_ids')
                    if k in metric}
        assert settings == expected
