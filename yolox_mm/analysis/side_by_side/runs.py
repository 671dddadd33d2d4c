"""The runs of a side-by-side comparison: one training and one test
subprocess per implementation and seed, their ``result.json``.

Ours runs through ``tools/train.py`` / ``tools/test.py``; mmdet's through
``tools/analysis_tools/mmdet_worker.py``, an mmengine ``Runner`` entry that
never imports yolox_mm (it checks this and records it in
``worker.json``). Each subprocess gets ``OMP_NUM_THREADS`` /
``MKL_NUM_THREADS`` = ``threads`` and the repository on ``PYTHONPATH``.
"""
import concurrent.futures
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

from .run_logs import read_test_metrics, read_train_epochs, read_val_curve

#: The source checkout: the tools run from here.
REPO = Path(__file__).resolve().parents[3]
WORKER = REPO / 'tools' / 'analysis_tools' / 'mmdet_worker.py'
IMPLS = ('ours', 'mmdet')
#: ``(impl, seed, cfg_path, cfg_text, run_dir)`` of one run.
Job = Tuple[str, int, str, str, str]


def subprocess_env(threads: int) -> dict:
    """This process's environment with the thread counts and the
    repository first on ``PYTHONPATH``."""
    env = dict(os.environ)
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'):
        env[var] = str(threads)
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (str(REPO), env.get('PYTHONPATH')) if p)
    return env


def git_state() -> dict:
    """HEAD and the uncommitted changes of the work tree (the code a run
    of ours actually used): ``head``, ``changed`` (porcelain lines) and
    ``changes_sha256`` (of the diff and the untracked files)."""
    def git(*a):
        try:
            return subprocess.run(['git', *a], cwd=REPO, capture_output=True,
                                  text=True, timeout=60).stdout
        except (OSError, subprocess.SubprocessError):
            return ''
    status = git('status', '--porcelain', '--', 'yolox_mm', 'configs',
                 'tools')
    diff = git('diff', 'HEAD', '--', 'yolox_mm', 'configs', 'tools')
    untracked = [
        line[3:] for line in status.splitlines() if line.startswith('??')
    ]
    h = hashlib.sha256(diff.encode())
    for path in sorted(untracked):
        for f in sorted(Path(REPO, path).rglob('*')) if Path(
                REPO, path).is_dir() else [Path(REPO, path)]:
            if f.is_file():
                h.update(str(f.relative_to(REPO)).encode())
                h.update(f.read_bytes())
    return dict(head=git('rev-parse', 'HEAD').strip(),
                changed=status.splitlines(), changes_sha256=h.hexdigest())


def run_logged(cmd: List[str], log: str, env: dict) -> Tuple[int, float]:
    """Run ``cmd`` in the repository with stdout and stderr to ``log``;
    returns the exit code and the wall time (s)."""
    t0 = time.perf_counter()
    with open(log, 'w') as f:
        f.write('$ ' + ' '.join(cmd) + '\n')
        f.flush()
        proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=f,
                              stderr=subprocess.STDOUT)
    return proc.returncode, time.perf_counter() - t0


def commands(impl: str, cfg_path: str, run_dir: str,
             ckpt: Optional[str] = None) -> List[str]:
    """The training command of a run, or its test command of ``ckpt``."""
    py = sys.executable
    if impl == 'ours':
        if ckpt is None:
            return [py, str(REPO / 'tools' / 'train.py'), cfg_path,
                    '--work-dir', run_dir]
        return [py, str(REPO / 'tools' / 'test.py'), cfg_path, ckpt,
                '--work-dir', osp.join(run_dir, 'test')]
    if ckpt is None:
        return [py, str(WORKER), 'train', cfg_path, run_dir]
    return [py, str(WORKER), 'test', cfg_path, osp.join(run_dir, 'test'),
            ckpt]


def write_json(path: str, obj) -> None:
    with open(path, 'w') as f:
        json.dump(obj, f, indent=1)


def _reusable(result_path: str, cfg_hash: str) -> Optional[dict]:
    """A successful earlier result made from the same config text."""
    if not osp.isfile(result_path):
        return None
    with open(result_path) as f:
        old = json.load(f)
    return old if old.get('config_sha256') == cfg_hash and old.get('ok') \
        else None


