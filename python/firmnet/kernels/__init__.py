"""The C kernel variants: parameter structs, weight packing, and (in time) selection."""
