"""The GAN step contract and pix2pixHD's training behaviour, on tiny nets."""
import copy

import pytest
import torch
from mmengine.registry import DefaultScope

import gentk.engine  # noqa: F401
import gentk.models  # noqa: F401
from gentk.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS

H, W = 32, 48


def tiny_model_cfg(**overrides):
    cfg = dict(
        type='Pix2PixHD',
        data_preprocessor=dict(type='GenDataPreprocessor', num_classes=4,
                               use_instance_edges=True),
        generator=dict(type='GlobalGenerator', base_channels=8,
                       num_downsamples=2, num_blocks=1),
        discriminator=dict(type='MultiScaleDiscriminator', num_scales=2,
                           base_channels=8, num_layers=2),
        gan_loss=dict(type='GANLoss', gan_type='lsgan'),
        feature_matching_loss=dict(type='FeatureMatchingLoss', loss_weight=10.0))
    cfg.update(overrides)
    return cfg


def tiny_model(**overrides):
    with DefaultScope.overwrite_default_scope('gentk'):
        model = MODELS.build(tiny_model_cfg(**overrides))
    model.init_weights()
    return model


def test_networks_are_told_where_the_labels_end():
    """A generator or discriminator that takes ``one_hot_channels`` gets
    the preprocessor's classes (its first convolution's table lookup); one
    without the argument builds."""
    from gentk.models.algorithms.base_gan import takes_argument
    model = tiny_model()
    assert model.generator.stem.conv.one_hot_channels == 4
    assert model.generator.stem.conv.in_channels == 5  # + instance edges
    # The discriminator's finest scale sees the one-hot map as it is; the
    # coarser one sees it averaged.
    finest, coarser = model.discriminator.discriminators
    assert finest.blocks[0].conv.one_hot_channels == 4
    assert finest.blocks[0].conv.in_channels == 8  # + edges + RGB
    assert coarser.blocks[0].conv.one_hot_channels == 0
    unet = tiny_model(generator=dict(type='UnetGenerator', base_channels=4,
                                     num_downs=2))
    assert not hasattr(unet.generator, 'one_hot_channels')
    with DefaultScope.overwrite_default_scope('gentk'):
        assert takes_argument(dict(type='LocalEnhancer'), 'one_hot_channels')
        assert not takes_argument(dict(type='UnetGenerator'),
                                  'one_hot_channels')
    assert not takes_argument(None, 'one_hot_channels')


def optim_wrappers(model, lr=2e-4, optimizer=None):
    optimizer = optimizer or dict(type='Adam', lr=lr, betas=(0.5, 0.999))
    cfg = dict(
        generator=dict(optimizer=dict(optimizer),
                       modules=['generator', 'encoder']),
        discriminator=dict(optimizer=dict(optimizer)))
    with DefaultScope.overwrite_default_scope('gentk'):
        return OPTIM_WRAPPER_CONSTRUCTORS.build(
            dict(type='GANOptimWrapperConstructor', optim_wrapper_cfg=cfg))(model)


