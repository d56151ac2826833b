"""Test tooling that ships so users can test their own pipelines against it.

``fake`` is a fake model whose answers are correct or wrong by a known ledger; ``server`` serves
it as an OpenAI-compatible HTTP server with fault injection (``mmevol fake-server``), ``batch``
adds the Batch API, ``limits`` makes it a rate-limited provider, ``wire`` is what they share of
the wire format, and ``adversary*`` is a model that writes plausible false evolutions.
"""
