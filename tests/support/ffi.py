"""cffi helpers shared by the kernel tests."""


def struct_fields(ffi, ctype) -> set[str]:
    """The field names of the C struct type `ctype`."""
    return {name for name, _ in ffi.typeof(ctype).fields}
