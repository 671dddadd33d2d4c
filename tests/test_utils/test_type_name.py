"""yolox_mm.utils.type_name: a config type's registry name, scope dropped."""
import pytest

from yolox_mm.datasets.transforms import Mosaic
from yolox_mm.utils import type_name


@pytest.mark.parametrize('type_, name', [
    ('yolox_mm.Mosaic', 'Mosaic'), ('mmdet.EMAHook', 'EMAHook'),
    ('Mosaic', 'Mosaic'), ('', ''), (Mosaic, 'Mosaic'),
])
def test_type_name(type_, name):
    assert type_name(type_) == name


def test_type_name_rejects_other_values():
    with pytest.raises(TypeError, match='received 3'):
        type_name(3)
