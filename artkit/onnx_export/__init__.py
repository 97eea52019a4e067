"""Exporting a trained run to one self-contained ONNX file (graph + artkit metadata),
checking it against the original framework, and quantizing it to int8."""
