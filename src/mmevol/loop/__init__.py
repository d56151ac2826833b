"""The closed loop (MLLM-DataEngine): a tiny VLM, Adaptive Bad-case Sampling, evaluation import,
Interactive Prompt Optimization and ``mmevol loop``'s rounds.

The offline world it trains and evaluates on lives in ``mmevol.world``. The modules that need
PyTorch (model, train, evaluate, run) are imported where used, so the rest of mmevol works
without it.
"""
