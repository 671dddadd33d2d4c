"""``import yolox_mm`` registers modules and checks versions, nothing else.

In a fresh interpreter with mmdet imported (the suite itself installs safe
checkpoint loading, ``tests/conftest.py``) the import leaves every
process-wide hook it could touch as it found it, compared by identity:
mmengine's loader of local checkpoint paths,
``mmengine.runner.checkpoint.load_state_dict``, torch's weights-only
allow-list, ``torch.onnx.export``, ``sys.meta_path`` and
mmengine's ``Config._get_cfg_path``. Then
:func:`yolox_mm.utils.install_safe_checkpoint_loading` changes exactly the
checkpoint hooks, is idempotent, and is what makes mmengine load a Runner
checkpoint (a ``HistoryBuffer`` in it) weights-only.
"""
import json
import os
import os.path as osp
import subprocess
import sys

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))

_SCRIPT = r'''
import json, pickle, sys
import torch
import mmengine.runner.checkpoint as mmengine_checkpoint
from mmengine.config import Config
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint
# what a host mmdet project has imported already; importing them also adds
# six's finder (``six._SixMetaPathImporter``) to sys.meta_path
import mmdet.datasets, mmdet.engine, mmdet.evaluation, mmdet.models  # noqa
import mmdet.visualization  # noqa: F401


def hooks():
    return dict(
        local_loader=CheckpointLoader._schemes.get(''),
        load_state_dict=mmengine_checkpoint.load_state_dict,
        onnx_export=torch.onnx.export,
        get_cfg_path=Config.__dict__['_get_cfg_path'],
        meta_path=list(sys.meta_path),
        safe_globals=list(torch.serialization.get_safe_globals()))


def same(a, b):
    if isinstance(a, list):
        return len(a) == len(b) and all(x is y for x, y in zip(a, b))
    return a is b


def load(path):
    try:
        return sorted(_load_checkpoint(path))
    except pickle.UnpicklingError:
        return 'UnpicklingError'


path = sys.argv[1]
buffer = HistoryBuffer()
buffer.update(1.5)
torch.save(dict(state_dict=dict(w=torch.zeros(1)),
                message_hub=dict(log_scalars=dict(loss=buffer))), path)
before = hooks()
import yolox_mm  # noqa: E402
after_import = hooks()
load_after_import = load(path)
from yolox_mm.utils import install_safe_checkpoint_loading  # noqa: E402
from yolox_mm.utils import checkpoint as ours  # noqa: E402
install_safe_checkpoint_loading()
installed = hooks()
install_safe_checkpoint_loading()
twice = hooks()
print(json.dumps(dict(
    changed_by_import=[k for k in before
                       if not same(before[k], after_import[k])],
    deploy_imported=[m for m in ('yolox_mm.deploy', 'mmdeploy')
                     if m in sys.modules],
    load_after_import=load_after_import,
    changed_by_install=[k for k in before
                        if not same(after_import[k], installed[k])],
    local_loader_is_ours=installed['local_loader'] is
    ours.load_local_checkpoint,
    load_state_dict_is_ours=installed['load_state_dict'] is
    ours.load_state_dict,
    changed_by_second_install=[k for k in before
                               if not same(installed[k], twice[k])],
    load_after_install=load(path))))
'''


def test_import_changes_nothing_outside_and_install_is_explicit(tmp_path):
    env = dict(os.environ)
    env.pop('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', None)
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO] + [p for p in [env.get('PYTHONPATH')] if p])
    out = subprocess.run(
        [sys.executable, '-c', _SCRIPT, str(tmp_path / 'runner.pth')],
        env=env, cwd=str(tmp_path), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])

    assert report['changed_by_import'] == []
    assert report['deploy_imported'] == []
    # so mmengine's own loader (torch's weights-only default) still refuses
    # the HistoryBuffer of a Runner checkpoint after the import
    assert report['load_after_import'] == 'UnpicklingError'

    assert report['changed_by_install'] == [
        'local_loader', 'load_state_dict', 'safe_globals'
    ]
    assert report['local_loader_is_ours'] is True
    assert report['load_state_dict_is_ours'] is True
    assert report['changed_by_second_install'] == []
    assert report['load_after_install'] == ['message_hub', 'state_dict']
