"""The C runtime kernels, shipped as package data and copied into generated projects."""
