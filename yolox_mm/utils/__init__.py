from .checkpoint import install_safe_checkpoint_loading
from .config_scope import enable_config_scope
from .data_check import check_data_paths, missing_data_paths
from .setup_env import register_all_modules
from .type_name import type_name

__all__ = [
    'register_all_modules', 'check_data_paths', 'missing_data_paths',
    'enable_config_scope', 'install_safe_checkpoint_loading', 'type_name'
]
