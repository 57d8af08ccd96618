import pytest
import torch
from mmengine.structures import BaseDataElement

from gentk.models import GenDataPreprocessor


def batch(with_inst=True, with_img=True, label=None):
    label = torch.tensor([[0, 1, 2], [2, 255, 1]]) if label is None else label
    inputs = {'label': [label, torch.zeros_like(label)]}
    if with_img:
        inputs['img'] = [torch.full((3, 2, 3), 255, dtype=torch.uint8),
                         torch.zeros((3, 2, 3), dtype=torch.uint8)]
    if with_inst:
        inputs['inst'] = [torch.tensor([[5, 5, 7], [5, 5, 7]]),
                          torch.zeros(2, 3, dtype=torch.long)]
    samples = [BaseDataElement(metainfo=dict(label_path=f'l{i}.png')) for i in range(2)]
    return {'inputs': inputs, 'data_samples': samples}


def test_normalises_and_one_hots_with_edges():
    pre = GenDataPreprocessor(num_classes=3, use_instance_edges=True)
    out = pre(batch())['inputs']
    assert out['img'].shape == (2, 3, 2, 3)
    assert torch.all(out['img'][0] == 1.0) and torch.all(out['img'][1] == -1.0)
    cond = out['cond']
    assert cond.shape == (2, 4, 2, 3) and pre.cond_channels == 4
    # one-hot of the first map, ignore pixel (255) all zero
    expected = torch.tensor([[[1, 0, 0], [0, 0, 0]],
                             [[0, 1, 0], [0, 0, 1]],
                             [[0, 0, 1], [1, 0, 0]]], dtype=torch.float)
    assert torch.equal(cond[0, :3], expected)
    # edges: the column where instance 5 meets 7
    assert torch.equal(cond[0, 3], torch.tensor([[0, 1, 1], [0, 1, 1]]).float())
    assert torch.all(cond[1, 3] == 0)
    assert out['label'].dtype == torch.long and out['inst'].shape == (2, 2, 3)


def test_channels_last_lays_out_the_same_values_nhwc():
    nchw = GenDataPreprocessor(num_classes=3, use_instance_edges=True)(batch())
    nhwc = GenDataPreprocessor(num_classes=3, use_instance_edges=True,
                               channels_last=True)(batch())
    for key in ('img', 'cond'):
        got, want = nhwc['inputs'][key], nchw['inputs'][key]
        assert want.is_contiguous()
        assert got.is_contiguous(memory_format=torch.channels_last)
        assert not got.is_contiguous()  # 2x3 maps of 3-4 channels: NHWC only
        assert torch.equal(got, want)


def test_without_edges_and_without_photo():
    pre = GenDataPreprocessor(num_classes=3)
    out = pre(batch(with_inst=False, with_img=False))['inputs']
    assert 'img' not in out and out['cond'].shape == (2, 3, 2, 3)


def test_edges_need_instance_maps():
    pre = GenDataPreprocessor(num_classes=3, use_instance_edges=True)
    with pytest.raises(KeyError, match='instance map'):
        pre(batch(with_inst=False))


def test_out_of_range_label_names_files():
    pre = GenDataPreprocessor(num_classes=3)
    bad = torch.tensor([[0, 9, 2], [2, 1, 1]])
    with pytest.raises(ValueError, match=r'9.*l0\.png'):
        pre(batch(label=bad))


def test_mixed_sizes_in_a_batch_name_the_files():
    data = batch()
    data['inputs']['label'][1] = torch.zeros(3, 3, dtype=torch.long)
    with pytest.raises(ValueError, match=r"'label'.*\(2, 3\), \(3, 3\).*l0\.png"):
        GenDataPreprocessor(num_classes=3)(data)


def test_an_ignore_index_that_is_a_class_id_is_refused():
    # With 300 classes the default 255 would erase class 255 silently.
    with pytest.raises(ValueError, match=r'ignore_index=255 is also a class '
                                         r'id \(num_classes=300\)'):
        GenDataPreprocessor(num_classes=300)
    pre = GenDataPreprocessor(num_classes=300, ignore_index=-1)
    label = torch.tensor([[254, 255], [299, -1]])
    cond = pre(batch(with_inst=False, with_img=False, label=label))['inputs']['cond']
    assert cond[0].sum(0).tolist() == [[1, 1], [1, 0]]
    assert cond[0, 255, 0, 1] == 1
