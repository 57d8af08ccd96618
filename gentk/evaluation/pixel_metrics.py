"""Paired image fidelity: mean absolute error and PSNR against the real photo."""
from typing import Dict, List, Sequence

import torch
from mmengine.evaluator import BaseMetric

from gentk.registry import METRICS


@METRICS.register_module()
class PairedImageMetric(BaseMetric):
    """L1 (on the 0..255 scale) and PSNR (dB, peak 255) of ``fake_img``
    against ``gt_img``, averaged over images.

    Only two numbers per image are kept, so memory stays bounded
    over a whole split.
    """

    default_prefix = 'paired'

    def process(self, data_batch, data_samples: Sequence) -> None:
        # mmengine's evaluator hands metrics each data sample as a dict.
        for sample in data_samples:
            fake = (sample['fake_img'].double().clamp(-1, 1) + 1) * 127.5
            real = (sample['gt_img'].double() + 1) * 127.5
            diff = fake - real
            mse = float((diff ** 2).mean())
            self.results.append((float(diff.abs().mean()), mse))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        l1 = torch.tensor([r[0] for r in results], dtype=torch.float64)
        mse = torch.tensor([r[1] for r in results], dtype=torch.float64)
        psnr = 10 * torch.log10(255.0 ** 2 / mse.clamp_min(1e-10))
        return {'l1': float(l1.mean()), 'psnr': float(psnr.mean())}
