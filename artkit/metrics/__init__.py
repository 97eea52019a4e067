"""Metric helpers every evaluator shares: bootstrap intervals and per-sample F-beta."""
