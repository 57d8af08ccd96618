# The same model for a plugin that is not installed, only importable
# (e.g. PYTHONPATH=projects/example_plugin): the config imports the module
# itself, which registers ResizeConvGenerator before the model is built.
_base_ = './resizeconv_synthetic_256x128.py'

# A list in a child config replaces the base's list, so the gentk packages
# the base runtime imports are named again here.
custom_imports = dict(
    imports=['gentk.datasets', 'gentk.engine', 'gentk.evaluation',
             'gentk.models', 'gentk_example_plugin'],
    allow_failed_imports=False)