def scene():
    """Two regions with two touching instances; the photo is a function of the
    label so that the mapping is learnable."""
    label = torch.zeros(H, W, dtype=torch.long)
    label[:, W // 2:] = 2
    label[H // 2:, :] = 1
    inst = label.clone()
    inst[H // 2:, W // 3:] = 1001
    colours = torch.tensor([[200, 40, 40], [40, 200, 40], [40, 40, 200]],
                           dtype=torch.uint8)
    img = colours[label].permute(2, 0, 1).contiguous()
    return {'inputs': {'img': [img], 'label': [label], 'inst': [inst]}}


def params(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def changed(before, module):
    return {k for k, v in module.named_parameters() if not torch.equal(before[k], v)}


def test_channels_follow_the_preprocessor():
    model = tiny_model()
    assert model.generator.in_channels == 5           # 4 labels + edges
    first_d = model.discriminator.discriminators[0]
    assert next(first_d.parameters()).shape[1] == 8   # 5 + RGB


def test_train_step_logs_and_updates_each_network():
    model, data = tiny_model(), scene()
    ow = optim_wrappers(model)
    g0, d0 = params(model.generator), params(model.discriminator)
    log = model.train_step(data, ow)
    assert set(log) == {'loss_d_fake', 'loss_d_real', 'loss_gan', 'loss_feat'}
    assert all(torch.isfinite(v) for v in log.values())
    assert changed(g0, model.generator) == set(g0)
    assert changed(d0, model.discriminator) == set(d0)
    assert int(model.num_iters) == 1
    assert all(p.requires_grad for p in model.discriminator.parameters())


def test_perceptual_and_pixel_losses_join_the_generator_loss():
    """The perceptual and pixel slots take any image loss of the fake and
    the real photo (L1 here: the VGG loss has its own tests) and are summed
    into the generator's loss with their weights."""
    model = tiny_model(
        perceptual_loss=dict(type='L1Loss', loss_weight=3.0, loss_name='loss_vgg'),
        pixel_loss=dict(type='L1Loss', loss_weight=0.5))
    inputs = model.data_preprocessor(scene(), True)['inputs']
    state = model.generate(inputs)
    l1 = (state['fake'] - inputs['img']).abs().mean().item()
    log = model.train_generator(inputs, state, optim_wrappers(model)['generator'])
    assert set(log) == {'loss_gan', 'loss_feat', 'loss_vgg', 'loss_l1'}
    assert log['loss_vgg'].item() == pytest.approx(3.0 * l1, rel=1e-5)
    assert log['loss_l1'].item() == pytest.approx(0.5 * l1, rel=1e-5)


def test_each_step_updates_only_its_network():
    """The discriminator is frozen in the generator step: its weights get no
    gradient there (checked right after that step, before the
    discriminator step's own backward) and stay; the discriminator step
    then leaves the generator as it is."""
    model, data = tiny_model(), scene()
    ow = optim_wrappers(model)
    inputs = model.data_preprocessor(data, True)['inputs']
    state = model.generate(inputs)
    g0, d0 = params(model.generator), params(model.discriminator)
    model.train_generator(inputs, state, ow['generator'])
    assert all(p.grad is None for p in model.discriminator.parameters())
    assert all(p.requires_grad for p in model.discriminator.parameters())
    assert not changed(d0, model.discriminator)
    assert changed(g0, model.generator) == set(g0)
    g1 = params(model.generator)
    model.train_discriminator(inputs, state, ow['discriminator'])
    assert not changed(g1, model.generator)
    assert changed(d0, model.discriminator) == set(d0)


@pytest.mark.parametrize('matmul_route', [False, True])
def test_channels_last_step_runs_nhwc_and_matches_nchw(monkeypatch,
                                                       matmul_route):
    """With the preprocessor's channels_last every layer of both networks
    outputs NHWC but the generator's residual blocks, and one training step
    gives the NCHW step's losses and, after it, the same generated images
    (with the small-map product route forced on as well). The step is
    plain SGD: the conv biases before instance norms get gradients of pure
    rounding noise, which Adam's first step would turn into +-lr either
    way, and so would any weight whose gradient is as small."""
    from gentk.models.layers import matmul_conv
    if matmul_route:
        monkeypatch.setattr(matmul_conv, 'MATMUL_PIXEL_RATIO', 0.0)
        monkeypatch.setattr(matmul_conv, 'MATMUL_MIN_REDUCTION', 0)
    results = {}
    for channels_last in (False, True):
        torch.manual_seed(0)
        model = tiny_model(data_preprocessor=dict(
            type='GenDataPreprocessor', num_classes=4, use_instance_edges=True,
            channels_last=channels_last))
        layouts = {}

        def expect_nhwc(name):
            # the generator's residual blocks run NCHW on CPU (wide convs)
            return channels_last and not name.startswith('generator.blocks.')

        def record(name):
            def hook(module, args, out):
                layouts.setdefault(name, set()).add(out.is_contiguous(
                    memory_format=torch.channels_last if expect_nhwc(name)
                    else torch.contiguous_format))
            return hook
        hooks = [m.register_forward_hook(record(name))
                 for name, m in model.named_modules()
                 if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d,
                                   torch.nn.InstanceNorm2d))]
        log = model.train_step(scene(), optim_wrappers(
            model, optimizer=dict(type='SGD', lr=0.05)))
        for hook in hooks:
            hook.remove()
        assert len(layouts) > 20
        assert all(seen == {True} for seen in layouts.values()), layouts
        inputs = model.data_preprocessor(scene())['inputs']
        results[channels_last] = log, model.sample(inputs)
    (log_nchw, fake_nchw), (log_nhwc, fake_nhwc) = results[False], results[True]
    for key in log_nchw:
        torch.testing.assert_close(log_nhwc[key], log_nchw[key],
                                   rtol=1e-4, atol=1e-5)
    assert fake_nhwc.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(fake_nhwc, fake_nchw, rtol=1e-3, atol=1e-4)


def _official_iteration(model, data, ow):
    """pix2pixHD's official iteration written out: one forward of G and of
    D on the detached fake, the real and the fake, then G's update, then
    D's (both from the same D weights)."""
    inputs = model.data_preprocessor(data, True)['inputs']
    cond, real = inputs['cond'], inputs['img']
    fake = model.generator(model.generator_input(inputs))
    d = model.discriminator
    pred_fake_pool = d(torch.cat([cond, fake.detach()], 1))
    pred_real = d(torch.cat([cond, real], 1))
    pred_fake = d(torch.cat([cond, fake], 1))
    real_features = [[f.detach() for f in scale] for scale in pred_real]
    loss_g = (model.gan_loss(pred_fake, True)
              + model.feature_matching_loss(pred_fake, real_features))
    loss_d = 0.5 * (model.gan_loss(pred_fake_pool, False, is_disc=True)
                    + model.gan_loss(pred_real, True, is_disc=True))
    for net, loss, wrapper in ((model.generator, loss_g, ow['generator']),
                               (d, loss_d, ow['discriminator'])):
        grads = torch.autograd.grad(loss, list(net.parameters()),
                                    retain_graph=True)
        for param, grad in zip(net.parameters(), grads):
            param.grad = grad
        wrapper.step()
        wrapper.zero_grad()


def test_step_is_the_official_iteration():
    """Pix2PixHD's step runs the generator first: both of its losses and
    the discriminator's update see the discriminator of before the update,
    and the two networks end where the official loop leaves them."""
    torch.manual_seed(0)
    model, data = tiny_model(), scene()
    reference = copy.deepcopy(model)
    model.train_step(data, optim_wrappers(model, lr=LR))
    _official_iteration(reference, data, optim_wrappers(reference, lr=LR))
    for net in ('generator', 'discriminator'):
        ours = dict(getattr(model, net).named_parameters())
        cancelled = biases_before_instance_norm(getattr(model, net))
        for name, param in getattr(reference, net).named_parameters():
            if name in cancelled:
                # Their gradient is zero up to rounding, which Adam scales
                # to a step of up to lr either way.
                assert (ours[name] - param).abs().max() <= 2 * LR, name
                continue
            torch.testing.assert_close(ours[name], param, rtol=1e-5,
                                       atol=1e-6, msg=f'{net}.{name}')


LR = 2e-4


def biases_before_instance_norm(net):
    """Names of the convolution biases that an instance norm (without
    affine parameters) subtracts again: the loss does not depend on them."""
    from gentk.models.layers.conv_norm_act import ConvNormAct
    from gentk.models.layers.instance_norm import InstanceNorm2d
    return {f'{name}.conv.bias' for name, m in net.named_modules()
            if isinstance(m, ConvNormAct) and isinstance(m.norm, InstanceNorm2d)
            and m.conv.bias is not None}


@pytest.mark.parametrize('norm, batches', [('IN', [2, 1]), ('BN', [1, 1, 1])])
def test_discriminator_judges_real_and_fake_in_one_batch(norm, batches):
    """With per-sample norms the discriminator's update passes over the
    real image and the detached fake as one batch (the generator's pass is
    its own); batch norms would mix the two batches' statistics, so there
    it takes one pass each."""
    model = tiny_model(discriminator=dict(
        type='MultiScaleDiscriminator', num_scales=1, base_channels=8,
        num_layers=2, norm_cfg=dict(type=norm)))
    sizes = []
    model.discriminator.register_forward_hook(
        lambda module, args, out: sizes.append(args[0].size(0)))
    model.train_step(scene(), optim_wrappers(model))
    assert sizes == batches


def test_generator_first_needs_one_discriminator_step():
    with pytest.raises(ValueError, match='discriminator_steps must be 1, got 2'):
        tiny_model(discriminator_steps=2)


def test_pix2pix_updates_the_discriminator_first():
    """pix2pix's order: the generator step meets the updated
    discriminator (and recomputes the real features with it)."""
    torch.manual_seed(0)
    model = tiny_model(type='Pix2Pix', pixel_loss=dict(type='L1Loss',
                                                       loss_weight=100.0))
    assert not model.generator_first
    ow = optim_wrappers(model)
    inputs = model.data_preprocessor(scene(), True)['inputs']
    state = model.generate(inputs)
    model.train_discriminator(inputs, state, ow['discriminator'])
    assert 'pred_real' not in state
    features = model.real_features(inputs, state)
    expected = model.discriminator(torch.cat([inputs['cond'], inputs['img']], 1))
    for ours, theirs in zip(features, expected):
        for a, b in zip(ours, theirs):
            assert not a.requires_grad
            torch.testing.assert_close(a, b.detach())


def test_training_lowers_the_reconstruction_error():
    torch.manual_seed(1)
    model, data = tiny_model(), scene()
    ow = optim_wrappers(model, lr=2e-3)
    inputs = model.data_preprocessor(data)['inputs']

    def error():
        return float((model.sample(inputs) - inputs['img']).abs().mean())

    start = error()
    feats = [float(model.train_step(data, ow)['loss_feat']) for _ in range(60)]
    assert error() < 0.5 * start  # 0.16-0.23 of the start over seeds 1-5
    # Feature matching is measured in the discriminator's features, which
    # move as it trains: over seeds 1-5 the last ten steps' sum was 0.20 to
    # 0.68 of the first ten's, and float rounding alone (one convolution
    # route for another) moves a seed within that range.
    assert sum(feats[-10:]) < 0.8 * sum(feats[:10])


def test_encoder_trains_with_the_generator_optimiser():
    model = tiny_model(encoder=dict(type='InstanceFeatureEncoder', out_channels=3,
                                    base_channels=4, num_downsamples=2))
    assert model.generator.in_channels == 5 + 3
    ow, data = optim_wrappers(model), scene()
    e0 = params(model.encoder)
    model.train_step(data, ow)
    assert changed(e0, model.encoder) == set(e0)
    inputs = model.data_preprocessor(data)['inputs']
    del inputs['img']
    with pytest.raises(KeyError, match='encodes instance features'):
        model.sample(inputs)
    inputs['features'] = torch.zeros(1, 3, H, W)
    assert model.sample(inputs).shape == (1, 3, H, W)


def test_discriminator_steps_repeat_the_critic():
    model, data = tiny_model(discriminator_steps=3,
                             generator_first=False), scene()
    ow = optim_wrappers(model)
    model.train_step(data, ow)
    assert ow['discriminator'].optimizer.state_dict()['state'][0]['step'] == 3
    assert ow['generator'].optimizer.state_dict()['state'][0]['step'] == 1


def test_ema_generator_samples():
    """The average starts at the generator after the first step, then moves
    ``ema_momentum`` of the way to it after each step."""
    momentum = 0.1
    model, data = tiny_model(ema_momentum=momentum), scene()
    ow = optim_wrappers(model)
    model.train_step(data, ow)
    first = params(model.generator)
    ema = dict(model.generator_ema.module.named_parameters())
    for name, value in first.items():
        assert torch.equal(ema[name], value), name
    model.train_step(data, ow)
    second = params(model.generator)
    for name, value in second.items():
        expected = (1 - momentum) * first[name] + momentum * value
        torch.testing.assert_close(ema[name], expected, rtol=1e-6, atol=1e-7)
    assert any(not torch.equal(ema[k], second[k]) for k in second)
    assert model.sampling_generator is model.generator_ema.module


def test_ema_samples_follow_the_average_through_cached_kernels(monkeypatch):
    """The average moves through ``.data``, which leaves the weights'
    versions alone: the Winograd transforms its frozen layers keep between
    calls must be dropped, or sampling uses the first step's average."""
    from gentk.models.layers import matmul_conv, native_convolutions
    monkeypatch.setattr(matmul_conv, 'WINOGRAD_MIN_CHANNELS', 16)
    monkeypatch.setattr(matmul_conv, 'WINOGRAD_MIN_TILES', 1)
    model, data = tiny_model(ema_momentum=0.5), scene()
    ow = optim_wrappers(model)
    inputs = model.data_preprocessor(data, False)['inputs']
    for _ in range(2):
        model.train_step(data, ow)
        model.sample(inputs)
        # the residual block's transformed kernels are kept between calls
        assert any('_winograd_cache' in layer.__dict__
                   for layer in model.generator_ema.modules())
    with native_convolutions():
        expected = model.sample(inputs)
    torch.testing.assert_close(model.sample(inputs), expected,
                               rtol=1e-4, atol=1e-5)


def pix2pix_model(num_downs=4, **overrides):
    with DefaultScope.overwrite_default_scope('gentk'):
        return MODELS.build(dict(
            type='Pix2Pix',
            data_preprocessor=dict(type='GenDataPreprocessor', num_classes=4),
            generator=dict(type='UnetGenerator', base_channels=8,
                           num_downs=num_downs),
            discriminator=dict(type='MultiScaleDiscriminator', num_scales=1,
                               base_channels=8, num_layers=2,
                               norm_cfg=dict(type='BN'), padding=1),
            gan_loss=dict(type='GANLoss', gan_type='vanilla'),
            pixel_loss=dict(type='L1Loss', loss_weight=100.0), **overrides))


def test_pix2pix_samples_as_it_trains():
    """pix2pix's inference: dropout on and batch norms on the test batch's
    statistics, exactly the training-mode forward, and the model's state
    (modes, running statistics) untouched."""
    torch.manual_seed(0)
    model = pix2pix_model(num_downs=6)  # widths saturate: dropout layers
    assert any(isinstance(m, torch.nn.Dropout) for m in model.modules())
    ow, data = optim_wrappers(model), scene()
    model.train_step(data, ow)          # running statistics away from init
    model.eval()
    inputs = model.data_preprocessor(data)['inputs']
    state = copy.deepcopy(model.state_dict())
    torch.manual_seed(3)
    first = model.sample(inputs)
    second = model.sample(inputs)
    assert not torch.equal(first, second)           # dropout noise
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert not any(m.training for m in model.modules())
    reference = copy.deepcopy(model.generator).train()
    for m in reference.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.track_running_stats = False
    torch.manual_seed(3)
    with torch.no_grad():
        expected = reference(model.generator_input(inputs))
    torch.testing.assert_close(first, expected)
    deterministic = pix2pix_model(num_downs=6, test_time_dropout=False)
    deterministic.load_state_dict(model.state_dict())
    deterministic.eval()
    assert torch.equal(deterministic.sample(inputs),
                       deterministic.sample(inputs))
    with torch.no_grad():
        eval_out = model.generator.eval()(model.generator_input(inputs))
    torch.testing.assert_close(deterministic.sample(inputs), eval_out)


def test_pix2pix_baseline_lowers_l1():
    model = pix2pix_model()
    ow, data = optim_wrappers(model, lr=2e-3), scene()
    l1 = [float(model.train_step(data, ow)['loss_l1']) for _ in range(30)]
    assert sum(l1[-5:]) < 0.5 * sum(l1[:5])


def test_forward_modes():
    model, data = tiny_model(), scene()
    inputs = model.data_preprocessor(data)['inputs']
    out = model(inputs, mode='predict')
    assert out[0].fake_img.shape == (3, H, W) and out[0].gt_img.shape == (3, H, W)
    with pytest.raises(ValueError, match='train_step'):
        model(inputs, mode='loss')
