"""gentk's registries: children of mmengine's roots under the scope ``gentk``.

Each child names the package that fills it (``locations``), so building from a
config imports only what that config uses. Only the nodes gentk builds from
are declared here.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import Registry

RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS, locations=['gentk.engine'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, locations=['gentk.engine'])
DATASETS = Registry(
    'dataset', parent=MMENGINE_DATASETS, locations=['gentk.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMENGINE_DATA_SAMPLERS, locations=['gentk.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMENGINE_TRANSFORMS,
    locations=['gentk.datasets.transforms'])
MODELS = Registry('model', parent=MMENGINE_MODELS, locations=['gentk.models'])
METRICS = Registry(
    'metric', parent=MMENGINE_METRICS, locations=['gentk.evaluation'])
VISUALIZERS = Registry(
    'visualizer', parent=MMENGINE_VISUALIZERS, locations=['gentk.engine'])
VISBACKENDS = Registry(
    'vis_backend', parent=MMENGINE_VISBACKENDS, locations=['gentk.engine'])
