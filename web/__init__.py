"""postroom over HTTP: `postroom serve` (Starlette on uvicorn)."""
