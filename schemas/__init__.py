"""pandera (polars) models, one per stored table. Imports pandera and polars only, never dagster."""
