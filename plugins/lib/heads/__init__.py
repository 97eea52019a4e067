"""Heads that train in seconds on a frozen ImageNet backbone: pooled features (embeddings)
extracted once per image and cached, then logistic regression (`linear-probe`) or cosine
k-nearest neighbours (`knn`); both export as one ONNX graph, backbone plus head."""
