import datetime

from mmengine import DefaultScope
from mmengine.logging import print_log

from .checkpoint import install_safe_checkpoint_loading


def register_all_modules(init_default_scope: bool = True,
                         safe_checkpoints: bool = False) -> None:
    """Register mmdet's and yolox_mm's modules and set the default scope.

    Args:
        init_default_scope (bool): Make ``yolox_mm`` the current default
            scope, so unprefixed names resolve in yolox_mm first, then in
            mmdet and mmengine. If another scope is already current, a new
            ``yolox_mm`` instance is created and made current, with a warning
            (the mmdet/mmyolo behaviour). Defaults to True.
        safe_checkpoints (bool): Also call
            :func:`~yolox_mm.utils.checkpoint.install_safe_checkpoint_loading`
            (weights-only loading of local checkpoints through mmengine,
            mismatching weights reported to the log; changes mmengine for
            the whole process). Defaults to False.
    """
    import mmdet.datasets  # noqa: F401
    import mmdet.engine  # noqa: F401
    import mmdet.evaluation  # noqa: F401
    import mmdet.models  # noqa: F401
    import mmdet.visualization  # noqa: F401

    import yolox_mm.datasets  # noqa: F401
    import yolox_mm.engine  # noqa: F401
    import yolox_mm.models  # noqa: F401

    if safe_checkpoints:
        install_safe_checkpoint_loading()
    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created('yolox_mm'):
        DefaultScope.get_instance('yolox_mm', scope_name='yolox_mm')
    elif current.scope_name != 'yolox_mm':
        print_log(
            f'The current default scope "{current.scope_name}" is not '
            '"yolox_mm"; `register_all_modules` makes a new "yolox_mm" '
            'default scope current.', logger='current')
        name = f'yolox_mm-{datetime.datetime.now()}'
        DefaultScope.get_instance(name, scope_name='yolox_mm')
