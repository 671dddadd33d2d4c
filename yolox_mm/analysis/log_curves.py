"""Loss and mAP curves from the json scalars log of an mmengine work dir.

mmengine's ``LoggerHook`` writes, through ``LocalVisBackend``, one json
object a line to ``WORK_DIR/<timestamp>/vis_data/scalars.json`` (the same
lines also to ``<timestamp>.json`` beside it):

- a training line every ``logger.interval`` iterations: ``loss``,
  ``loss_cls`` ..., ``lr``, ``time``, ``data_time``, ``epoch`` (1-based),
  ``iter`` and ``step`` (the global iteration, 1-based);
- a validation line after each evaluation: the metrics (``coco/bbox_mAP``,
  ``coco/bbox_mAP_50`` ...), ``data_time``, ``time`` and ``step`` (the
  epoch when training by epoch).

A line is a training line when it has ``iter`` (mmengine's ``LogProcessor``
sets it on every training line and on no validation line); of a validation
line only the keys with a ``/`` are kept (the metrics: an evaluation that
found no detection logs none, only its ``time``). A resumed run writes a new
timestamp folder; :func:`find_scalar_logs` returns them oldest first and
:func:`load_scalars` concatenates them, a later value replacing an earlier
one at the same step.
"""
import glob
import json
import os.path as osp
from typing import Dict, List, NamedTuple, Sequence, Tuple

#: Keys of a training line that are not curves.
NON_CURVE_KEYS = ('epoch', 'iter', 'step', 'memory')


class Scalars(NamedTuple):
    """The curves of a run.

    Attributes:
        train (dict[str, list[tuple[int, float]]]): key -> ``(step, value)``
            pairs by increasing step, step = global iteration.
        val (dict[str, list[tuple[int, float]]]): metric -> ``(step,
            value)`` pairs, step = epoch (or iteration for iteration-based
            training).
        epochs (dict[int, int]): step of a training line -> its epoch
            (1-based; absent for iteration-based training).
    """
    train: Dict[str, List[Tuple[int, float]]]
    val: Dict[str, List[Tuple[int, float]]]
    epochs: Dict[int, int]


def find_scalar_logs(path: str) -> List[str]:
    """The scalars logs of ``path``: itself if it is a ``.json`` file, else
    every ``*/vis_data/scalars.json`` under the work dir ``path``, oldest
    run first (timestamp folder names sort by time).

    Raises:
        FileNotFoundError: when ``path`` is neither a json file nor a work
            dir with such logs.
    """
    if osp.isfile(path):
        if not path.endswith('.json'):
            raise FileNotFoundError(f'expected a .json scalars log or a work '
                                    f'dir, got the file {path}')
        return [path]
    logs = sorted(glob.glob(osp.join(path, '*', 'vis_data', 'scalars.json')))
    if not logs:
        raise FileNotFoundError(
            f'no <timestamp>/vis_data/scalars.json under {path!r}: expected '
            'a work dir of tools/train.py (LocalVisBackend) or a json log')
    return logs


def _add(curves: Dict[str, Dict[int, float]], line: dict,
         keys: Sequence[str]) -> None:
    step = int(line['step'])
    for key in keys:
        value = line[key]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            curves.setdefault(key, {})[step] = float(value)


def load_scalars(path: str) -> Scalars:
    """Read the training and validation curves of a work dir or json log.

    Args:
        path (str): A work dir or one ``scalars.json`` / ``<timestamp>.json``.

    Returns:
        Scalars: the curves, by increasing step.

    Raises:
        FileNotFoundError: see :func:`find_scalar_logs`.
        ValueError: for a line that is not a json object with ``step``,
            naming the file and line number.
    """
    train: Dict[str, Dict[int, float]] = {}
    val: Dict[str, Dict[int, float]] = {}
    epochs: Dict[int, int] = {}
    for log in find_scalar_logs(path):
        with open(log, encoding='utf-8') as f:
            for number, text in enumerate(f, 1):
                if not text.strip():
                    continue
                try:
                    line = json.loads(text)
                    line['step']
                except (ValueError, KeyError, TypeError) as e:
                    raise ValueError(
                        f'{log}:{number}: expected a json object with a '
                        f'"step" key, got {text.strip()[:80]!r}') from e
                if 'iter' not in line:
                    _add(val, line, [k for k in line if '/' in k])
                    continue
                _add(train, line,
                     [k for k in line if k not in NON_CURVE_KEYS])
                if 'epoch' in line:
                    epochs[int(line['step'])] = int(line['epoch'])
    as_pairs = lambda curves: {  # noqa: E731
        k: sorted(v.items()) for k, v in curves.items()}
    return Scalars(as_pairs(train), as_pairs(val), epochs)


