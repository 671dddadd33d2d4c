# mmdeploy 1.3.1 deploy config: yolox_mm detector -> TensorRT engine with
# dynamic input 320-1344 px (multiples of 32), batch 1. Needs a CUDA GPU,
# TensorRT 8.x and mmdeploy's TensorRT ops (NMS is
# mmdeploy::TRTBatchedNMS). Not tested in this repository (no GPU).
_base_ = ['./detection_onnxruntime_dynamic.py']

backend_config = dict(
    type='tensorrt',
    common_config=dict(fp16_mode=False, max_workspace_size=1 << 30),
    model_inputs=[
        dict(
            input_shapes=dict(
                input=dict(
                    min_shape=[1, 3, 320, 320],
                    opt_shape=[1, 3, 640, 640],
                    max_shape=[1, 3, 1344, 1344])))
    ])
