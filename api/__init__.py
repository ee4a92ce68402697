"""The FastAPI web layer: thin routes and pages over the hggis library."""
