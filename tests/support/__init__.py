"""Code the test modules share. A test module imports from here (and takes conftest.py's
fixtures), never from another test module: tests/test_import_rules.py checks it.

  paths          the repository, the fixture models, the digits example
  compare        comparisons that name the first mismatching element
  sanitize       a compiled model built and run under ASan+UBSan
  oracles        onnxruntime: a model's outputs; sessions at an optimization level
  qdq            QDQ int8 models against onnxruntime (sessions, int8 inputs and outputs)
  random_graphs  hypothesis strategy of random float32 ONNX graphs, and their oracle
  s8_cases       int8 conv/depthwise/fc layer cases: strategies, case builders, requant arrays
  s8_kernels     calling the int8 conv/depthwise/fc C kernels through cffi
  f32_bounds     float32 summation error bounds, clamp checks and data for the float kernels
  f32_ulp        float32 bit-pattern data, sweeps and ulp errors for the element-wise kernels
  byte_tensors   data, buffers and byte comparison for the byte-moving kernels
  qemu_harness   kernels in a bare-metal firmware on the emulated mps2-an386 (QEMU)
  tflite_models  small int8 .tflite models built in Python
  tflite_oracle  TensorFlow Lite Micro as the oracle of .tflite models
  hostile_models the corpus of broken and mutated model files
"""
