"""Analyses: what the migrations do to real data (replay, impact, batches, diff, checks,
lint, rollback), each returning DataFrames or plain results."""
