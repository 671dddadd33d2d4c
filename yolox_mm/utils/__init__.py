from .config_scope import enable_config_scope
from .data_check import check_data_paths, missing_data_paths
from .setup_env import register_all_modules

__all__ = [
    'register_all_modules', 'check_data_paths', 'missing_data_paths',
    'enable_config_scope'
]
