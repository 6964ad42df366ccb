"""The ONNX Runtime engine: load an exported model folder and draw with it (numpy + onnxruntime only).

    from sketchgen.engine import load_model
    model = load_model("sheep")                     # a folder, or a name under assets/models/
    sketches = model.sample(n=4, temperature=0.5, seed=1)

See docs/engine.md for the API and the model-folder contract.
"""
from .model import SketchModel, load_model

__all__ = ["SketchModel", "load_model"]
