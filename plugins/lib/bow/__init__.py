"""The pieces of the bag-of-visual-words model (`plugins/bow_svm.py`), one job per module:

- `descriptors`: extractor options, the per-image descriptor cache, parallel extraction;
- `vocabulary`: sampling training descriptors and fitting the k-means vocabulary;
- `encoding`: word assignment, histograms, spatial pyramid and normalisation;
- `svm`: the grid-searched, calibrated one-vs-rest RBF SVM;
- `onnx_graph`: the whole descriptors -> scores pipeline as one ONNX graph.
"""
