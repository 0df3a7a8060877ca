"""Plots and reports drawn from results the other parts return (no recomputation)."""
