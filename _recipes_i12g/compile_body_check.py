# torch.compile check of the tree model body (backbone + neck + head) at a
# fixed 416 input, forward + backward, compiled vs plain (scratch script for
# issue 12 item 3; not to be merged as is).
# Usage: PYTHONPATH=$PWD OMP_NUM_THREADS=1 python _recipes_i12g/compile_body_check.py
import time, torch
from yolox_mm.utils.launch import read_config
from mmengine.registry import init_default_scope
from yolox_mm.registry import MODELS
import yolox_mm
cfg = read_config('configs/yolox_nano_1xb4-200e_deepforest.py')
init_default_scope('yolox_mm')
torch.manual_seed(0)
def make():
    m = MODELS.build(cfg.model); m.train(); return m
x = torch.randn(4, 3, 416, 416)
def fwd_bwd(m):
    feats = m.bbox_head(m.neck(m.backbone(x)))
    sum(t.float().sum() for lvl in feats for t in lvl).backward()
plain = make(); comp = make(); comp.load_state_dict(plain.state_dict())
class Body(torch.nn.Module):
    def __init__(s, m): super().__init__(); s.m = m
    def forward(s, x): return s.m.bbox_head(s.m.neck(s.m.backbone(x)))
cbody = torch.compile(Body(comp))
def cstep():
    feats = cbody(x); sum(t.sum() for lvl in feats for t in lvl).backward()
t = time.perf_counter(); cstep(); print('compile + first step', round(time.perf_counter()-t, 1), 's', flush=True)
cstep()
pt, ct = [], []
for _ in range(6):
    t = time.perf_counter(); fwd_bwd(plain); pt.append(time.perf_counter()-t)
    t = time.perf_counter(); cstep(); ct.append(time.perf_counter()-t)
pt.sort(); ct.sort()
print('median fwd+bwd plain', round(pt[3],3), 'compiled', round(ct[3],3), 'ratio', round(pt[3]/ct[3],2), flush=True)
