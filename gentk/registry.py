"""gentk's registries: children of mmengine's roots under the scope ``gentk``.

Each child names the package that fills it (``locations``), so building from a
config imports only what that config uses. The runner builds loops,
optimisers, schedulers, evaluators and log processors in the ``gentk`` scope
too; their children hold no gentk classes but keep those builds inside the
scope (and mmengine's fallback warnings out of the logs).
"""
from mmengine import registry as mm
from mmengine.registry import Registry

RUNNERS = Registry('runner', parent=mm.RUNNERS, locations=['gentk.engine'])
HOOKS = Registry('hook', parent=mm.HOOKS, locations=['gentk.engine'])
LOOPS = Registry('loop', parent=mm.LOOPS, locations=['gentk.engine'])
DATASETS = Registry('dataset', parent=mm.DATASETS, locations=['gentk.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=mm.DATA_SAMPLERS, locations=['gentk.datasets'])
TRANSFORMS = Registry(
    'transform', parent=mm.TRANSFORMS, locations=['gentk.datasets.transforms'])
MODELS = Registry('model', parent=mm.MODELS, locations=['gentk.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=mm.MODEL_WRAPPERS, locations=['gentk.models'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=mm.WEIGHT_INITIALIZERS,
    locations=['gentk.models'])
OPTIMIZERS = Registry('optimizer', parent=mm.OPTIMIZERS,
                      locations=['gentk.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=mm.OPTIM_WRAPPERS, locations=['gentk.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=mm.OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['gentk.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=mm.PARAM_SCHEDULERS,
    locations=['gentk.engine'])
METRICS = Registry('metric', parent=mm.METRICS, locations=['gentk.evaluation'])
EVALUATOR = Registry(
    'evaluator', parent=mm.EVALUATOR, locations=['gentk.evaluation'])
VISUALIZERS = Registry(
    'visualizer', parent=mm.VISUALIZERS, locations=['gentk.engine'])
VISBACKENDS = Registry(
    'vis_backend', parent=mm.VISBACKENDS, locations=['gentk.engine'])
LOG_PROCESSORS = Registry(
    'log_processor', parent=mm.LOG_PROCESSORS, locations=['gentk.engine'])
