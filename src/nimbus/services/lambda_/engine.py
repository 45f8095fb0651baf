"""Alias module: ``from nimbus.services.lambda_.engine import lambda_engine`` (see ``invoke`` for the API)."""

from nimbus.services.lambda_.invoke import Invocation, LambdaEngine, lambda_engine

__all__ = ["Invocation", "LambdaEngine", "lambda_engine"]
