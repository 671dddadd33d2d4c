"""yolox_mm: YOLOX as an MMDetection 3.x plugin.

torch and the compiled mmcv are installed by ``make setup`` (``tools/setup_env.sh``):
mmcv 2.1.0 has no wheel for torch 2.13 and is built from source with its
ops, which pip cannot order on its own.

Like mmdet and mmyolo, the package ships its configs, tools and
``model-index.yml`` as package data in ``yolox_mm/.mim/`` (copied there at
build time, symlinked for an editable install), so that a non-editable
install has them and other projects can inherit them
(``_base_ = 'yolox_mm::yolox_s_8xb8-300e_coco.py'``, see
``yolox_mm/utils/config_scope.py``).
"""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))
#: repository files and folders shipped in yolox_mm/.mim/
MIM_FILES = ('configs', 'tools', 'model-index.yml')


def readme() -> str:
    with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
        return f.read()


def version() -> str:
    namespace = {}
    with open(osp.join(HERE, 'yolox_mm', 'version.py'),
              encoding='utf-8') as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def add_mim_extension() -> None:
    """Put :data:`MIM_FILES` into ``yolox_mm/.mim/``: symlinks for an
    editable install (``develop``, ``editable_wheel``), copies for every
    other build (mmdet's and mmyolo's ``setup.py`` do the same)."""
    editable = any(cmd in sys.argv for cmd in ('develop', 'editable_wheel'))
    mim_dir = osp.join(HERE, 'yolox_mm', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for name in MIM_FILES:
        src, dst = osp.join(HERE, name), osp.join(mim_dir, name)
        if not osp.exists(src):
            continue
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if editable:
            os.symlink(osp.relpath(src, mim_dir), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns(
                '__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src, dst)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='yolox_mm',
        version=version(),
        description='YOLOX (arXiv 2107.08430) as an MMDetection 3.x plugin',
        long_description=readme(),
        long_description_content_type='text/markdown',
        license='Apache License 2.0',
        packages=find_packages(
            exclude=('configs', 'tools', 'demo', 'tests', 'tests.*')),
        package_data={
            'yolox_mm': [
                '.mim/model-index.yml', '.mim/configs/**/*.py',
                '.mim/configs/**/*.yml', '.mim/tools/**/*.py',
                '.mim/tools/**/*.sh'
            ]
        },
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
