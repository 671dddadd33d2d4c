"""yolox_mm and mmdet 3.3.0's YOLOX trained with the same config, seed and
schedule, both evaluated, their bbox mAPs in one table.

Modules: :mod:`.config_walk` (the one config-tree visitor),
:mod:`.derive` (the mmdet config derived from ours), :mod:`.run_config`
(the configs of the runs), :mod:`.runs` (the training and test
subprocesses), :mod:`.run_logs` (metrics from the json logs) and
:mod:`.report` (the tables). The CLI is
``tools/analysis_tools/side_by_side.py``.

CONFIG (the CLI's first argument) defaults to
``configs/yolox_nano_1xb4-200e_deepforest.py`` (the tree-crown split).
Every run (one implementation and one seed) is:

1. **Config.** Our config is loaded and ``--cfg-options`` are merged into it,
   then ``randomness.seed`` is set to the seed. That is the config of the
   ``ours`` run. The config of the ``mmdet`` run is *derived from it by
   code* (:func:`.derive.derive_mmdet_config`), never copied by hand. The
   derivation maps our registered components to mmdet's
   (:data:`.derive.TYPE_MAP`), renames or drops the arguments mmdet's
   classes do not take, drops our components mmdet has no equivalent of
   (:data:`.derive.DROP_TYPES`), sets ``default_scope='mmdet'`` and removes
   the ``yolox_mm`` import. It prints every change. If a yolox_mm-only
   type is left, it raises :class:`.derive.YoloxMMOnlyTypeError`, which
   names the type. Both configs are written to
   ``<work-dir>/configs/<impl>_seed<S>.py``, so you can diff them.
2. **Training** runs in a subprocess with ``OMP_NUM_THREADS`` and
   ``MKL_NUM_THREADS`` set to ``--threads``. Ours runs through
   ``tools/train.py``. mmdet's runs through a small mmengine ``Runner``
   entry (``tools/analysis_tools/mmdet_worker.py``) that never imports
   yolox_mm. The entry checks this after training and records it in
   ``worker.json``.
   Work dir: ``<work-dir>/<impl>_seed<S>/``.
3. **Evaluation.** A second subprocess (``tools/test.py`` for ours, the
   worker for mmdet) tests the final checkpoint (``last_checkpoint``) on
   the config's ``test_dataloader``. For the tree config that is the val split,
   with ``CocoMetric`` bbox. **Evaluated weights: the EMA weights, for both.**
   mmengine's ``EMAHook`` saves the EMA parameters as the checkpoint's
   ``state_dict`` (the raw ones go to ``ema_state_dict``). When the checkpoint
   is loaded for testing, it copies that ``state_dict`` into its EMA model as
   well, and it swaps the EMA model in for val/test. The in-training val curve
   in the json log evaluates the EMA weights too, so its last point equals the
   test metrics. The table checks this ("= final val"). There is deliberately
   no in-process ``runner.test()`` after ``runner.train()``: its second
   ``before_run`` would rebuild the EMA model from the raw weights.
4. **Metrics** are parsed from the json logs, never from stdout. The test
   metrics come from ``test/<timestamp>/<timestamp>.json``. The val curve
   comes from ``<timestamp>/vis_data/<timestamp>.json``. Each run writes a
   ``result.json``.

Output: a table with the columns impl, seed, bbox mAP, mAP@0.5, train wall
time and s/epoch, then the mean and spread (max - min) over seeds per
implementation. If the config evaluates periodically (e.g. with
``--cfg-options train_cfg.val_interval=10``), two more tables follow. The
first gives, per run, the mean, standard deviation and range of the last
``--noise-evals`` val evaluations. The std and range are the eval-to-eval
fluctuation; the mean is a less noisy figure than the final evaluation
alone. The second gives the mean of those means per implementation. The
val curves (mAP@0.5 and bbox mAP per evaluated epoch) come last.
Everything is printed and also written as markdown to
``<work-dir>/side_by_side.md``.

Wall time is the wall time of the training subprocess: start-up, data
loading and the val evaluations are included. s/epoch = wall time / epochs.
Use ``--jobs 2`` to run two trainings at a time.

``--smoke`` tests the machinery in well under a minute of training. It uses
2 epochs on 2 training images, 2 val images, the mode switch before the
second epoch, and ``work_dirs/side_by_side_smoke``. Its numbers mean
nothing.

``--reuse`` skips a run whose ``result.json`` exists and was made from the
same config text. Use it to add a seed to an earlier comparison.
``--table-only`` runs nothing and makes the table from the ``result.json``
files of the listed runs. ``--derive-only`` only writes the two configs
and prints the derivation.

Use unprefixed type names in the mmdet config, as :data:`.derive.TYPE_MAP`
does.
``type='mmdet.Mosaic'`` builds the same class, but mmdet's
``MultiImageMixDataset`` then no longer turns Mosaic off in the last
epochs. :func:`.derive.check_skip_types` refuses such a config.

Known semantic difference that the config cannot express: our
``YOLOXModeSwitchHook`` switches for exactly ``num_last_epochs`` epochs,
while mmdet's switches one epoch earlier (``(epoch + 1) >= max_epochs -
num_last_epochs``). See that hook's docstring. Both runs use the same
``num_last_epochs``.
"""
