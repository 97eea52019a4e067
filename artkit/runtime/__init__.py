"""Running exported models without TensorFlow: ONNX metadata, onnxruntime sessions,
input expansion and the overlapped decode/inference pipeline."""
