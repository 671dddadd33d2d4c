"""configs/metafile.yml (through model-index.yml) lists every config once,
with parameter counts that the built models have."""
from pathlib import Path

import pytest
import yaml
from mmengine.config import Config
from mmengine.registry import DefaultScope

REPO = Path(__file__).resolve().parents[2]
#: Build and count only the small models (a few seconds in all).
MAX_BUILT_PARAMS = 10_000_000


def _models():
    index = yaml.safe_load((REPO / 'model-index.yml').read_text())
    models = []
    for meta in index['Import']:
        models += yaml.safe_load((REPO / meta).read_text())['Models']
    return models


def _config_files():
    return sorted(
        p.relative_to(REPO).as_posix()
        for p in (REPO / 'configs').rglob('*.py')
        if not {'_base_', 'deploy'} & set(p.relative_to(REPO).parts))


def test_every_config_listed_once():
    listed = [m['Config'] for m in _models()]
    assert len(listed) == len(set(listed))
    assert set(_config_files()) - set(listed) == set()
    assert set(listed) - set(_config_files()) == set()
    for model in _models():
        assert model['Name'] == Path(model['Config']).stem
        assert model['In Collection'] == 'YOLOX'


SMALL = [m for m in _models()
         if isinstance(m['Metadata']['Parameters'], int)
         and m['Metadata']['Parameters'] < MAX_BUILT_PARAMS
         and (REPO / m['Config']).is_file()]


@pytest.mark.parametrize('model', SMALL, ids=[m['Name'] for m in SMALL])
def test_parameter_count(model):
    from yolox_mm.registry import MODELS
    cfg = Config.fromfile(str(REPO / model['Config']))
    with DefaultScope.overwrite_default_scope('yolox_mm'):
        built = MODELS.build(cfg.model)
    assert sum(p.numel() for p in built.parameters()) == \
        model['Metadata']['Parameters']
