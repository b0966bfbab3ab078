"""The Dagster layer: resources, assets, checks, jobs and schedules that wire `pipelines`.

Nothing here holds logic worth testing on its own; asset bodies call one `pipelines` function.
"""
