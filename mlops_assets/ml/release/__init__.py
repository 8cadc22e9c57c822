"""From a trained run to a served champion: ONNX export, the signed edge package registered as
challenger, parity with the PyTorch model, and the quality gate that promotes it."""
