"""LR-GAN's adversarial accuracy and adversarial divergence (Yang et al. 2017,
section 4.2).

Two classifiers are trained on the same categories: one on real images,
giving P(y|x), one on generated images (one generator per category), giving
P_g(y|x). Both are then run on real validation images:

- adversarial accuracy: the accuracy of the classifier trained on generated
  images (LR-GAN's tables: 37.81 for DCGAN, 44.22 for LR-GAN on CIFAR-10),
  read against the accuracy of the classifier trained on real images (83.33);
  we report both, in percent, and their ratio.
- adversarial divergence: the KL divergence "between P_g(y|x) and P(y|x)",
  averaged over the validation images; zero iff the two classifiers agree on
  every image. The paper writes it in that order and gives no formula, so we
  take KL(P_g(y|x) || P(y|x)) = sum_y P_g log(P_g / P), in nats;
  ``reverse=True`` gives KL(P || P_g).
"""
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.evaluator import BaseMetric
from torch import nn

from gentk.registry import METRICS, MODELS
from gentk.utils.checkpoint_io import load_weights, state_dict_from


def kl_divergence_from_logits(p_logits: torch.Tensor,
                              q_logits: torch.Tensor) -> torch.Tensor:
    """Per-row KL(p || q) in nats of the softmax distributions of [N, K]
    logits, in float64; log-softmax keeps saturated classifiers finite."""
    log_p = torch.log_softmax(p_logits.double(), dim=1)
    log_q = torch.log_softmax(q_logits.double(), dim=1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=1)


def adversarial_scores(real_logits: torch.Tensor, fake_logits: torch.Tensor,
                       labels: torch.Tensor, reverse: bool = False
                       ) -> Dict[str, torch.Tensor]:
    """Per-image terms on real validation images: whether each classifier is
    right ([N] bool) and the divergence ([N] float64). ``real_logits`` come
    from the classifier trained on real images, ``fake_logits`` from the one
    trained on generated images."""
    labels = labels.to(real_logits.device)
    divergence = (kl_divergence_from_logits(real_logits, fake_logits)
                  if reverse else
                  kl_divergence_from_logits(fake_logits, real_logits))
    return {'correct_real': real_logits.argmax(dim=1) == labels,
            'correct_fake': fake_logits.argmax(dim=1) == labels,
            'divergence': divergence}


def summarise_adversarial(correct_real: torch.Tensor,
                          correct_fake: torch.Tensor,
                          divergence: torch.Tensor) -> Dict[str, float]:
    """Accuracies in percent, their ratio (fake / real), mean divergence."""
    accuracy_real = 100 * float(correct_real.double().mean())
    accuracy_fake = 100 * float(correct_fake.double().mean())
    ratio = accuracy_fake / accuracy_real if accuracy_real else float('nan')
    return {'accuracy_real': accuracy_real, 'accuracy_fake': accuracy_fake,
            'accuracy_ratio': ratio,
            'divergence': float(divergence.double().mean())}


@torch.no_grad()
def adversarial_accuracy_divergence(
        real_classifier: nn.Module, fake_classifier: nn.Module,
        data: Iterable[Tuple[torch.Tensor, torch.Tensor]],
        reverse: bool = False,
        device: Optional[Union[str, torch.device]] = None
) -> Dict[str, float]:
    """Adversarial accuracy and divergence over ``data``, an iterable of
    (images [N, C, H, W], labels [N]) batches of real validation images.
    The classifiers return [N, K] logits; they are put in eval mode."""
    parts: Dict[str, List[torch.Tensor]] = {}
    for classifier in (real_classifier, fake_classifier):
        classifier.eval()
    for images, labels in data:
        if device is not None:
            images = images.to(device)
        scores = adversarial_scores(real_classifier(images),
                                    fake_classifier(images),
                                    torch.as_tensor(labels), reverse)
        for key, value in scores.items():
            parts.setdefault(key, []).append(value.cpu())
    if not parts:
        raise ValueError('adversarial_accuracy_divergence: data is empty')
    return summarise_adversarial(
        **{key: torch.cat(values) for key, values in parts.items()})


def _build_classifier(cfg: Union[dict, nn.Module],
                      checkpoint: Optional[str]) -> nn.Module:
    classifier = cfg if isinstance(cfg, nn.Module) else MODELS.build(cfg)
    if checkpoint is not None:
        classifier.load_state_dict(state_dict_from(
            load_weights(checkpoint, what='classifier checkpoint')))
    return classifier.eval().requires_grad_(False)


@METRICS.register_module()
class AdversarialAccuracyDivergence(BaseMetric):
    """LR-GAN's metrics as a test-time metric over real validation samples:
    each data sample brings a real image (``gt_img``) and its category
    (``gt_label``: an int or a one-element tensor). Keys:
    ``adversarial/accuracy_real``, ``.../accuracy_fake`` (percent),
    ``.../accuracy_ratio``, ``.../divergence`` (nats).

    Args:
        real_classifier / fake_classifier: config (built from ``MODELS``) or
            module returning logits; trained on real and on generated images.
        real_checkpoint / fake_checkpoint: optional weights to load (a
            state_dict or mmengine checkpoint, read ``weights_only=True``).
        reverse: use KL(P || P_g) instead of KL(P_g || P).
        device: where the classifiers run (default: CPU).

    Three numbers are kept per image.
    """

    default_prefix = 'adversarial'

    def __init__(self, real_classifier: Union[dict, nn.Module],
                 fake_classifier: Union[dict, nn.Module],
                 real_checkpoint: Optional[str] = None,
                 fake_checkpoint: Optional[str] = None,
                 reverse: bool = False, device: str = 'cpu',
                 img_key: str = 'gt_img', label_key: str = 'gt_label',
                 collect_device: str = 'cpu', prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.device = torch.device(device)
        self.real_classifier = _build_classifier(
            real_classifier, real_checkpoint).to(self.device)
        self.fake_classifier = _build_classifier(
            fake_classifier, fake_checkpoint).to(self.device)
        self.reverse = reverse
        self.img_key, self.label_key = img_key, label_key

    @torch.no_grad()
    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        images = torch.stack([s[self.img_key] for s in data_samples])
        images = images.to(self.device).float()
        labels = torch.stack([torch.as_tensor(s[self.label_key]).reshape(())
                              for s in data_samples]).long()
        scores = adversarial_scores(self.real_classifier(images),
                                    self.fake_classifier(images), labels,
                                    self.reverse)
        self.results.extend(zip(scores['correct_real'].tolist(),
                                scores['correct_fake'].tolist(),
                                scores['divergence'].tolist()))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        correct_real, correct_fake, divergence = (
            torch.tensor(column, dtype=torch.float64)
            for column in zip(*results))
        return summarise_adversarial(correct_real, correct_fake, divergence)
