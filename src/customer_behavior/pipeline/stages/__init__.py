"""One module per pipeline stage: each a `stage_*(ctx: RunContext) -> None` that reads what the earlier stages put in the context, runs its transforms, writes its tables and records its results."""
