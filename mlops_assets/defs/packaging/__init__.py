"""Packaging domain: the signed ONNX edge package, its parity check and the quality gate."""
