# mmdeploy 1.3.1 deploy config: yolox_mm detector -> TensorRT engine, static
# 1 x 3 x 640 x 640 (YOLOX-s/m/l/x; for nano/tiny at 416 change the three
# shapes below). Needs a CUDA GPU, TensorRT 8.x and mmdeploy's TensorRT ops
# (NMS is mmdeploy::TRTBatchedNMS). Not tested in this repository (no GPU).
_base_ = ['./detection_onnxruntime_static.py']

onnx_config = dict(input_shape=(640, 640))
backend_config = dict(
    type='tensorrt',
    common_config=dict(fp16_mode=False, max_workspace_size=1 << 30),
    model_inputs=[
        dict(
            input_shapes=dict(
                input=dict(
                    min_shape=[1, 3, 640, 640],
                    opt_shape=[1, 3, 640, 640],
                    max_shape=[1, 3, 640, 640])))
    ])
