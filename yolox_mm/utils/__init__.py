from .complexity import complexity, conv_flops
from .data_check import check_data_paths, missing_data_paths
from .setup_env import register_all_modules

__all__ = [
    'register_all_modules', 'check_data_paths', 'missing_data_paths',
    'complexity', 'conv_flops'
]