def _train(res: dict, env: dict, say: Callable[[str], None]) -> bool:
    """Train (``res`` gets the wall time, epochs, val curve, checkpoint)."""
    impl, seed, run_dir = res['impl'], res['seed'], res['run_dir']
    cmd = commands(impl, res['config'], run_dir)
    res['train_cmd'] = ' '.join(cmd)
    log = osp.join(run_dir, 'train.log')
    say(f'[start] {impl} seed {seed}: training, log {log}')
    rc, wall = run_logged(cmd, log, env)
    res['train_wall_s'] = wall
    if rc != 0:
        res['error'] = f'training exited with {rc}'
        say(f'[FAIL] {impl} seed {seed}: {res["error"]}, see {log}')
        return False
    epochs = read_train_epochs(run_dir)
    res['epochs'] = epochs
    res['s_per_epoch'] = wall / epochs if epochs else None
    res['val_curve'] = read_val_curve(run_dir)
    with open(osp.join(run_dir, 'last_checkpoint')) as f:
        res['checkpoint'] = f.read().strip()
    if impl == 'mmdet':
        with open(osp.join(run_dir, 'worker.json')) as f:
            res['yolox_mm_imported'] = json.load(f)['yolox_mm_imported']
    return True


def _test(res: dict, env: dict, say: Callable[[str], None]) -> bool:
    """Test the last checkpoint (``res`` gets the metrics and whether they
    equal the last val evaluation)."""
    impl, seed, run_dir = res['impl'], res['seed'], res['run_dir']
    ckpt = res['checkpoint']
    cmd = commands(impl, res['config'], run_dir, ckpt)
    res['test_cmd'] = ' '.join(cmd)
    say(f'[test]  {impl} seed {seed}: trained in '
        f'{res["train_wall_s"] / 60:.1f} min, testing {osp.basename(ckpt)}')
    log = osp.join(run_dir, 'test.log')
    rc, res['test_wall_s'] = run_logged(cmd, log, env)
    if rc != 0:
        res['error'] = f'test exited with {rc}'
        say(f'[FAIL] {impl} seed {seed}: {res["error"]}, see {log}')
        return False
    metrics = read_test_metrics(osp.join(run_dir, 'test'), log)
    res['test_json'] = metrics.pop('json')
    res['bbox_mAP'] = metrics['coco/bbox_mAP']
    res['bbox_mAP_50'] = metrics['coco/bbox_mAP_50']
    res['test_metrics'] = metrics
    last = res['val_curve'][-1] if res['val_curve'] else None
    res['equals_final_val'] = (
        None if last is None or last['epoch'] != res['epochs'] else
        (last['bbox_mAP'], last['bbox_mAP_50']) == (res['bbox_mAP'],
                                                    res['bbox_mAP_50']))
    return True


def run_one(impl: str, seed: int, cfg_path: str, cfg_text: str,
            run_dir: str, threads: int, reuse: bool,
            say: Callable[[str], None] = lambda msg: None) -> dict:
    """Train and test one run; returns (and writes) its ``result.json``.
    ``say`` receives one progress line per step."""
    result_path = osp.join(run_dir, 'result.json')
    cfg_hash = hashlib.sha256(cfg_text.encode()).hexdigest()
    old = _reusable(result_path, cfg_hash) if reuse else None
    if old is not None:
        say(f'[reuse] {impl} seed {seed}: {result_path}')
        return old
    os.makedirs(run_dir, exist_ok=True)
    env = subprocess_env(threads)
    res = dict(impl=impl, seed=seed, config=cfg_path, config_sha256=cfg_hash,
               run_dir=run_dir, threads=threads, ok=False)
    res['git'] = git_state()
    res['started'] = time.strftime('%Y-%m-%d %H:%M:%S %Z')
    res['ok'] = _train(res, env, say) and _test(res, env, say)
    write_json(result_path, res)
    if res['ok']:
        say(f'[done]  {impl} seed {seed}: bbox mAP {res["bbox_mAP"]:.3f}, '
            f'mAP@0.5 {res["bbox_mAP_50"]:.3f}, '
            f'{res["train_wall_s"] / 60:.1f} min')
    return res


def run_all(jobs: Sequence[Job], threads: int, reuse: bool, parallel: int,
            say: Callable[[str], None] = lambda msg: None) -> List[dict]:
    """:func:`run_one` for every job, ``parallel`` at a time; results in
    the order of ``jobs``."""
    with concurrent.futures.ThreadPoolExecutor(max(1, parallel)) as pool:
        futures = [pool.submit(run_one, impl, seed, cfg_path, text, run_dir,
                               threads, reuse, say)
                   for impl, seed, cfg_path, text, run_dir in jobs]
        return [f.result() for f in futures]


def load_results(work_dir: str, runs: Sequence[Tuple[str, int]]
                 ) -> List[dict]:
    """The ``result.json`` of each ``(impl, seed)`` run in ``work_dir``; a
    missing one is a failed result naming the file."""
    results = []
    for impl, seed in runs:
        path = osp.join(work_dir, f'{impl}_seed{seed}', 'result.json')
        if osp.isfile(path):
            with open(path) as f:
                results.append(json.load(f))
        else:
            results.append(dict(impl=impl, seed=seed, ok=False,
                                error=f'no {path}'))
    return results
