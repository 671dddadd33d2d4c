"""Analysis, benchmarking and visualisation helpers behind ``tools/analysis_tools/`` and
``demo/video_demo.py`` (docs/tools.md).

Not imported by ``import yolox_mm`` (matplotlib, cv2 drawing); import the
modules directly:

- :mod:`.log_curves`: loss and mAP curves from a work dir's
  ``vis_data/scalars.json``;
- :mod:`.complexity`: FLOPs and parameters at a fixed input shape
  (mmengine's ``get_model_complexity_info``);
- :mod:`.assignment`: the priors SimOTA makes positive for each GT, with
  their dynamic k, and the picture of it;
- :mod:`.video`: detections on every frame of a video or a webcam;
- :mod:`.confusion`: confusion matrix (mmdet's counting) and its picture;
- :mod:`.drawing`: detections drawn with mmdet's ``DetLocalVisualizer``;
- :mod:`.samples`: one annotated image as the network sees it at test
  time;
- :mod:`.mmdet_tools`: mmdet's own tool scripts (shipped in the mmdet
  wheel under ``mmdet/.mim/tools``), run as they are;
- :mod:`.readme_pictures`: the README pictures from a finished work dir;
- :mod:`.benchmark`: speed and memory of ours against mmdet 3.3.0, section
  by section (``tools/analysis_tools/benchmark.py``, docs/benchmarks.md);
- :mod:`.side_by_side`: the same training with our components and with
  mmdet's (``tools/analysis_tools/side_by_side.py``, docs/side_by_side.md).
"""
