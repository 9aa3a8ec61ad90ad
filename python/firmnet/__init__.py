"""firmnet: compile trained, compressed neural networks into dependency-free C."""
__version__ = "0.1.0"

from . import reference  # noqa: E402  (firmnet.reference.run is part of the API)
from .compiler import CompiledModel, compile  # noqa: E402
from .frontend import load  # noqa: E402
from .ir import FirmnetError  # noqa: E402

__all__ = ["CompiledModel", "FirmnetError", "compile", "load", "reference", "__version__"]
