"""Rollouts: drive any policy against real tool endpoints and record every step as a trace."""

from .policy import Policy, PolicyTurn, ToolCallRequest

__all__ = ["Policy", "PolicyTurn", "ToolCallRequest"]
