# mmdeploy 1.3.1 deploy config: as detection_onnxruntime_static.py with
# dynamic batch, height and width (multiples of 32) and number of boxes.
_base_ = ['./detection_onnxruntime_static.py']

onnx_config = dict(
    dynamic_axes=dict(
        input=dict({
            0: 'batch',
            2: 'height',
            3: 'width'
        }),
        dets=dict({
            0: 'batch',
            1: 'num_dets'
        }),
        labels=dict({
            0: 'batch',
            1: 'num_dets'
        })))
