"""Reading what a (multi-scale) discriminator returns.

gentk discriminators return one of

* a tensor: the prediction map of a single discriminator;
* a flat list of tensors: one prediction map per scale;
* a nested list: one list per scale, holding that scale's intermediate
  features followed by its prediction map as the **last** element (the
  pix2pixHD layout, needed for feature matching).

A single-scale discriminator that also returns features must therefore wrap
its list once more (``[[feat_1, ..., pred]]``); a flat list always means
"predictions of several scales".
"""
from typing import List, Sequence, Union

from torch import Tensor

DiscriminatorOutput = Union[Tensor, Sequence[Tensor], Sequence[Sequence[Tensor]]]


def final_predictions(outputs: DiscriminatorOutput) -> List[Tensor]:
    """The prediction map of every scale, in scale order."""
    if isinstance(outputs, Tensor):
        return [outputs]
    if not isinstance(outputs, (list, tuple)) or len(outputs) == 0:
        raise TypeError(
            'expected a discriminator output: a tensor, a non-empty list of '
            'tensors, or a non-empty list (per scale) of lists (per layer), '
            f'got {_describe(outputs)}')
    predictions = []
    for scale, scale_output in enumerate(outputs):
        if isinstance(scale_output, Tensor):
            predictions.append(scale_output)
        elif (isinstance(scale_output, (list, tuple)) and scale_output
              and isinstance(scale_output[-1], Tensor)):
            predictions.append(scale_output[-1])
        else:
            raise TypeError(
                f'scale {scale} of the discriminator output must be a tensor '
                'or a non-empty list of tensors ending with the prediction '
                f'map, got {_describe(scale_output)}')
    return predictions


def intermediate_features(outputs: Sequence[Sequence[Tensor]]) -> List[List[Tensor]]:
    """Per scale, every output except the last (the prediction map)."""
    if not isinstance(outputs, (list, tuple)) or len(outputs) == 0:
        raise TypeError(
            'feature matching needs the nested discriminator output: a list '
            '(per scale) of lists (features..., prediction), got '
            f'{_describe(outputs)}')
    features = []
    for scale, scale_output in enumerate(outputs):
        if not isinstance(scale_output, (list, tuple)) or len(scale_output) < 2:
            raise TypeError(
                f'scale {scale} must be a list of at least one feature map '
                'followed by the prediction map (wrap a single-scale output '
                f'as [[feat_1, ..., pred]]), got {_describe(scale_output)}')
        features.append(list(scale_output[:-1]))
    return features


def _describe(value) -> str:
    if isinstance(value, (list, tuple)):
        return f'{type(value).__name__} of length {len(value)}'
    return type(value).__name__
