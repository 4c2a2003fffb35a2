"""Planning: observe the runtime, compare fields, build the plan (pure apart from observe)."""
