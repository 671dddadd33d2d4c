"""yolox_mm: YOLOX as an MMDetection 3.x plugin.

torch and the compiled mmcv are installed by ``make setup`` (``tools/setup_env.sh``):
mmcv 2.1.0 has no wheel for torch 2.13 and is built from source with its
ops, which pip cannot order on its own.
"""
import os.path as osp

from setuptools import find_packages, setup


def readme() -> str:
    with open(osp.join(osp.dirname(__file__), 'README.md'),
              encoding='utf-8') as f:
        return f.read()


def version() -> str:
    namespace = {}
    with open(osp.join('yolox_mm', 'version.py'), encoding='utf-8') as f:
        exec(f.read(), namespace)
    return namespace['__version__']


setup(
    name='yolox_mm',
    version=version(),
    description='YOLOX (arXiv 2107.08430) as an MMDetection 3.x plugin',
    long_description=readme(),
    long_description_content_type='text/markdown',
    license='Apache License 2.0',
    packages=find_packages(exclude=('configs', 'tools', 'demo', 'tests')),
    python_requires='>=3.8',
    install_requires=[
        'torch>=2.0',
        'mmcv>=2.0.0rc4,<2.2.0',
        'mmengine>=0.10.0,<1.0.0',
        'mmdet>=3.3.0,<3.4.0',
        'numpy',
        'opencv-python',
        'pycocotools',
    ],
    extras_require={
        'tests': ['pytest', 'pytest-timeout'],
        'deploy': ['onnx', 'onnxruntime'],
    },
    zip_safe=False)
