"""Inference: a trained run used (predict) or exported and verified (ONNX, torch.export).

- ``export``: export to ONNX or PT2, verified against onnxruntime
- ``predict``: predictions for new inputs (files, folders, tables)
"""
