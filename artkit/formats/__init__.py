"""artkit's versioned file formats, one owner each: the model card inside exported ONNX
files and a run's ``config.json``."""
