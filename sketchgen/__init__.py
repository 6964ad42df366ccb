"""SketchGen shared core: stroke formats, data files, the ONNX Runtime engine. Imports neither TensorFlow nor Qt."""
