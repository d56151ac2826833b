"""mmevol: evolve image-instruction data (MMEvol) and close the loop (MLLM-DataEngine)."""

__version__ = "0.1.0"
