import pytest

from firmnet import cbuild


@pytest.fixture(scope="session")
def runtime():
    """All runtime_c kernels in one cffi module, compiled once per session (cached by content)."""
    return cbuild.runtime_extension()
