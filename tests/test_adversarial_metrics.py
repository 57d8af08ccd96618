"""LR-GAN's adversarial accuracy and divergence on hand-made logits."""
import math

import pytest
import torch
from torch import nn

from gentk.evaluation.adversarial import (AdversarialAccuracyDivergence,
                                          adversarial_accuracy_divergence,
                                          adversarial_scores,
                                          kl_divergence_from_logits)


def logits_of(probabilities):
    return torch.tensor(probabilities, dtype=torch.float64).log()


def test_kl_of_a_known_pair_of_distributions():
    p = logits_of([[0.9, 0.1], [0.25, 0.75]])
    q = logits_of([[0.5, 0.5], [0.5, 0.5]])
    expected = [0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5),
                0.25 * math.log(0.5) + 0.75 * math.log(1.5)]
    torch.testing.assert_close(kl_divergence_from_logits(p, q),
                               torch.tensor(expected, dtype=torch.float64))
    # logits are defined up to a constant per row
    torch.testing.assert_close(kl_divergence_from_logits(p + 3.0, q - 1.0),
                               torch.tensor(expected, dtype=torch.float64))


def test_saturated_logits_stay_finite():
    p = torch.tensor([[200.0, -200.0]])
    q = torch.tensor([[-200.0, 200.0]])
    assert kl_divergence_from_logits(p, q).item() == pytest.approx(400.0)


def test_identical_classifiers_give_zero_divergence_and_ratio_one():
    classifier = nn.Linear(5, 4)
    images = [torch.randn(8, 5) for _ in range(3)]
    data = [(x, classifier(x).argmax(1)) for x in images]  # all correct
    scores = adversarial_accuracy_divergence(classifier, classifier, data)
    assert scores == {'accuracy_real': 100.0, 'accuracy_fake': 100.0,
                      'accuracy_ratio': 1.0, 'divergence': 0.0}


def test_a_known_table():
    # four validation images, three classes; P from the classifier trained
    # on real images, P_g from the one trained on generated images
    real = [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4],
            [0.6, 0.3, 0.1]]
    fake = [[0.5, 0.4, 0.1], [0.6, 0.2, 0.2], [0.2, 0.2, 0.6],
            [0.1, 0.1, 0.8]]
    labels = torch.tensor([0, 1, 2, 1])
    scores = adversarial_scores(logits_of(real), logits_of(fake), labels)
    # real: right on images 0, 1, 2; fake: right on 0 and 2
    assert scores['correct_real'].tolist() == [True, True, True, False]
    assert scores['correct_fake'].tolist() == [True, False, True, False]
    kl = [sum(pg * math.log(pg / p) for pg, p in zip(rows_g, rows))
          for rows_g, rows in zip(fake, real)]
    torch.testing.assert_close(scores['divergence'],
                               torch.tensor(kl, dtype=torch.float64))

    class Fixed(nn.Module):
        def __init__(self, table):
            super().__init__()
            self.table = logits_of(table)

        def forward(self, index):  # "images" are row indices here
            return self.table[index]

    data = [(torch.tensor([0, 1]), labels[:2]), (torch.tensor([2, 3]),
                                                 labels[2:])]
    summary = adversarial_accuracy_divergence(Fixed(real), Fixed(fake), data)
    assert summary['accuracy_real'] == 75.0
    assert summary['accuracy_fake'] == 50.0
    assert summary['accuracy_ratio'] == pytest.approx(50 / 75)
    assert summary['divergence'] == pytest.approx(sum(kl) / 4)
    reverse = adversarial_accuracy_divergence(Fixed(real), Fixed(fake), data,
                                              reverse=True)
    expected = sum(sum(p * math.log(p / pg) for pg, p in zip(rows_g, rows))
                   for rows_g, rows in zip(fake, real)) / 4
    assert reverse['divergence'] == pytest.approx(expected)


class MeanColourClassifier(nn.Module):
    """Logits from an image's mean colour: a tiny stand-in classifier."""

    def __init__(self, seed):
        super().__init__()
        torch.manual_seed(seed)
        self.fc = nn.Linear(3, 5)

    def forward(self, images):
        return self.fc(images.mean(dim=(2, 3)))


def test_metric_wrapper_streams_dict_samples(tmp_path):
    real, fake = MeanColourClassifier(0), MeanColourClassifier(1)
    torch.save({'state_dict': {f'module.{k}': v
                               for k, v in fake.state_dict().items()}},
               tmp_path / 'fake.pth')
    images = torch.rand(10, 3, 8, 8) * 2 - 1
    labels = torch.randint(0, 5, (10,))
    metric = AdversarialAccuracyDivergence(
        real_classifier=real, fake_classifier=MeanColourClassifier(7),
        fake_checkpoint=str(tmp_path / 'fake.pth'))
    samples = [{'fake_img': torch.zeros(3, 8, 8), 'gt_img': img,
                'gt_label': int(lab) if i % 2 else lab}   # int or 0-d tensor
               for i, (img, lab) in enumerate(zip(images, labels))]
    for i in range(0, 10, 4):
        metric.process(None, samples[i:i + 4])
    result = metric.evaluate(10)
    expected = adversarial_accuracy_divergence(real, fake,
                                               [(images, labels)])
    assert result == {f'adversarial/{k}': pytest.approx(v)
                      for k, v in expected.items()}
    assert result['adversarial/divergence'] > 0
