"""Where the repository, the fixture models and the digits example are."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "models"
EXAMPLE = REPO / "examples" / "digits" / "digits_cnn.onnx"
