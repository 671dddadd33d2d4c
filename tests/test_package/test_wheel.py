"""A built wheel ships the configs, tools and model index as mim package
data, and another project inherits a config through ``yolox_mm::``.

The wheel is built from a copy of the repository's packaging files (so the
test writes nothing into the checkout), installed with ``pip install
--no-deps --target``, and used from a subprocess whose ``sys.path`` starts
with that target and does not hold the repository; the child project's
config lives in another temporary folder.
"""
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SOURCES = ('setup.py', 'README.md', 'model-index.yml', 'yolox_mm', 'configs',
           'tools')

_CHILD = """\
import json, os, sys
# no source checkout on the path (the editable install's finder comes
# after the path entries, so the target's copy is imported)
assert not any(os.path.isfile(os.path.join(p or '.', 'setup.py'))
               for p in sys.path), sys.path
import yolox_mm
from mmengine.config import Config
from yolox_mm.utils import enable_config_scope

try:  # mmengine alone refuses an unknown package and a top-level path
    Config.fromfile({config!r})
    plain = 'loaded'
except (AssertionError, ValueError) as e:
    plain = type(e).__name__
enable_config_scope()
cfg = Config.fromfile({config!r})
print(json.dumps(dict(
    plain_mmengine=plain,
    package=yolox_mm.__file__,
    num_classes=cfg.model.bbox_head.num_classes,
    widen_factor=cfg.model.backbone.widen_factor,
    scope=cfg.model.get('_scope_'),
    default_scope=cfg.default_scope,
    img_scale=cfg.train_dataloader.dataset.pipeline[0].img_scale)))
"""


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    src = tmp_path_factory.mktemp('src')
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns(
                '__pycache__', '*.pyc', '.mim'))
        else:
            shutil.copy(path, src / name)
    out = tmp_path_factory.mktemp('dist')
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps',
                    '--no-build-isolation', '-q', '-w', str(out), str(src)],
                   check=True, capture_output=True)
    (whl, ) = out.glob('yolox_mm-*.whl')
    return whl


def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for config in (REPO / 'configs').rglob('*.py'):
        rel = config.relative_to(REPO).as_posix()
        assert f'yolox_mm/.mim/{rel}' in names
    for extra in ('model-index.yml', 'configs/metafile.yml', 'tools/train.py',
                  'tools/dist_train.sh',
                  'tools/dataset_converters/to_coco.py'):
        assert f'yolox_mm/.mim/{extra}' in names
    assert not any(n.startswith('tests/') for n in names)


def test_inherit_through_scope_from_installed_wheel(wheel, tmp_path):
    target = tmp_path / 'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps',
                    '-q', '--target', str(target), str(wheel)], check=True,
                   capture_output=True)
    project = tmp_path / 'other_project'
    project.mkdir()
    config = project / 'my_yolox.py'
    config.write_text("_base_ = 'yolox_mm::yolox_s_8xb8-300e_coco.py'\n"
                      'model = dict(bbox_head=dict(num_classes=3))\n')
    env = dict(os.environ, PYTHONPATH=str(target), OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, '-W', 'ignore', '-c',
         _CHILD.format(config=str(config))],
        cwd=project, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out['package'] == str(target / 'yolox_mm' / '__init__.py')
    assert out == dict(package=out['package'], plain_mmengine='ValueError',
                       num_classes=3,
                       widen_factor=0.5, scope='yolox_mm',
                       default_scope='yolox_mm', img_scale=[640, 640])
