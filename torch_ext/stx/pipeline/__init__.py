"""The main job: active sampling -> SCR2Net training -> evaluation -> report (see docs/pipeline.md)."""
