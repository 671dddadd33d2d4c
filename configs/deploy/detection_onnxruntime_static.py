# mmdeploy 1.3.1 deploy config: yolox_mm detector -> ONNX for onnxruntime,
# static input shape (the shape of the test pipeline's output: 416 x 416 for
# nano/tiny, 640 x 640 for s/m/l/x) and batch 1.
# Self-contained: mmdeploy's wheel ships no configs/ to inherit from.
# `module` imports (registers) our rewriters in every mmdeploy process.
# Outputs: dets [1, K, 5] (x1, y1, x2, y2 in input pixels, score) and
# labels [1, K], K <= keep_top_k (padding rows have score 0).
# Thresholds: the model's test_cfg (score_thr, nms.iou_threshold,
# max_per_img) wins over post_processing (score_threshold, iou_threshold,
# keep_top_k), as in mmdeploy for mmdet's YOLOX.
onnx_config = dict(
    type='onnx',
    export_params=True,
    keep_initializers_as_inputs=False,
    opset_version=11,
    save_file='end2end.onnx',
    input_names=['input'],
    output_names=['dets', 'labels'],
    input_shape=None,
    optimize=True)
codebase_config = dict(
    type='mmdet',
    task='ObjectDetection',
    model_type='end2end',
    module=['yolox_mm.deploy.mmdeploy_plugin'],
    post_processing=dict(
        score_threshold=0.05,
        confidence_threshold=0.005,
        iou_threshold=0.5,
        # per class, after NMS; >= keep_top_k of the densest config (300)
        max_output_boxes_per_class=300,
        pre_top_k=5000,
        keep_top_k=100,
        background_label_id=-1))
backend_config = dict(type='onnxruntime')
