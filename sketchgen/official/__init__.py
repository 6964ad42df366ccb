"""The official sketch-rnn models (the sketch-rnn-js JSON format) in SketchGen, and SketchGen's models out to it.

The paper's authors published about 100 pretrained models for the official JavaScript demos, each a JSON file of
int16 weights. :mod:`.jsformat` reads and writes that format (bounded, every shape checked), :mod:`.reference` is an
independent numpy copy of the official loader's arithmetic (the parity reference), :mod:`.catalogue` names the
published models and where they live, :mod:`.fetch` downloads one, and :mod:`.convert` turns one into a model folder
the engine loads, built from the weights with :mod:`sketchgen.graphs` (no TensorFlow) and proven equal to the
reference before anything is written. numpy + onnx + onnxruntime only, so the app imports too.
"""
