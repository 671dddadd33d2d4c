from .csp_darknet import CSPDarknet, Focus, SPPBottleneck

__all__ = ['CSPDarknet', 'Focus', 'SPPBottleneck']
