"""Speed, memory and throughput measurements behind ``tools/benchmark.py``
(importable so that tests and notebooks can run single cases)."""
