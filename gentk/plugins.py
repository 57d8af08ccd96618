"""Third-party components: packages that register generators, losses, ...

A plugin package exposes an entry point in the ``gentk.plugins`` group::

    [options.entry_points]
    gentk.plugins =
        my_plugin = my_plugin

Loading the entry point imports the module, whose ``@MODELS.register_module()``
decorators register its components in gentk's registries. Configs can also
name plugin modules in ``custom_imports``.
"""
from importlib import metadata
from typing import List

ENTRY_POINT_GROUP = 'gentk.plugins'
_loaded: List[str] = []


def entry_points(group: str) -> list:
    """The installed entry points of ``group`` (``entry_points(group=...)``
    needs Python 3.10; 3.9 returns a dict of groups)."""
    found = metadata.entry_points()
    if hasattr(found, 'select'):
        return list(found.select(group=group))
    return list(found.get(group, ()))


def load_plugins() -> List[str]:
    """Import every installed ``gentk.plugins`` entry point once; returns the
    names loaded. A plugin that fails to import is an error naming it."""
    for entry_point in entry_points(ENTRY_POINT_GROUP):
        if entry_point.name in _loaded:
            continue
        try:
            entry_point.load()
        except Exception as err:
            raise ImportError(
                f'gentk plugin {entry_point.name!r} ({entry_point.value}) '
                f'failed to load: {err}') from err
        _loaded.append(entry_point.name)
    return list(_loaded)