def loss_keys(scalars: Scalars) -> List[str]:
    """The loss curves of a run: ``loss`` first, then ``loss_*`` sorted."""
    keys = [k for k in scalars.train if k.startswith('loss')]
    return sorted(keys, key=lambda k: (k != 'loss', k))


def plot_curves(scalars: Scalars, out_file: str,
                train_keys: Sequence[str] = (),
                val_keys: Sequence[str] = ('coco/bbox_mAP',
                                           'coco/bbox_mAP_50'),
                title: str = '', width_px: int = 900,
                height_px: int = 360) -> str:
    """Draw training curves (against the iteration, left) and validation
    metrics (against the epoch, right, one marker per evaluation) to a PNG.

    Args:
        scalars (Scalars): From :func:`load_scalars`.
        out_file (str): Output image path (its extension picks the format).
        train_keys (Sequence[str]): Training keys; empty: every loss
            (:func:`loss_keys`).
        val_keys (Sequence[str]): Validation metrics; those the log does not
            have are left out. Without any, only the left panel is drawn.
        title (str): Figure title.
        width_px, height_px (int): Size of the image in pixels (100 dpi).

    Returns:
        str: ``out_file``.

    Raises:
        KeyError: for a requested training key the log does not have, or
            when no training curve is left to draw (the message lists the
            available keys).
    """
    from matplotlib.figure import Figure  # no pyplot: no global state

    train_keys = list(train_keys) or loss_keys(scalars)
    missing = [k for k in train_keys if k not in scalars.train]
    if missing or not train_keys:
        raise KeyError(f'no training curve {missing or train_keys} in the '
                       f'log; it has {sorted(scalars.train)}')
    val_keys = [k for k in val_keys if k in scalars.val]
    ncols = 2 if val_keys else 1
    fig = Figure(figsize=(width_px / 100, height_px / 100), dpi=100)
    axes = fig.subplots(1, ncols, squeeze=False)
    ax = axes[0, 0]
    for key in train_keys:
        steps, values = zip(*scalars.train[key])
        ax.plot(steps, values, label=key, linewidth=1)
    ax.set_xlabel('iteration')
    ax.set_title('training')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if val_keys:
        ax = axes[0, 1]
        for key in val_keys:
            steps, values = zip(*scalars.val[key])
            ax.plot(steps, values, marker='o', label=key.split('/')[-1])
        ax.set_xlabel('epoch')
        ax.set_title('validation')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_file, dpi=100)
    return out_file


def mean_iter_times(scalars: Scalars) -> List[Tuple[int, float]]:
    """``(epoch, mean time per iteration in s)`` from the ``time`` curve,
    the first logged value of each epoch left out when the epoch has more
    (it includes the dataloader start-up, as in mmdet's
    ``analyze_logs.py cal_train_time``); all in epoch 1 for
    iteration-based training.

    Raises:
        KeyError: when the log has no ``time`` curve.
    """
    if 'time' not in scalars.train:
        raise KeyError('the log has no "time" curve')
    by_epoch: Dict[int, List[float]] = {}
    for step, value in scalars.train['time']:
        by_epoch.setdefault(scalars.epochs.get(step, 1), []).append(value)
    return [(epoch, sum(v[1:] or v) / len(v[1:] or v))
            for epoch, v in sorted(by_epoch.items())]
